package org.ctrlab.server.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.Head;
import org.ctrlab.server.TestData;
import org.ctrlab.server.data.Dataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A training step split into towers (row ranges, each its own copy of the ops on the same variables) is the step of
 * the whole batch: same loss, same gradient norms, same weights after it, dropout included.
 */
class TowersTest {
  static ModelConfig config(String backbone, int towers) {
    return new ModelConfig(backbone, BackbonesTest.small(backbone), Head.RATING, Aggregation.LOGIT_SUM, 0.7, 8, 0.0,
        3, 2, false, towers);
  }

  /** The outputs of three steps on batches of the given rows, and the weights after them. */
  private static List<float[]> steps(Dataset data, ModelConfig c, int expectTowers, int batch) {
    List<float[]> out = new ArrayList<>();
    try (CtrModel m = new CtrModel(c, data); BatchFeeder f = new BatchFeeder(data, batch)) {
      assertEquals(expectTowers, m.towers());
      for (int step = 1; step <= 3; step++) {
        int[] rows = new int[batch];
        int s = step;
        Arrays.setAll(rows, i -> (i * 13 + s * 101) % data.rows);
        f.fill(rows, 0, rows.length);
        float[] o = new float[CtrModel.STEP_OUTPUTS];
        m.trainStep(f, 1e-2f, step, o);
        out.add(o);
      }
      out.addAll(m.snapshot());
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"WideDeep", "xDeepFM", "AutoInt", "FiGNN", "EulerNet"})
  void aStepInTowersIsTheStepOfTheWholeBatch(String backbone) {
    // 101 rows: towers of uneven size.
    assertSameSteps(backbone, 101, backbone.equals("WideDeep") ? new int[] {2, 3} : new int[] {2});
  }

  @ParameterizedTest
  @ValueSource(strings = {"WideDeep", "FiGNN"}) // FiGNN: attention-weight masks of rank 4
  void aBatchOfFewerRowsThanTowersLeavesSomeEmpty(String backbone) {
    // An epoch's last batch can be shorter than the tower count: 1 row in 2 towers, 2 rows in 3.
    assertSameSteps(backbone, 1, new int[] {2});
    assertSameSteps(backbone, 2, new int[] {3});
  }

  private static void assertSameSteps(String backbone, int batch, int[] towerCounts) {
    Dataset data = TestData.sharedSmall();
    List<float[]> one = steps(data, config(backbone, 1), 1, batch);
    for (int towers : towerCounts) {
      List<float[]> split = steps(data, config(backbone, towers), towers, batch);
      for (int step = 0; step < 3; step++) {
        float[] a = one.get(step);
        float[] b = split.get(step);
        for (int i = 0; i < a.length; i++) {
          if (Float.isNaN(a[i])) {
            assertTrue(Float.isNaN(b[i]), "output " + i);
            continue;
          }
          // The loss and its parts, and the gradient norms: sums in another order, nothing more. Dropout (p 0.1
          // on every layer here) would move them by far more if a row met another mask in its tower.
          assertEquals(a[i], b[i], 2e-5 * Math.max(1, Math.abs(a[i])),
              backbone + " in " + towers + " towers, " + batch + " rows, step " + (step + 1) + ", output " + i);
        }
      }
      double worst = 0;
      for (int v = 3; v < one.size(); v++) {
        for (int i = 0; i < one.get(v).length; i++) {
          worst = Math.max(worst, Math.abs(one.get(v)[i] - split.get(v)[i]));
        }
      }
      // Three Adam steps of 1e-2 move a weight by up to 3e-2. Adam divides a gradient by its own size, so one that
      // is rounding-small on a batch of two rows moves its weight by a rounding-sized step of its own (seen: 1.4e-4
      // for FiGNN, 2 rows in 3 towers); the outputs above already hold steps 2 and 3 to the same losses.
      assertTrue(worst < 1e-3, backbone + " in " + towers + " towers, " + batch + " rows: weights differ by " + worst);
    }
  }

  @Test
  void aBackboneWithBatchNormTrainsInOneTower() {
    Dataset data = TestData.sharedSmall();
    for (String b : List.of("DCNV2", "NFM")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new CtrModel(config(b, 2), data).close());
      assertTrue(e.getMessage().contains("BatchNorm"), e.getMessage());
      try (CtrModel m = new CtrModel(config(b, 0), data)) {
        assertEquals(1, m.towers(), b + " chooses one tower");
      }
    }
  }

  @Test
  void theModelChoosesATowerPerThreadOnlyOnACpuWithPoolsOfItsOwn() {
    ModelConfig two = config("WideDeep", 0);
    assertEquals(2, CtrModel.towers(two, false, true, () -> false));
    assertEquals(1, CtrModel.towers(two, false, false, () -> false), "on the process's shared pools");
    assertEquals(1, CtrModel.towers(two, false, true, () -> true), "on a GPU");
    assertEquals(1, CtrModel.towers(two, true, true, () -> false), "rows coupled by BatchNorm");
    ModelConfig oneThread = new ModelConfig("WideDeep", BackbonesTest.small("WideDeep"), Head.RATING,
        Aggregation.LOGIT_SUM, 0.7, 8, 0.0, 3, 1, false, 0);
    assertEquals(1, CtrModel.towers(oneThread, false, true, () -> false), "one thread");
    assertEquals(3, CtrModel.towers(config("WideDeep", 3), false, false, () -> true), "asked for");
    assertThrows(IllegalArgumentException.class, () -> config("WideDeep", -1));
  }
}
