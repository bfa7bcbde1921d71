package org.ctrlab.server.service;

import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.LipschitzEstimate;
import org.ctrlab.api.v1.Metrics;
import org.ctrlab.api.v1.PerturbMode;
import org.ctrlab.api.v1.PerturbResult;
import org.ctrlab.api.v1.PredictBatch;
import org.ctrlab.api.v1.Prediction;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.Split;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.experiments.Perturbation;
import org.ctrlab.server.experiments.Ranking;
import org.ctrlab.server.store.RunStore;
import org.ctrlab.server.train.Cancellation;
import org.ctrlab.server.train.RunExecutor;
import org.ctrlab.server.train.Trainer;

/**
 * Evaluate, Perturb, Inspect and Predict on finished runs. Each call runs as a task on a small pool shared fairly
 * among users ({@link FairPool}), apart from training (which is in worker processes) and from calls on other runs
 * (each model has its own lock); a call that finds its user's or everyone's queue full is refused with
 * RESOURCE_EXHAUSTED rather than left waiting. Every task
 * checks between batches and between noise levels whether its client has cancelled, its deadline has passed or the
 * server is stopping, and stops if so.
 */
public final class Analysis implements AutoCloseable {
  /** Rows per Predict message. */
  public static final int PREDICT_BATCH = 2048;

  private final RunStore store;
  private final DatasetRegistry datasets;
  private final ModelCache models;
  private final FairPool pool;
  private final java.time.Duration stall;
  private final java.util.concurrent.ScheduledExecutorService timer =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ctrlab-stream-stall");
        t.setDaemon(true);
        return t;
      });
  private volatile boolean closed;

  /**
   * @param queue how many calls may wait in all (a user: half of it, at least one)
   * @param stall how long a stream may wait for its client to read before it is ended
   */
  public Analysis(RunStore store, DatasetRegistry datasets, java.nio.file.Path runDir, int threads, int queue,
      int tfThreads, java.time.Duration stall) {
    this.store = store;
    this.datasets = datasets;
    this.models = new ModelCache(runDir, tfThreads, Math.max(2, threads));
    this.pool = new FairPool(threads, queue, Math.max(1, queue / 2));
    this.stall = stall;
  }

  /** Runs a new call's task on the pool, in turn with other users' calls; RESOURCE_EXHAUSTED when it is full. */
  public void submit(String user, Runnable task) {
    if (closed) {
      throw Refusal.unavailable("the server is stopping");
    }
    pool.submit(user, task);
  }

  /** The next step of an admitted call (never refused). */
  void resume(String user, Runnable task) {
    pool.resume(user, task);
  }

  java.time.Duration stall() {
    return stall;
  }

  /** Runs something once after the stall time, on the server's timer. */
  java.util.concurrent.ScheduledFuture<?> afterStall(Runnable r) {
    return timer.schedule(r, stall.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A caller's cancellation that also fires when the server stops. */
  public Cancellation cancellation(Cancellation caller) {
    return () -> closed || caller.cancelled() || Thread.currentThread().isInterrupted();
  }

  /** Stopped because of the server, not the caller. */
  public boolean stopping() {
    return closed;
  }

  private Run requireModel(String runId) throws SQLException {
    Run r = store.get(Ids.check("run_id", runId)).orElseThrow(() -> new RunNotFoundException(runId));
    if (r.getState() != RunState.SUCCEEDED) {
      throw new IllegalStateException("run " + runId + " is " + r.getState() + "; only SUCCEEDED runs have a model");
    }
    if (r.getFilesRetiredUnixMs() > 0) {
      throw new IllegalStateException("run " + runId + "'s checkpoint was removed on "
          + Instant.ofEpochMilli(r.getFilesRetiredUnixMs()) + " by the server's retention policy; its record and"
          + " metrics are kept");
    }
    return r;
  }

  /** AUC and LogLoss of a finished run's best checkpoint on a split, and sampled ranking metrics when ks given. */
  public Metrics evaluate(String runId, Split split, List<Integer> ks, int negatives, long rankingSeed,
      Cancellation cancel) throws SQLException {
    Run r = requireModel(runId);
    Dataset ds = datasets.load(r.getResolved().getDataset());
    DataSplit sp = DataSplit.of(ds.rows, r.getResolved().getSeed());
    try (ModelCache.Lease m = models.acquire(r, ds)) {
      Metrics.Builder b = RunExecutor.metrics(Trainer.evaluate(m.model(), ds, sp.rows(split),
          r.getResolved().getEvalBatchSize(), cancel)).toBuilder();
      if (!ks.isEmpty()) {
        b.putAllRanking(Ranking.evaluate(m.model(), ds, sp, ks, negatives,
            rankingSeed == 0 ? r.getResolved().getSeed() : rankingSeed, r.getResolved().getEvalBatchSize(), cancel));
      }
      return b.build();
    }
  }

  /** Metrics under Gaussian noise on the embeddings, one row per sigma. */
  public List<PerturbResult> perturb(String runId, List<Double> sigmas, long seed, PerturbMode mode, Split split,
      Cancellation cancel) throws SQLException {
    Run r = requireModel(runId);
    Dataset ds = datasets.load(r.getResolved().getDataset());
    int[] rows = DataSplit.of(ds.rows, r.getResolved().getSeed()).rows(split);
    // TABLES changes the model's weights while it evaluates: it gets a model of its own, and the shared one serves
    // other calls on the run meanwhile.
    try (ModelCache.Lease m = mode == PerturbMode.TABLES ? models.own(r, ds) : models.acquire(r, ds)) {
      List<Perturbation.Row> res = mode == PerturbMode.TABLES
          ? Perturbation.tables(m.model(), ds, rows, sigmas, seed, r.getResolved().getEvalBatchSize(), cancel)
          : Perturbation.inputs(m.model(), ds, rows, sigmas, seed, cancel);
      List<PerturbResult> out = new ArrayList<>();
      for (Perturbation.Row row : res) {
        out.add(PerturbResult.newBuilder().setSigma(row.sigma()).setMetrics(RunExecutor.metrics(row.eval())).build());
      }
      return out;
    }
  }

  /** The stored inspection record of a finished run, with ||dp/dE|| over test rows when lipschitzRows > 0. */
  public InspectResponse inspect(String runId, boolean perStep, int lipschitzRows, Cancellation cancel)
      throws SQLException {
    Run r = store.get(Ids.check("run_id", runId)).orElseThrow(() -> new RunNotFoundException(runId));
    if (r.getState() != RunState.SUCCEEDED) {
      throw new IllegalStateException("run " + runId + " is " + r.getState() + "; only SUCCEEDED runs have a model");
    }
    byte[] data = store.artifacts().get(runId, "inspect").orElseThrow(
        () -> new IllegalStateException("run " + runId + " has no inspection record"));
    InspectResponse full;
    try {
      full = InspectResponse.parseFrom(data);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt inspection record of run " + runId, e);
    }
    InspectResponse.Builder b = perStep ? full.toBuilder() : full.toBuilder().clearSteps();
    if (lipschitzRows > 0) {
      requireModel(runId);
      Dataset ds = datasets.load(r.getResolved().getDataset());
      int[] rows = DataSplit.of(ds.rows, r.getResolved().getSeed()).test;
      try (ModelCache.Lease m = models.acquire(r, ds)) {
        double[] v = Perturbation.lipschitz(m.model(), ds, rows, lipschitzRows, cancel);
        b.setLipschitz(LipschitzEstimate.newBuilder().setMean(v[0]).setMedian(v[1]).setP95(v[2]).setMax(v[3])
            .setRows((long) v[4]));
      }
    }
    return b.build();
  }

  /**
   * Per-row predictions of a finished run on a split, one batch of rows at a time: nothing is scored before it is
   * asked for, and no model is held between batches, so a stream whose client reads slowly holds one batch in
   * memory and no thread.
   */
  public final class Predictions {
    private final Run run;
    private final Dataset ds;
    private final int[] rows;
    private final Cancellation cancel;
    private int from;

    private Predictions(Run run, Dataset ds, int[] rows, Cancellation cancel) {
      this.run = run;
      this.ds = ds;
      this.rows = rows;
      this.cancel = cancel;
    }

    /** The next batch, or null when every row has been sent. */
    public PredictBatch next() {
      if (from >= rows.length) {
        return null;
      }
      cancel.check();
      int[] part = Arrays.copyOfRange(rows, from, Math.min(rows.length, from + PREDICT_BATCH));
      from += part.length;
      float[] scores;
      try (ModelCache.Lease m = models.acquire(run, ds)) {
        scores = Trainer.evaluate(m.model(), ds, part, Math.min(part.length, run.getResolved().getEvalBatchSize()),
            cancel).scores();
      }
      PredictBatch.Builder b = PredictBatch.newBuilder();
      for (int i = 0; i < part.length; i++) {
        int row = part[i];
        b.addRows(Prediction.newBuilder().setRow(row).setUser(ds.userTokens[ds.userId(row)])
            .setItem(ds.itemTokens[ds.itemId(row)]).setRating(ds.ratings[row]).setLabel(ds.labels[row])
            .setScore(scores[i]));
      }
      return b.build();
    }
  }

  /** Opens the predictions of a finished run (loads its dataset; the model is loaded by the first batch). */
  public Predictions predictions(String runId, Split split, long limit, Cancellation cancel) throws SQLException {
    Run r = requireModel(runId);
    Dataset ds = datasets.load(r.getResolved().getDataset());
    int[] all = DataSplit.of(ds.rows, r.getResolved().getSeed()).rows(split);
    int[] rows = limit > 0 && limit < all.length ? Arrays.copyOf(all, (int) limit) : all;
    return new Predictions(r, ds, rows, cancel);
  }

  /** Forgets a deleted run's model. */
  public void forget(String runId) {
    models.evict(runId);
  }

  public int busy() {
    return pool.running();
  }

  /** Stops every call within a few seconds (each sees the stop at its next check) and closes the models. */
  @Override
  public void close() {
    closed = true;
    timer.shutdownNow();
    try {
      if (!pool.close(5, TimeUnit.SECONDS)) {
        org.slf4j.LoggerFactory.getLogger(Analysis.class).warn("analysis calls still running after 5 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    models.close();
  }

  /** Thrown out of a task that stopped because its call was cancelled or the server stopped. */
  static boolean isCancellation(Throwable t) {
    return t instanceof CancellationException;
  }
}
