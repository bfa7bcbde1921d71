package org.ctrlab.server.service;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.ctrlab.api.v1.BatchProgress;
import org.ctrlab.api.v1.EpochNorms;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.Metrics;
import org.ctrlab.api.v1.LipschitzEstimate;
import org.ctrlab.api.v1.NormSummary;
import org.ctrlab.api.v1.PerturbMode;
import org.ctrlab.api.v1.PerturbResult;
import org.ctrlab.api.v1.PredictBatch;
import org.ctrlab.api.v1.Prediction;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.Split;
import org.ctrlab.api.v1.StateChange;
import org.ctrlab.api.v1.StepNorms;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.StudyRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.experiments.Perturbation;
import org.ctrlab.server.experiments.Ranking;
import org.ctrlab.server.experiments.StudyStats;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.store.RunStore;
import org.ctrlab.server.train.RunExecutor;
import org.ctrlab.server.train.TrainListener;
import org.ctrlab.server.train.Trainer;

/**
 * The run queue of a shared box: accepts runs, executes them in submission order on a fixed number of workers (one
 * by default, so runs never compete for the cores), records everything in the {@link RunStore}, and fans events out
 * to watchers. After a restart, queued runs are queued again and runs that were running are marked FAILED.
 */
public final class RunManager implements AutoCloseable {
  private static final long PROGRESS_INTERVAL_MS = 250;

  /** A watcher of one run's events. */
  public interface Watcher {
    void event(RunEvent e);

    void done();
  }

  private final RunStore store;
  private final DatasetRegistry datasets;
  private final RunConfigs configs;
  private final Path runDir;
  private final int threads;
  private final String device;
  private final int workers;
  private final ExecutorService pool;
  private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
  private final Map<String, Boolean> cancelFlags = new ConcurrentHashMap<>();
  private final Map<String, List<Watcher>> watchers = new HashMap<>();
  private final Map<String, Long> lastIndex = new HashMap<>();
  private final Object eventLock = new Object();
  private final Map<String, CtrModel> models = new LinkedHashMap<>(4, 0.75f, true);
  private volatile boolean closed;

  public RunManager(RunStore store, DatasetRegistry datasets, RunConfigs configs, Path runDir, int workers,
      int threads, String device) {
    this.store = store;
    this.datasets = datasets;
    this.configs = configs;
    this.runDir = runDir;
    this.workers = workers;
    this.threads = threads;
    this.device = device;
    this.pool = Executors.newFixedThreadPool(workers, r -> {
      Thread t = new Thread(r, "ctrlab-worker");
      t.setDaemon(true);
      return t;
    });
  }

  /** Recovers the queue from the store and starts the workers. */
  public void start() throws SQLException {
    for (Run r : store.inState(RunState.RUNNING)) {
      finish(r.toBuilder(), RunState.FAILED, "the server stopped while this run was running; submit it again");
    }
    for (Run r : store.inState(RunState.QUEUED)) {
      queue.add(r.getRunId());
    }
    for (int i = 0; i < workers; i++) {
      pool.submit(this::workLoop);
    }
  }

  public String device() {
    return device;
  }

  public int queueLength() {
    return queue.size();
  }

  public int workers() {
    return workers;
  }

  /** Validates and queues a run. Loads its dataset now, so bad data is reported to the caller. */
  public Run submit(TrainRequest req, String owner) throws SQLException {
    ResolvedConfig resolved = configs.resolve(req);
    datasets.load(resolved.getDataset());
    String id = newId();
    Run run = Run.newBuilder().setRunId(id).setOwner(owner).setRequest(req).setResolved(resolved)
        .setState(RunState.QUEUED).setCreatedUnixMs(System.currentTimeMillis()).setDevice(device).build();
    store.insert(run);
    publish(id, stateEvent(RunState.QUEUED, "queued"), true);
    queue.add(id);
    return run;
  }

  /**
   * Queues every run of a study grid. All requests are checked first, so a bad grid queues nothing. Returns the
   * study as stored (aggregates come from {@link #study}).
   */
  public Study startStudy(StudyRequest req, String owner) throws SQLException {
    if (req.getName().isBlank()) {
      throw new IllegalArgumentException("a study needs a name");
    }
    if (req.getBackbonesCount() == 0) {
      throw new IllegalArgumentException("a study needs at least one backbone");
    }
    List<Head> heads = req.getHeadsCount() == 0 ? List.of(Head.BINARY, Head.RATING) : req.getHeadsList();
    List<Long> seeds = req.getSeedsCount() == 0 ? List.of(2020L) : req.getSeedsList();
    String id = newId();
    List<TrainRequest> grid = new ArrayList<>();
    for (String backbone : req.getBackbonesList()) {
      for (long seed : seeds) {
        for (Head head : heads) {
          List<Double> weights = head != Head.RATING ? java.util.Collections.singletonList(null)
              : req.getRatingWeightsCount() > 0 ? req.getRatingWeightsList()
                  : java.util.Collections.singletonList(
                      configs.paperRatingWeight(backbone, req.getDataset()).orElse(null));
          for (Double w : weights) {
            TrainRequest.Builder t = req.getBase().toBuilder().setDataset(req.getDataset()).setBackbone(backbone)
                .setHead(head).setSeed(seed).addTags("study:" + id);
            if (w != null) {
              t.setRatingWeight(w);
            } else {
              t.clearRatingWeight();
            }
            if (t.getName().isEmpty()) {
              t.setName(req.getName());
            }
            grid.add(t.build());
          }
        }
      }
    }
    if (grid.size() > 500) {
      throw new IllegalArgumentException("a study of " + grid.size() + " runs is too large (at most 500)");
    }
    for (TrainRequest t : grid) {
      try {
        configs.resolve(t);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(t.getBackbone() + "/" + t.getHead() + ": " + e.getMessage());
      }
    }
    datasets.load(req.getDataset());
    Study.Builder st = Study.newBuilder().setStudyId(id).setName(req.getName()).setOwner(owner).setRequest(req)
        .setCreatedUnixMs(System.currentTimeMillis());
    List<Run> runs = new ArrayList<>();
    for (TrainRequest t : grid) {
      runs.add(submit(t, owner));
    }
    runs.forEach(r -> st.addRunIds(r.getRunId()));
    Study study = st.build();
    store.insertStudy(study);
    return study;
  }

  /** A study with its runs aggregated. */
  public Study study(String id) throws SQLException {
    Study s = store.study(id).orElseThrow(() -> new NotFoundException("no study with id '" + id + "'"));
    List<Run> runs = new ArrayList<>();
    for (String rid : s.getRunIdsList()) {
      runs.add(get(rid));
    }
    return s.toBuilder().setFinished(runs.stream().allMatch(r -> isFinal(r.getState())))
        .addAllRows(StudyStats.rows(runs)).addAllComparisons(StudyStats.comparisons(runs)).build();
  }

  public List<Study> studies(int limit) throws SQLException {
    return store.studies(limit <= 0 ? 50 : limit);
  }

  private static String newId() {
    return UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  public Run get(String runId) throws SQLException {
    return store.get(runId).orElseThrow(() -> new RunNotFoundException(runId));
  }

  public List<Run> list(ListRunsRequest f) throws SQLException {
    return store.list(f);
  }

  /** Position in the queue (0 = next or running). */
  public int position(String runId) {
    int i = 0;
    for (String id : queue) {
      if (id.equals(runId)) {
        return i;
      }
      i++;
    }
    return 0;
  }

  /** Cancels a queued run at once, a running one after its current batch. Final runs are returned unchanged. */
  public Run cancel(String runId, String by) throws SQLException {
    Run r = get(runId);
    if (r.getState() == RunState.QUEUED && queue.remove(runId)) {
      return finish(r.toBuilder(), RunState.CANCELLED, "cancelled by " + by + " before it started");
    }
    if (r.getState() == RunState.RUNNING || r.getState() == RunState.QUEUED) {
      cancelFlags.put(runId, true);
    }
    return get(runId);
  }

  /**
   * Sends a run's stored events from an index, then live ones until the run ends. Returns a handle that stops the
   * watch.
   */
  public Runnable watch(String runId, long from, Watcher w) throws SQLException {
    get(runId);
    synchronized (eventLock) {
      for (RunEvent e : store.events(runId, from)) {
        w.event(e);
      }
      RunState state = get(runId).getState();
      if (isFinal(state)) {
        w.done();
        return () -> {};
      }
      watchers.computeIfAbsent(runId, k -> new ArrayList<>()).add(w);
    }
    return () -> {
      synchronized (eventLock) {
        List<Watcher> l = watchers.get(runId);
        if (l != null) {
          l.remove(w);
        }
      }
    };
  }

  static boolean isFinal(RunState s) {
    return s == RunState.SUCCEEDED || s == RunState.FAILED || s == RunState.CANCELLED;
  }

  private void publish(String runId, RunEvent e, boolean stored) {
    synchronized (eventLock) {
      RunEvent out;
      if (stored) {
        try {
          out = store.appendEvent(runId, e.toBuilder().setUnixMs(System.currentTimeMillis()).build());
        } catch (SQLException ex) {
          throw new IllegalStateException("cannot store event of run " + runId, ex);
        }
        lastIndex.put(runId, out.getIndex());
      } else {
        out = e.toBuilder().setUnixMs(System.currentTimeMillis()).setIndex(lastIndex.getOrDefault(runId, 0L)).build();
      }
      List<Watcher> l = watchers.get(runId);
      if (l != null) {
        for (Watcher w : List.copyOf(l)) {
          try {
            w.event(out);
          } catch (RuntimeException ignored) {
            l.remove(w); // a watcher whose stream is gone
          }
        }
        if (e.hasState() && isFinal(e.getState().getState())) {
          for (Watcher w : l) {
            w.done();
          }
          watchers.remove(runId);
          lastIndex.remove(runId);
        }
      }
    }
  }

  private static RunEvent stateEvent(RunState s, String msg) {
    return RunEvent.newBuilder().setState(StateChange.newBuilder().setState(s).setMessage(msg)).build();
  }

  /**
   * Records a final state and publishes it under the event lock, so a watcher that starts meanwhile either sees the
   * state event in the replay or receives it live.
   */
  private Run finish(Run.Builder r, RunState state, String message) throws SQLException {
    Run done = r.setState(state).setMessage(message).setFinishedUnixMs(System.currentTimeMillis()).build();
    synchronized (eventLock) {
      store.update(done);
      try {
        publish(done.getRunId(), stateEvent(state, message), true);
      } finally {
        cancelFlags.remove(done.getRunId());
        lastIndex.remove(done.getRunId());
      }
    }
    return done;
  }

  private void workLoop() {
    while (!closed) {
      String id;
      try {
        id = queue.poll(200, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        return;
      }
      if (id != null) {
        try {
          execute(id);
        } catch (Throwable t) {
          // Never let one run's failure (a store error while recording it, say) stop the queue.
          System.err.println("ctrlab: run " + id + " could not be recorded: " + t);
        }
      }
    }
  }

  private void execute(String id) {
    Run.Builder r;
    try {
      Run current = get(id);
      if (current.getState() != RunState.QUEUED) {
        return;
      }
      r = current.toBuilder().setState(RunState.RUNNING).setStartedUnixMs(System.currentTimeMillis())
          .setDevice(device);
      synchronized (eventLock) {
        store.update(r.build());
        publish(id, stateEvent(RunState.RUNNING, "running on " + device), true);
      }
    } catch (SQLException | RuntimeException e) {
      return;
    }
    long t0 = System.nanoTime();
    try {
      if (Boolean.TRUE.equals(cancelFlags.get(id))) {
        throw new CancellationException("cancelled before it started");
      }
      ResolvedConfig c = r.getResolved();
      Dataset ds = datasets.load(c.getDataset());
      publish(id, log("data: " + ds.describe()), true);
      final Run.Builder rec = r;
      try (CtrModel model = new CtrModel(RunExecutor.modelConfig(c, threads), ds)) {
        rec.setParameters(model.trainableScalars());
        publish(id, log(String.format("model: %s with the %s head, %,d trainable parameters", c.getBackbone(),
            c.getHead(), model.trainableScalars())), true);
        Trainer.Outcome o = RunExecutor.train(model, ds, c, new TrainListener() {
          long lastProgress;

          @Override
          public void log(String line) {
            publish(id, RunManager.log(line), true);
          }

          @Override
          public void batch(int epoch, int batch, int batches) {
            long now = System.currentTimeMillis();
            if (now - lastProgress >= PROGRESS_INTERVAL_MS || batch == batches) {
              lastProgress = now;
              publish(id, RunEvent.newBuilder().setBatch(BatchProgress.newBuilder().setEpoch(epoch).setBatch(batch)
                  .setBatches(batches)).build(), false);
            }
          }

          @Override
          public void epoch(EpochResult e, double[][] norms) {
            rec.addEpochs(e);
            try {
              store.update(rec.build());
            } catch (SQLException ex) {
              throw new IllegalStateException(ex);
            }
            publish(id, RunEvent.newBuilder().setEpoch(e).build(), true);
          }

          @Override
          public boolean cancelled() {
            return closed || Boolean.TRUE.equals(cancelFlags.get(id));
          }
        });
        Path dir = runDir.resolve(id);
        Files.createDirectories(dir);
        CtrModel.save(dir.resolve("checkpoint.bin"), model.checkpointParams(), o.best());
        store.putArtifact(id, "inspect", inspectRecord(o, model.weightNorms(o.best())).toByteArray());
        rec.setBestEpoch(o.bestEpoch()).setValid(metrics(o.valid())).setTest(metrics(o.test()))
            .setSecondsPerEpoch(o.secondsPerEpoch()).setTotalSeconds((System.nanoTime() - t0) / 1e9);
        finish(rec, RunState.SUCCEEDED, String.format("test AUC %.4f, LogLoss %.4f (best epoch %d of %d)",
            o.test().auc(), o.test().logloss(), o.bestEpoch(), o.epochs().size()));
      }
    } catch (CancellationException e) {
      if (closed && !Boolean.TRUE.equals(cancelFlags.get(id))) {
        requeueAfterShutdown(r);
        return;
      }
      safeFinish(r.setTotalSeconds((System.nanoTime() - t0) / 1e9), RunState.CANCELLED,
          closed ? "the server stopped" : e.getMessage());
    } catch (Exception | Error e) {
      String msg = e.getMessage() == null ? e.toString() : e.getMessage();
      safeFinish(r.setTotalSeconds((System.nanoTime() - t0) / 1e9), RunState.FAILED, msg);
    }
  }

  /** A run interrupted by a graceful shutdown goes back to the queue and starts again after the restart. */
  private void requeueAfterShutdown(Run.Builder r) {
    try {
      Run back = r.clearEpochs().clearParameters().setState(RunState.QUEUED).setStartedUnixMs(0).build();
      store.update(back);
      publish(back.getRunId(), log("the server stopped; this run starts again from the beginning after a restart"),
          true);
      publish(back.getRunId(), stateEvent(RunState.QUEUED, "queued again after a server stop"), true);
    } catch (SQLException ignored) {
      // marked FAILED at the next start
    }
  }

  /** Finishes a run that failed or was cancelled, unless its stored record is already final (never downgraded). */
  private void safeFinish(Run.Builder r, RunState s, String msg) {
    try {
      if (isFinal(get(r.getRunId()).getState())) {
        return;
      }
      finish(r, s, msg);
    } catch (SQLException | RuntimeException ignored) {
      // the store is gone (shutdown); the run is marked FAILED at the next start
    }
  }

  private static RunEvent log(String line) {
    return RunEvent.newBuilder().setLog(line).build();
  }

  static Metrics metrics(Trainer.Evaluation e) {
    return Metrics.newBuilder().setAuc(e.auc()).setLogloss(e.logloss()).setRows(e.rows()).build();
  }

  private static InspectResponse inspectRecord(Trainer.Outcome o, double[] weightNorms) {
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

  /** The stored inspection record of a finished run. */
  public InspectResponse inspect(String runId, boolean perStep) throws SQLException {
    Run r = requireSucceeded(runId);
    byte[] data = store.artifact(r.getRunId(), "inspect").orElseThrow(
        () -> new IllegalStateException("run " + runId + " has no inspection record"));
    try {
      InspectResponse full = InspectResponse.parseFrom(data);
      return perStep ? full : full.toBuilder().clearSteps().build();
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt inspection record of run " + runId, e);
    }
  }

  private Run requireSucceeded(String runId) throws SQLException {
    Run r = get(runId);
    if (r.getState() != RunState.SUCCEEDED) {
      throw new IllegalStateException("run " + runId + " is " + r.getState() + "; only SUCCEEDED runs have a model");
    }
    return r;
  }

  /** AUC and LogLoss of a finished run's best checkpoint on a split, and sampled ranking metrics when ks given. */
  public Metrics evaluate(String runId, Split split, List<Integer> ks, int negatives, long rankingSeed)
      throws SQLException {
    Run r = requireSucceeded(runId);
    Dataset ds = datasets.load(r.getResolved().getDataset());
    DataSplit sp = DataSplit.of(ds.rows, r.getResolved().getSeed());
    synchronized (models) {
      CtrModel m = model(r, ds);
      Metrics.Builder b = metrics(Trainer.evaluate(m, ds, sp.rows(split), r.getResolved().getEvalBatchSize()))
          .toBuilder();
      if (!ks.isEmpty()) {
        b.putAllRanking(Ranking.evaluate(m, ds, sp, ks, negatives,
            rankingSeed == 0 ? r.getResolved().getSeed() : rankingSeed, r.getResolved().getEvalBatchSize()));
      }
      return b.build();
    }
  }

  /** Metrics under Gaussian noise on the embeddings, one row per sigma. */
  public List<PerturbResult> perturb(String runId, List<Double> sigmas, long seed, PerturbMode mode, Split split)
      throws SQLException {
    Run r = requireSucceeded(runId);
    Dataset ds = datasets.load(r.getResolved().getDataset());
    int[] rows = DataSplit.of(ds.rows, r.getResolved().getSeed()).rows(split);
    synchronized (models) {
      CtrModel m = model(r, ds);
      List<Perturbation.Row> res = mode == PerturbMode.TABLES
          ? Perturbation.tables(m, ds, rows, sigmas, seed, r.getResolved().getEvalBatchSize())
          : Perturbation.inputs(m, ds, rows, sigmas, seed);
      List<PerturbResult> out = new ArrayList<>();
      for (Perturbation.Row row : res) {
        out.add(PerturbResult.newBuilder().setSigma(row.sigma()).setMetrics(metrics(row.eval())).build());
      }
      return out;
    }
  }

  /** ||dp/dE|| over test rows: mean, median, p95, max, rows. */
  public LipschitzEstimate lipschitz(String runId, int limit) throws SQLException {
    Run r = requireSucceeded(runId);
    Dataset ds = datasets.load(r.getResolved().getDataset());
    int[] rows = DataSplit.of(ds.rows, r.getResolved().getSeed()).test;
    synchronized (models) {
      double[] v = Perturbation.lipschitz(model(r, ds), ds, rows, limit);
      return LipschitzEstimate.newBuilder().setMean(v[0]).setMedian(v[1]).setP95(v[2]).setMax(v[3])
          .setRows((long) v[4]).build();
    }
  }

  /** Streams per-row predictions in batches of at most {@code batch} rows. */
  public void predict(String runId, Split split, long limit, int batch, Consumer<PredictBatch> sink)
      throws SQLException {
    Run r = requireSucceeded(runId);
    Dataset ds = datasets.load(r.getResolved().getDataset());
    int[] all = DataSplit.of(ds.rows, r.getResolved().getSeed()).rows(split);
    int[] rows = limit > 0 && limit < all.length ? java.util.Arrays.copyOf(all, (int) limit) : all;
    float[] scores;
    synchronized (models) {
      scores = Trainer.evaluate(model(r, ds), ds, rows, r.getResolved().getEvalBatchSize()).scores();
    }
    for (int from = 0; from < rows.length; from += batch) {
      PredictBatch.Builder b = PredictBatch.newBuilder();
      for (int i = from; i < Math.min(rows.length, from + batch); i++) {
        int row = rows[i];
        b.addRows(Prediction.newBuilder().setRow(row).setUser(ds.userTokens[ds.userId(row)])
            .setItem(ds.itemTokens[ds.itemId(row)]).setRating(ds.ratings[row]).setLabel(ds.labels[row])
            .setScore(scores[i]));
      }
      sink.accept(b.build());
    }
  }

  /** A finished run's model with its best checkpoint loaded (a few are cached). Call with models locked. */
  private CtrModel model(Run r, Dataset ds) {
    CtrModel m = models.get(r.getRunId());
    if (m != null) {
      return m;
    }
    m = new CtrModel(RunExecutor.modelConfig(r.getResolved(), threads), ds);
    try {
      m.restore(m.load(runDir.resolve(r.getRunId()).resolve("checkpoint.bin")));
    } catch (IOException e) {
      m.close();
      throw new UncheckedIOException("cannot read the checkpoint of run " + r.getRunId(), e);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
    models.put(r.getRunId(), m);
    if (models.size() > 2) {
      var eldest = models.entrySet().iterator().next();
      eldest.getValue().close();
      models.remove(eldest.getKey());
    }
    return m;
  }

  @Override
  public void close() {
    closed = true;
    pool.shutdown();
    try {
      pool.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (models) {
      models.values().forEach(CtrModel::close);
      models.clear();
    }
  }
}
