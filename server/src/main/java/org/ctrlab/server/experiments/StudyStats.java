package org.ctrlab.server.experiments;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.math3.distribution.TDistribution;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.StudyComparison;
import org.ctrlab.api.v1.StudyRow;

/**
 * Aggregates a study's runs: per (backbone, head, rating weight) cell the mean and sample standard deviation of test
 * AUC and LogLoss over finished seeds; per (backbone, rating weight) the RATING - BINARY test AUC paired by seed,
 * with a Student-t 95% interval of its mean.
 */
public final class StudyStats {
  private StudyStats() {}

  private record Cell(String backbone, Head head, double ratingWeight) {}

  public static List<StudyRow> rows(List<Run> runs) {
    List<StudyRow> out = new ArrayList<>();
    for (Map.Entry<Cell, List<Run>> e : cells(runs).entrySet()) {
      List<Run> done = e.getValue().stream().filter(r -> r.getState() == RunState.SUCCEEDED).toList();
      double[] auc = done.stream().mapToDouble(r -> r.getTest().getAuc()).toArray();
      double[] ll = done.stream().mapToDouble(r -> r.getTest().getLogloss()).toArray();
      out.add(StudyRow.newBuilder().setBackbone(e.getKey().backbone()).setHead(e.getKey().head())
          .setRatingWeight(e.getKey().ratingWeight()).setRuns(e.getValue().size()).setFinished(done.size())
          .setAucMean(mean(auc)).setAucStd(std(auc)).setLoglossMean(mean(ll)).setLoglossStd(std(ll))
          .setSecondsPerEpoch(mean(done.stream().mapToDouble(Run::getSecondsPerEpoch).toArray()))
          .setEpochsMean(mean(done.stream().mapToDouble(Run::getEpochsCount).toArray())).build());
    }
    return out;
  }

  public static List<StudyComparison> comparisons(List<Run> runs) {
    // BINARY test AUC by (backbone, seed).
    Map<String, Double> binary = new LinkedHashMap<>();
    for (Run r : runs) {
      if (r.getState() == RunState.SUCCEEDED && r.getResolved().getHead() == Head.BINARY) {
        binary.put(r.getResolved().getBackbone() + "@" + r.getResolved().getSeed(), r.getTest().getAuc());
      }
    }
    Map<Cell, List<Double>> deltas = new LinkedHashMap<>();
    for (Run r : runs) {
      ResolvedConfig c = r.getResolved();
      Double b = binary.get(c.getBackbone() + "@" + c.getSeed());
      if (r.getState() == RunState.SUCCEEDED && c.getHead() == Head.RATING && b != null) {
        deltas.computeIfAbsent(cell(c), k -> new ArrayList<>()).add(r.getTest().getAuc() - b);
      }
    }
    List<StudyComparison> out = new ArrayList<>();
    for (Map.Entry<Cell, List<Double>> e : deltas.entrySet()) {
      double[] d = e.getValue().stream().mapToDouble(Double::doubleValue).toArray();
      double[] ci = ci95(d);
      out.add(StudyComparison.newBuilder().setBackbone(e.getKey().backbone())
          .setRatingWeight(e.getKey().ratingWeight()).setPairs(d.length).setDeltaAucMean(mean(d))
          .setCi95Low(ci[0]).setCi95High(ci[1]).build());
    }
    return out;
  }

  /** One epoch of a cell's curve: over the seeds that reached it, the mean and sample std of each measure. */
  public record CurvePoint(int epoch, int runs, double validAucMean, double validAucStd, double validLoglossMean,
      double validLoglossStd, double trainLossMean, double trainLossStd) {}

  /** A cell's learning curve over its seeds. */
  public record Curve(String backbone, Head head, double ratingWeight, List<CurvePoint> points) {}

  /**
   * Per (backbone, head, rating weight) cell, per epoch, the mean and sample standard deviation over the cell's
   * runs (finished or not) that have that epoch: early stopping ends seeds at different epochs, which the count
   * shows.
   */
  public static List<Curve> curves(List<Run> runs) {
    List<Curve> out = new ArrayList<>();
    for (Map.Entry<Cell, List<Run>> e : cells(runs).entrySet()) {
      int epochs = e.getValue().stream().mapToInt(Run::getEpochsCount).max().orElse(0);
      List<CurvePoint> points = new ArrayList<>();
      for (int i = 0; i < epochs; i++) {
        int at = i;
        List<org.ctrlab.api.v1.EpochResult> have = e.getValue().stream().filter(r -> r.getEpochsCount() > at)
            .map(r -> r.getEpochs(at)).toList();
        double[] auc = have.stream().mapToDouble(org.ctrlab.api.v1.EpochResult::getValidAuc).toArray();
        double[] ll = have.stream().mapToDouble(org.ctrlab.api.v1.EpochResult::getValidLogloss).toArray();
        double[] loss = have.stream().mapToDouble(org.ctrlab.api.v1.EpochResult::getTrainLoss).toArray();
        points.add(new CurvePoint(i + 1, have.size(), mean(auc), std(auc), mean(ll), std(ll), mean(loss),
            std(loss)));
      }
      out.add(new Curve(e.getKey().backbone(), e.getKey().head(), e.getKey().ratingWeight(), points));
    }
    return out;
  }

  /** The runs of each (backbone, head, rating weight) cell, cells in the order their first run comes. */
  private static Map<Cell, List<Run>> cells(List<Run> runs) {
    Map<Cell, List<Run>> cells = new LinkedHashMap<>();
    for (Run r : runs) {
      cells.computeIfAbsent(cell(r.getResolved()), k -> new ArrayList<>()).add(r);
    }
    return cells;
  }

  private static Cell cell(ResolvedConfig c) {
    return new Cell(c.getBackbone(), c.getHead(), c.getHead() == Head.RATING ? c.getRatingWeight() : 0);
  }

  static double mean(double[] x) {
    if (x.length == 0) {
      return Double.NaN;
    }
    double s = 0;
    for (double v : x) {
      s += v;
    }
    return s / x.length;
  }

  /** Sample standard deviation (n - 1); 0 for one value. */
  static double std(double[] x) {
    if (x.length < 2) {
      return x.length == 1 ? 0 : Double.NaN;
    }
    double m = mean(x);
    double s = 0;
    for (double v : x) {
      s += (v - m) * (v - m);
    }
    return Math.sqrt(s / (x.length - 1));
  }

  /** mean +- t(0.975, n-1) sd / sqrt(n); NaN with fewer than two values. */
  static double[] ci95(double[] x) {
    if (x.length < 2) {
      return new double[] {Double.NaN, Double.NaN};
    }
    double half = new TDistribution(x.length - 1).inverseCumulativeProbability(0.975) * std(x)
        / Math.sqrt(x.length);
    return new double[] {mean(x) - half, mean(x) + half};
  }
}
