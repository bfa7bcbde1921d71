package org.ctrlab.server.experiments;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.metrics.Metrics;
import org.ctrlab.server.model.BatchFeeder;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.nn.Net;
import org.ctrlab.server.nn.Param;
import org.ctrlab.server.train.Cancellation;
import org.ctrlab.server.train.Trainer;

/**
 * Robustness to Gaussian noise on the embeddings (METHOD.md 4.1). INPUT: every batch's [B, F, d] field embeddings
 * get sigma * N(0, I) drawn from (seed, batch index), with a fixed batch size, so runs on the same data, seed and
 * split see the same noise. TABLES: the embedding tables get sigma * N(0, I) once (drawn in Java from the seed),
 * are evaluated, and are restored.
 */
public final class Perturbation {
  /** Noise is drawn per batch of this many rows, whatever the run's evaluation batch size. */
  public static final int BATCH = 4096;

  private Perturbation() {}

  public record Row(double sigma, Trainer.Evaluation eval) {}

  public static List<Row> inputs(CtrModel model, Dataset ds, int[] rows, List<Double> sigmas, long seed) {
    return inputs(model, ds, rows, sigmas, seed, Cancellation.NONE);
  }

  public static List<Row> inputs(CtrModel model, Dataset ds, int[] rows, List<Double> sigmas, long seed,
      Cancellation cancel) {
    List<Row> out = new ArrayList<>();
    float[] labels = labels(ds, rows);
    for (double sigma : sigmas) {
      float[] scores = new float[rows.length];
      try (BatchFeeder f = new BatchFeeder(ds, BATCH)) {
        for (int from = 0, b = 0; from < rows.length; from += BATCH, b++) {
          cancel.check();
          f.fill(rows, from, Math.min(rows.length, from + BATCH));
          if (sigma == 0) {
            model.predict(f, scores, from);
          } else {
            model.predictNoisy(f, (float) sigma, seed, b, scores, from);
          }
        }
      }
      out.add(new Row(sigma, new Trainer.Evaluation(scores, Metrics.auc(scores, labels, rows.length),
          Metrics.logloss(scores, labels, rows.length), rows.length)));
    }
    return out;
  }

  public static List<Row> tables(CtrModel model, Dataset ds, int[] rows, List<Double> sigmas, long seed,
      int evalBatch) {
    return tables(model, ds, rows, sigmas, seed, evalBatch, Cancellation.NONE);
  }

  /** As above; the tables are restored whether it ends, fails or is cancelled. */
  public static List<Row> tables(CtrModel model, Dataset ds, int[] rows, List<Double> sigmas, long seed,
      int evalBatch, Cancellation cancel) {
    List<Param> tables = model.embeddingTables();
    List<float[]> clean = Net.read(model.session(), tables);
    List<Row> out = new ArrayList<>();
    try {
      for (double sigma : sigmas) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<float[]> noisy = new ArrayList<>();
        for (float[] t : clean) {
          float[] v = t.clone();
          for (int i = 0; i < v.length; i++) {
            v[i] += (float) (sigma * rng.nextGaussian());
          }
          noisy.add(v);
        }
        cancel.check();
        Net.assign(model.session(), tables, noisy);
        out.add(new Row(sigma, Trainer.evaluate(model, ds, rows, evalBatch, cancel)));
      }
    } finally {
      Net.assign(model.session(), tables, clean);
    }
    return out;
  }

  static float[] labels(Dataset ds, int[] rows) {
    float[] y = new float[rows.length];
    for (int i = 0; i < rows.length; i++) {
      y[i] = ds.labels[rows[i]];
    }
    return y;
  }

  /** ||dp/dE||_2 over the first {@code limit} rows: mean, median, p95, max, rows. */
  public static double[] lipschitz(CtrModel model, Dataset ds, int[] rows, int limit) {
    return lipschitz(model, ds, rows, limit, Cancellation.NONE);
  }

  public static double[] lipschitz(CtrModel model, Dataset ds, int[] rows, int limit, Cancellation cancel) {
    int n = Math.min(limit, rows.length);
    float[] norms = new float[n];
    try (BatchFeeder f = new BatchFeeder(ds, 1024)) {
      for (int from = 0; from < n; from += 1024) {
        cancel.check();
        f.fill(rows, from, Math.min(n, from + 1024));
        model.inputGradientNorms(f, norms, from);
      }
    }
    float[] sorted = norms.clone();
    java.util.Arrays.sort(sorted);
    double mean = 0;
    for (float v : norms) {
      mean += v / (double) n;
    }
    return new double[] {mean, quantile(sorted, 0.5), quantile(sorted, 0.95), sorted[n - 1], n};
  }

  private static double quantile(float[] sorted, double q) {
    double pos = q * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  }
}
