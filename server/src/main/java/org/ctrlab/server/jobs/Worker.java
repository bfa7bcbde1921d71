package org.ctrlab.server.jobs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.ctrlab.api.v1.EpochNorms;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.NormSummary;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.StateChange;
import org.ctrlab.api.v1.StepNorms;
import org.ctrlab.server.data.DataFormatException;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.store.ProgressStore;
import org.ctrlab.server.store.RunStore;
import org.ctrlab.server.train.RunExecutor;
import org.ctrlab.server.train.RunFailure;
import org.ctrlab.server.train.TrainListener;
import org.ctrlab.server.train.TrainState;
import org.ctrlab.server.train.Trainer;

/**
 * One attempt of one run, in a process of its own: loads the dataset (its columnar cache), builds the model, goes
 * on from the run's last completed epoch if it has one, and trains, writing each epoch's state file and then, in
 * one store transaction, the epoch's record and event. Every write is fenced: it happens only while the stored run
 * is RUNNING under this attempt, so a worker the server has given up on can never overwrite a newer attempt or a
 * cancellation. The worker writes SUCCEEDED itself, and FAILED for a failure of the run's own (bad data, a diverging
 * loss); a crash is the launcher's to see and the server's to retry.
 */
public final class Worker {
  /** Exit codes; the launcher turns any other into words ({@link LocalLauncher#describe}). */
  public static final int EXIT_DONE = 0;
  public static final int EXIT_CRASH = 1;
  public static final int EXIT_RUN_FAILED = 2;
  /** The JVM's own code for -XX:+ExitOnOutOfMemoryError. */
  public static final int EXIT_OUT_OF_MEMORY = 3;
  public static final int EXIT_STALE = 4;
  public static final int EXIT_ORPHANED = 5;

  private static final long PROGRESS_INTERVAL_MS = 500;

  /** The stored run is no longer this attempt's (cancelled, or handed to another attempt). */
  static final class StaleException extends RuntimeException {
    StaleException(String runId, int attempt) {
      super("run " + runId + " is no longer running as attempt " + attempt);
    }
  }

  private final RunStore store;
  private final DatasetRegistry datasets;
  private final Path runDir;
  private final String runId;
  private final int attempt;
  private int claim;
  private final int threads;
  private final String device;

  public Worker(RunStore store, DatasetRegistry datasets, Path runDir, String runId, int attempt, int threads,
      String device) {
    this.store = store;
    this.datasets = datasets;
    this.runDir = runDir;
    this.runId = runId;
    this.attempt = attempt;
    this.threads = threads;
    this.device = device;
  }

  /** A run's folder: state files, the best checkpoint, the worker log. */
  public static Path dir(Path runDir, String runId) {
    return runDir.resolve(runId);
  }

  static Path stateFile(Path dir, int epoch) {
    return dir.resolve("state-" + epoch + ".bin");
  }

  /** Runs the attempt and returns the process's exit code. */
  public int run() throws SQLException {
    long t0 = System.nanoTime();
    Run run;
    try {
      // Claim the run: a second start of the same attempt (a requeued cluster job) takes over from the first.
      Optional<Run> claimed = store.update(runId, r -> r.getState() != RunState.RUNNING || r.getAttempt() != attempt
          ? null : r.toBuilder().setClaim(r.getClaim() + 1).setDevice(device).build());
      if (claimed.isEmpty()) {
        throw new StaleException(runId, attempt);
      }
      claim = claimed.get().getClaim();
      run = fenced(r -> r, log("worker " + ProcessHandle.current().pid() + " on " + LocalLauncher.hostName() + " started (attempt "
          + attempt + (claim > 1 ? ", start " + claim : "") + ", " + threads + " threads, " + device + ")"));
    } catch (StaleException e) {
      System.err.println("ctrlab worker: " + e.getMessage());
      return EXIT_STALE;
    }
    try {
      ResolvedConfig c = run.getResolved();
      if (c.getBf16() && org.ctrlab.server.Devices.bf16().isEmpty()) {
        // The server checked its own CPU; a worker on another node (a cluster) may not have the same.
        throw new RunFailure("bf16: " + org.ctrlab.server.Devices.noBf16Reason().replace("this server's",
            "the CPU of " + LocalLauncher.hostName() + ",") + "; run it in float32");
      }
      Dataset ds = datasets.load(c.getDataset());
      long tData = System.nanoTime();
      Path dir = dir(runDir, runId);
      org.ctrlab.server.files.PrivateFiles.createDirectories(dir);
      TrainState resume = resumeState(run, dir);
      try (CtrModel model = new CtrModel(RunExecutor.modelConfig(c, threads), ds)) {
        long tGraph = System.nanoTime();
        String timing = String.format("data %.2f s, graph %.2f s", (tData - t0) / 1e9, (tGraph - tData) / 1e9);
        if (resume == null) {
          fenced(r -> r.toBuilder().setParameters(model.trainableScalars()).build(), log("data: " + ds.describe()),
              log(String.format("model: %s with the %s head, %,d trainable parameters, %s (%s)", c.getBackbone(),
                  c.getHead(), model.trainableScalars(), model.towers() > 1 ? "training steps in " + model.towers()
                  + " towers of one thread" : "training steps in one tower", timing)));
        } else {
          fenced(r -> r, log(String.format("resumed at epoch %d from the checkpoint of epoch %d (attempt %d, %s)",
              resume.epochsDone() + 1, resume.epochsDone(), attempt, timing)));
        }
        Trainer.Outcome o = Trainer.train(model, ds, DataSplit.of(ds.rows, c.getSeed()), RunExecutor.settings(c),
            new Listener(dir, t0), resume);
        CtrModel.save(dir.resolve("checkpoint.bin"), model.checkpointParams(), o.best());
        // Every file the finished run keeps (checkpoint, log) and the folder's entries reach the disk before the
        // store says SUCCEEDED: after that the epoch states, which could rebuild them, are deleted.
        org.ctrlab.server.files.Durable.forceFolder(dir);
        store.artifacts().put(runId, "inspect", inspectRecord(o, model.weightNorms(o.best())).toByteArray());
        String msg = String.format("test AUC %.4f, LogLoss %.4f (best epoch %d of %d)", o.test().auc(),
            o.test().logloss(), o.bestEpoch(), o.epochs().size());
        fenced(r -> r.toBuilder().setState(RunState.SUCCEEDED).setMessage(msg).setBestEpoch(o.bestEpoch())
            .setValid(RunExecutor.metrics(o.valid())).setTest(RunExecutor.metrics(o.test()))
            .setSecondsPerEpoch(o.secondsPerEpoch()).setFinishedUnixMs(System.currentTimeMillis())
            .setTotalSeconds((System.currentTimeMillis() - r.getStartedUnixMs()) / 1e3).build(),
            state(RunState.SUCCEEDED, msg));
        deleteStates(dir, Integer.MAX_VALUE);
        return EXIT_DONE;
      }
    } catch (StaleException e) {
      System.err.println("ctrlab worker: " + e.getMessage());
      return EXIT_STALE;
    } catch (RunFailure | IllegalArgumentException | DataFormatException | DatasetRegistry.MissingException e) {
      String msg = e.getMessage() == null ? e.toString() : e.getMessage();
      System.err.println("ctrlab worker: the run failed: " + msg);
      try {
        fenced(r -> r.toBuilder().setState(RunState.FAILED).setMessage(msg)
            .setFinishedUnixMs(System.currentTimeMillis()).build(), state(RunState.FAILED, msg));
      } catch (StaleException stale) {
        return EXIT_STALE;
      }
      return EXIT_RUN_FAILED;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The state to go on from: that of the run's last recorded epoch, or none for a fresh start. */
  private TrainState resumeState(Run run, Path dir) throws IOException, SQLException {
    int done = run.getEpochsCount();
    for (int k = done; k > 0; k--) {
      Path f = stateFile(dir, k);
      if (Files.isRegularFile(f)) {
        TrainState s = TrainState.load(f);
        if (k < done) {
          // The newer states are lost (a disk error, say): forget the epochs after this one and train them again.
          int keep = k;
          fenced(r -> r.toBuilder().clearEpochs().addAllEpochs(r.getEpochsList().subList(0, keep)).build(),
              log("no state file for epoch " + done + "; going on from epoch " + k));
        }
        deleteStates(dir, k);
        return s;
      }
    }
    if (done > 0) {
      fenced(r -> r.toBuilder().clearEpochs().build(), log("no state file of any epoch; starting again"));
    }
    deleteStates(dir, 0);
    return null;
  }

  /** Removes state files other than that of epoch keep (all when keep is 0 or past every epoch). */
  private static void deleteStates(Path dir, int keep) throws IOException {
    deleteFiles(dir, n -> n.startsWith("state-") && !n.equals("state-" + keep + ".bin"));
  }

  /**
   * Removes what a finished run's folder no longer needs: its epoch states (only a run that goes on resumes from
   * them; one cancelled, failed or killed before its own clean-up keeps them) and the temporary files of writes cut
   * short (a full disk). The checkpoint and the log stay. Returns how many files went.
   */
  public static int removeLeftovers(Path dir) throws IOException {
    return deleteFiles(dir, n -> n.startsWith("state-") || n.endsWith(org.ctrlab.server.files.Durable.TMP_SUFFIX));
  }

  private static int deleteFiles(Path dir, java.util.function.Predicate<String> name) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    int removed = 0;
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        if (name.test(p.getFileName().toString()) && Files.isRegularFile(p) && Files.deleteIfExists(p)) {
          removed++;
        }
      }
    }
    return removed;
  }

  private final class Listener implements TrainListener {
    private final Path dir;
    private final long started;
    private long lastProgress;
    private boolean stepped;

    Listener(Path dir, long started) {
      this.dir = dir;
      this.started = started;
    }

    @Override
    public boolean wantsState() {
      return true;
    }

    @Override
    public void log(String line) {
      fencedUnchecked(r -> r, Worker.log(line));
    }

    @Override
    public void batch(int epoch, int batch, int batches) {
      if (!stepped) {
        stepped = true;
        long jvm = java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
        fencedUnchecked(r -> r, Worker.log(String.format(java.util.Locale.ROOT, "first training step done %.2f s"
            + " after the worker's JVM started (%.2f s after it began loading)", (System.currentTimeMillis() - jvm)
            / 1e3, (System.nanoTime() - started) / 1e9)));
      }
      long now = System.currentTimeMillis();
      if (now - lastProgress >= PROGRESS_INTERVAL_MS || batch == batches) {
        lastProgress = now;
        try {
          store.progress().put(new ProgressStore.Progress(runId, attempt, epoch, batch, batches, now));
        } catch (SQLException e) {
          // live progress only; the epoch record is what counts
        }
      }
    }

    @Override
    public void epoch(EpochResult e, double[][] norms, TrainState state) {
      try {
        state.save(stateFile(dir, e.getEpoch()));
      } catch (IOException ex) {
        throw new java.io.UncheckedIOException("cannot write the state of epoch " + e.getEpoch(), ex);
      }
      fencedUnchecked(r -> r.getEpochsCount() != e.getEpoch() - 1 ? null : r.toBuilder().addEpochs(e).build(),
          RunEvent.newBuilder().setEpoch(e).build());
      try {
        deleteStates(dir, e.getEpoch());
      } catch (IOException ex) {
        // an old state file left behind costs disk only; the next epoch tries again
      }
    }
  }

  /**
   * Applies a change to the run and appends events, if the run is still RUNNING as this attempt and this process
   * is its latest claimant; otherwise throws {@link StaleException} and writes nothing.
   */
  private Run fenced(UnaryOperator<Run> change, RunEvent... events) throws SQLException {
    Optional<Run> r = store.update(runId, cur -> cur.getState() != RunState.RUNNING || cur.getAttempt() != attempt
        || cur.getClaim() != claim ? null : change.apply(cur), events);
    if (r.isEmpty()) {
      throw new StaleException(runId, attempt);
    }
    return r.get();
  }

  private void fencedUnchecked(UnaryOperator<Run> change, RunEvent... events) {
    try {
      fenced(change, events);
    } catch (SQLException e) {
      throw new IllegalStateException("run store: " + e.getMessage(), e);
    }
  }

  public static RunEvent log(String line) {
    return RunEvent.newBuilder().setLog(line).build();
  }

  public static RunEvent state(RunState s, String msg) {
    return RunEvent.newBuilder().setState(StateChange.newBuilder().setState(s).setMessage(msg)).build();
  }

  static InspectResponse inspectRecord(Trainer.Outcome o, double[] weightNorms) {
    InspectResponse.Builder b = InspectResponse.newBuilder();
    List<String> groups = CtrModel.GROUPS;
    for (int ep = 0; ep < o.gradients().perEpoch().size(); ep++) {
      EpochNorms.Builder en = EpochNorms.newBuilder().setEpoch(ep + 1);
      double[][] s = o.gradients().perEpoch().get(ep);
      for (int g = 0; g < groups.size(); g++) {
        en.addGradient(NormSummary.newBuilder().setGroup(groups.get(g)).setMean(s[g][0]).setMax(s[g][1]));
      }
      b.addEpochs(en);
    }
    float[] steps = o.gradients().perStep();
    for (int st = 0; st < o.gradients().steps(); st++) {
      StepNorms.Builder sn = StepNorms.newBuilder().setStep(st + 1);
      for (int g = 0; g < groups.size(); g++) {
        sn.putGradient(groups.get(g), steps[st * groups.size() + g]);
      }
      b.addSteps(sn);
    }
    for (int g = 0; g < groups.size(); g++) {
      b.putWeightNorms(groups.get(g), weightNorms[g]);
    }
    return b.build();
  }
}
