package org.ctrlab.server.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.Metrics;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.StudyComparison;
import org.ctrlab.api.v1.StudyRow;
import org.junit.jupiter.api.Test;

class StudyStatsTest {
  static Run run(Head head, long seed, double auc, RunState state) {
    return Run.newBuilder().setState(state).setResolved(ResolvedConfig.newBuilder().setBackbone("DCNV2")
        .setHead(head).setSeed(seed).setRatingWeight(0.5)).setTest(Metrics.newBuilder().setAuc(auc)
        .setLogloss(1 - auc)).build();
  }

  @Test
  void meansDeviationsAndPairedIntervalByHand() {
    List<Run> runs = List.of(
        run(Head.BINARY, 1, 0.80, RunState.SUCCEEDED), run(Head.RATING, 1, 0.81, RunState.SUCCEEDED),
        run(Head.BINARY, 2, 0.82, RunState.SUCCEEDED), run(Head.RATING, 2, 0.84, RunState.SUCCEEDED),
        run(Head.BINARY, 3, 0.81, RunState.SUCCEEDED), run(Head.RATING, 3, 0.81, RunState.SUCCEEDED),
        run(Head.RATING, 4, 0.99, RunState.FAILED));
    List<StudyRow> rows = StudyStats.rows(runs);
    assertEquals(2, rows.size());
    StudyRow b = rows.get(0);
    assertEquals(Head.BINARY, b.getHead());
    assertEquals(0.81, b.getAucMean(), 1e-12);
    assertEquals(0.01, b.getAucStd(), 1e-12); // deviations -0.01, 0.01, 0: sqrt(0.0002 / 2)
    StudyRow r = rows.get(1);
    assertEquals(4, r.getRuns());
    assertEquals(3, r.getFinished()); // the failed seed is not averaged
    assertEquals(0.82, r.getAucMean(), 1e-12);
    List<StudyComparison> c = StudyStats.comparisons(runs);
    assertEquals(1, c.size());
    // Paired differences 0.01, 0.02, 0.00: mean 0.01, sd 0.01, t(0.975, 2) = 4.3027 -> half width 0.024841.
    assertEquals(3, c.get(0).getPairs());
    assertEquals(0.01, c.get(0).getDeltaAucMean(), 1e-12);
    assertEquals(0.01 - 4.302653 * 0.01 / Math.sqrt(3), c.get(0).getCi95Low(), 1e-6);
    assertEquals(0.01 + 4.302653 * 0.01 / Math.sqrt(3), c.get(0).getCi95High(), 1e-6);
  }

  @Test
  void oneSeedHasNoInterval() {
    List<StudyComparison> c = StudyStats.comparisons(List.of(run(Head.BINARY, 1, 0.8, RunState.SUCCEEDED),
        run(Head.RATING, 1, 0.81, RunState.SUCCEEDED)));
    assertTrue(Double.isNaN(c.get(0).getCi95Low()));
  }

  @Test
  void curvesAverageEachEpochOverTheSeedsThatReachedIt() {
    // Seed 1 stops after 2 epochs (early stopping), seed 2 runs 3: epoch 3's point is seed 2's alone.
    Run a = run(Head.BINARY, 1, 0.8, RunState.SUCCEEDED).toBuilder()
        .addEpochs(org.ctrlab.api.v1.EpochResult.newBuilder().setEpoch(1).setValidAuc(0.70).setValidLogloss(0.60)
            .setTrainLoss(0.9))
        .addEpochs(org.ctrlab.api.v1.EpochResult.newBuilder().setEpoch(2).setValidAuc(0.74).setValidLogloss(0.58)
            .setTrainLoss(0.8)).build();
    Run b = run(Head.BINARY, 2, 0.8, RunState.SUCCEEDED).toBuilder()
        .addEpochs(org.ctrlab.api.v1.EpochResult.newBuilder().setEpoch(1).setValidAuc(0.72).setValidLogloss(0.62)
            .setTrainLoss(0.7))
        .addEpochs(org.ctrlab.api.v1.EpochResult.newBuilder().setEpoch(2).setValidAuc(0.78).setValidLogloss(0.56)
            .setTrainLoss(0.6))
        .addEpochs(org.ctrlab.api.v1.EpochResult.newBuilder().setEpoch(3).setValidAuc(0.79).setValidLogloss(0.55)
            .setTrainLoss(0.5)).build();
    Run other = run(Head.RATING, 1, 0.8, RunState.RUNNING);
    List<StudyStats.Curve> curves = StudyStats.curves(List.of(a, b, other));
    assertEquals(2, curves.size());
    StudyStats.Curve c = curves.get(0);
    assertEquals(Head.BINARY, c.head());
    assertEquals(3, c.points().size());
    StudyStats.CurvePoint e1 = c.points().get(0);
    assertEquals(2, e1.runs());
    assertEquals(0.71, e1.validAucMean(), 1e-12);
    assertEquals(Math.sqrt(0.0002), e1.validAucStd(), 1e-12); // deviations +-0.01: sqrt(0.0002 / 1)
    assertEquals(0.61, e1.validLoglossMean(), 1e-12);
    assertEquals(0.8, e1.trainLossMean(), 1e-12);
    assertEquals(0.76, c.points().get(1).validAucMean(), 1e-12);
    StudyStats.CurvePoint e3 = c.points().get(2);
    assertEquals(1, e3.runs());
    assertEquals(0.79, e3.validAucMean(), 1e-12);
    assertEquals(0, e3.validAucStd(), 0, "one seed: no spread");
    assertTrue(curves.get(1).points().isEmpty(), "a run with no epoch yet has an empty curve");
  }
}
