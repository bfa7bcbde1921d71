package org.ctrlab.server.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.metrics.Metrics;
import org.ctrlab.server.model.BatchFeeder;
import org.ctrlab.server.model.CtrModel;

/**
 * The training loop of METHOD.md section 6.1: a fresh seeded shuffle each epoch, AdamW steps, validation AUC after
 * every epoch, early stopping after patience+1 epochs without a validation AUC at least as good as the best
 * (RecBole's rule), and the best checkpoint restored at the end.
 */
public final class Trainer {
  private Trainer() {}

  public record Settings(double learningRate, int batchSize, int evalBatchSize, int maxEpochs, int patience,
      long seed) {}

  /** Predictions on some rows and their metrics. */
  public record Evaluation(float[] scores, double auc, double logloss, int rows) {}

  /** Per-step gradient norms (steps x groups) and per-epoch [mean, max] per group. */
  public record GradientLog(float[] perStep, int steps, List<double[][]> perEpoch) {}

  public record Outcome(List<EpochResult> epochs, int bestEpoch, List<float[]> best, Evaluation valid,
      Evaluation test, double secondsPerEpoch, GradientLog gradients) {}

  public static Outcome train(CtrModel model, Dataset ds, DataSplit split, Settings s, TrainListener listener) {
    return train(model, ds, split, s, listener, null);
  }

  /**
   * Refuses a validation split without both classes: its AUC, by which early stopping picks the best epoch, is
   * undefined (NaN never improves), so the run would end with its untrained initial weights as "best".
   */
  static void requireBothClasses(Dataset ds, int[] valid) {
    boolean clicks = false;
    boolean others = false;
    for (int r : valid) {
      if (ds.labels[r] > 0.5f) {
        clicks = true;
      } else {
        others = true;
      }
      if (clicks && others) {
        return;
      }
    }
    throw new RunFailure(String.format("the validation split (%,d rows) has %s: its AUC, by which the best epoch is"
        + " chosen, is undefined; the dataset needs more rows of both labels", valid.length,
        valid.length == 0 ? "no rows" : clicks ? "only clicks (label 1)" : "only non-clicks (label 0)"));
  }

  /**
   * Trains from scratch, or, given the state saved after an epoch, goes on from the next epoch exactly as the run
   * would have without the interruption (same shuffles, dropout masks, optimizer moments and early-stopping
   * counters).
   */
  public static Outcome train(CtrModel model, Dataset ds, DataSplit split, Settings s, TrainListener listener,
      TrainState resume) {
    requireBothClasses(ds, split.valid);
    int groups = CtrModel.GROUPS.size();
    int[] order = split.train.clone();
    SplittableRandom shuffleRng = new SplittableRandom(s.seed() ^ 0x5DEECE66DL);
    List<EpochResult> epochs = new ArrayList<>();
    List<double[][]> normSummaries = new ArrayList<>();
    float[] stepNorms = new float[1024 * groups];
    int steps = 0;
    double bestAuc = Double.NEGATIVE_INFINITY;
    int bestEpoch = 0;
    List<float[]> best;
    int sinceBest = 0;
    double trainSeconds = 0;
    if (resume == null) {
      best = model.snapshot();
    } else {
      model.restoreVariables(resume.variableNames(), resume.variables());
      best = resume.best();
      epochs.addAll(resume.epochs());
      normSummaries.addAll(resume.normSummaries());
      steps = resume.steps();
      stepNorms = Arrays.copyOf(resume.stepNorms(), Math.max(stepNorms.length, resume.stepNorms().length));
      bestAuc = resume.bestAuc();
      bestEpoch = resume.bestEpoch();
      sinceBest = resume.sinceBest();
      trainSeconds = resume.trainSeconds();
      for (int e = 0; e < epochs.size(); e++) {
        DataSplit.shuffle(order, shuffleRng); // epoch e's order is the e-th shuffle of the same stream
      }
    }
    float[] out = new float[CtrModel.STEP_OUTPUTS];
    int batches = (order.length + s.batchSize() - 1) / s.batchSize();
    // Two feeders: while TensorFlow runs a step on one, a background thread copies the next batch into the other.
    ExecutorService filler = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "ctrlab-batch-fill");
      t.setDaemon(true);
      return t;
    });
    try (BatchFeeder feederA = new BatchFeeder(ds, s.batchSize());
        BatchFeeder feederB = new BatchFeeder(ds, s.batchSize())) {
      for (int epoch = epochs.size() + 1; epoch <= s.maxEpochs() && sinceBest <= s.patience(); epoch++) {
        DataSplit.shuffle(order, shuffleRng);
        long t0 = System.nanoTime();
        double lossSum = 0;
        double bceSum = 0;
        double ceSum = 0;
        double regSum = 0;
        double[][] summary = new double[groups][2];
        BatchFeeder feeder = feederA;
        BatchFeeder next = feederB;
        fill(feeder, order, 0, s.batchSize());
        for (int b = 0; b < batches; b++) {
          if (listener.cancelled()) {
            throw new CancellationException("cancelled in epoch " + epoch);
          }
          CompletableFuture<Void> prefetch = null;
          if (b + 1 < batches) {
            BatchFeeder nextFeeder = next;
            int nextBatch = b + 1;
            prefetch = CompletableFuture.runAsync(() -> fill(nextFeeder, order, nextBatch, s.batchSize()), filler);
          }
          try {
            model.trainStep(feeder, (float) s.learningRate(), ++steps, out);
          } catch (RuntimeException e) {
            if (prefetch != null) {
              try {
                prefetch.join();
              } catch (RuntimeException f) {
                e.addSuppressed(f);
              }
            }
            throw e;
          }
          if (prefetch != null) {
            prefetch.join();
          }
          BatchFeeder done = feeder;
          feeder = next;
          next = done;
          if (!Double.isFinite(out[0])) {
            throw new RunFailure("training loss is " + out[0] + " at epoch " + epoch + ", batch "
                + (b + 1) + "; try a smaller learning rate");
          }
          lossSum += out[0];
          bceSum += out[CtrModel.OUT_BCE];
          ceSum += out[CtrModel.OUT_CE];
          regSum += out[CtrModel.OUT_REG];
          if (steps * groups > stepNorms.length) {
            stepNorms = Arrays.copyOf(stepNorms, stepNorms.length * 2);
          }
          for (int g = 0; g < groups; g++) {
            stepNorms[(steps - 1) * groups + g] = out[1 + g];
            summary[g][0] += out[1 + g] / batches;
            summary[g][1] = Math.max(summary[g][1], out[1 + g]);
          }
          listener.batch(epoch, b + 1, batches);
        }
        double tTrain = (System.nanoTime() - t0) / 1e9;
        trainSeconds += tTrain;
        long t1 = System.nanoTime();
        Evaluation v = evaluate(model, ds, split.valid, s.evalBatchSize());
        double tEval = (System.nanoTime() - t1) / 1e9;
        boolean improved = v.auc >= bestAuc;
        if (improved) {
          bestAuc = v.auc;
          bestEpoch = epoch;
          best = model.snapshot();
          sinceBest = 0;
        } else {
          sinceBest++;
        }
        EpochResult.Builder eb = EpochResult.newBuilder().setEpoch(epoch).setTrainLoss(lossSum / batches)
            .setBceLoss(bceSum / batches).setValidAuc(v.auc).setValidLogloss(v.logloss).setTrainSeconds(tTrain)
            .setEvalSeconds(tEval).setBest(improved);
        if (!Double.isNaN(ceSum)) {
          eb.setCeLoss(ceSum / batches);
        }
        if (!Double.isNaN(regSum)) {
          eb.setRegularizer(regSum / batches);
        }
        EpochResult er = eb.build();
        epochs.add(er);
        normSummaries.add(summary);
        TrainState state = !listener.wantsState() ? null
            : new TrainState(epochs, steps, bestAuc, bestEpoch, sinceBest, trainSeconds,
                Arrays.copyOf(stepNorms, steps * groups), normSummaries, model.variableNames(), model.variables(),
                model.checkpointNames(), best);
        listener.epoch(er, summary, state);
        if (sinceBest > s.patience()) {
          listener.log("early stop after epoch " + epoch + ": no better validation AUC for " + sinceBest
              + " epochs; best epoch " + bestEpoch);
        }
      }
    } finally {
      filler.shutdownNow();
    }
    model.restore(best);
    Evaluation valid = evaluate(model, ds, split.valid, s.evalBatchSize());
    Evaluation test = evaluate(model, ds, split.test, s.evalBatchSize());
    return new Outcome(epochs, bestEpoch, best, valid, test, trainSeconds / Math.max(1, epochs.size()),
        new GradientLog(Arrays.copyOf(stepNorms, steps * groups), steps, normSummaries));
  }

  private static void fill(BatchFeeder f, int[] order, int batch, int batchSize) {
    int from = batch * batchSize;
    f.fill(order, from, Math.min(order.length, from + batchSize));
  }

  /** Daemon threads the extra callers of {@link #evaluate} run on (idle ones end after a minute). */
  private static final ExecutorService EVAL_CALLERS = new java.util.concurrent.ThreadPoolExecutor(0,
      Integer.MAX_VALUE, 60, java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "ctrlab-eval");
        t.setDaemon(true);
        return t;
      });

  /** Click probabilities for the given rows and their AUC and LogLoss. */
  public static Evaluation evaluate(CtrModel model, Dataset ds, int[] rows, int evalBatch) {
    return evaluate(model, ds, rows, evalBatch, Cancellation.NONE);
  }

  /** As {@link #evaluate(CtrModel, Dataset, int[], int)}, checking for cancellation between batches. */
  public static Evaluation evaluate(CtrModel model, Dataset ds, int[] rows, int evalBatch, Cancellation cancel) {
    float[] scores = new float[rows.length];
    int batches = (rows.length + evalBatch - 1) / evalBatch;
    int callers = Math.min(batches, model.towers() > 1 ? model.towers() : model.config.threads() > 1 ? 2 : 1);
    java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
    // Several callers, each with its own feeder, take the next batch. A model that trains in towers runs each op on
    // one thread, so it evaluates with one caller per tower; otherwise two (when the run has two threads or more):
    // one batch's chain of products leaves a core idle that the other's fill (on 2 cores about 0.7-0.9x the time of
    // one caller), and two hold only two batches' activations.
    Runnable caller = () -> {
      try (BatchFeeder feeder = new BatchFeeder(ds, evalBatch)) {
        for (int b = next.getAndIncrement(); b < batches; b = next.getAndIncrement()) {
          cancel.check();
          int from = b * evalBatch;
          feeder.fill(rows, from, Math.min(rows.length, from + evalBatch));
          model.predict(feeder, scores, from);
        }
      } catch (Throwable t) {
        next.set(batches); // the other callers stop at their next batch
        throw t;
      }
    };
    List<CompletableFuture<Void>> others = new ArrayList<>();
    for (int i = 1; i < callers; i++) {
      others.add(CompletableFuture.runAsync(caller, EVAL_CALLERS));
    }
    Throwable failed = null;
    try {
      caller.run();
    } catch (Throwable t) {
      failed = t;
    }
    for (CompletableFuture<Void> other : others) {
      try {
        other.join(); // the model may be closed once this returns: every caller has ended before it does
      } catch (java.util.concurrent.CompletionException e) {
        if (failed == null) {
          failed = e.getCause();
        } else if (failed != e.getCause()) {
          failed.addSuppressed(e.getCause());
        }
      }
    }
    if (failed instanceof RuntimeException re) {
      throw re;
    } else if (failed instanceof Error err) {
      throw err;
    }
    float[] labels = new float[rows.length];
    for (int i = 0; i < rows.length; i++) {
      labels[i] = ds.labels[rows[i]];
    }
    return new Evaluation(scores, Metrics.auc(scores, labels, rows.length),
        Metrics.logloss(scores, labels, rows.length), rows.length);
  }
}
