package org.ctrlab.server.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.Head;
import org.ctrlab.server.TestData;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.nn.Param;
import org.ctrlab.server.train.TrainListener;
import org.ctrlab.server.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ModelTest {
  @TempDir
  static Path tmp;

  static Dataset data;

  @BeforeAll
  static void load() {
    data = TestData.loadSmall(tmp);
  }

  static ModelConfig dcnv2(Head head) {
    Hyper h = new Hyper(Map.of("cross_layer_num", 2.0, "mlp_hidden_size", new double[] {32, 16},
        "dropout_prob", 0.1, "reg_weight", 0.01));
    return new ModelConfig("DCNV2", h, head, Aggregation.LOGIT_SUM, 0.7, 8, 0.0, 11, 2);
  }

  @ParameterizedTest
  @EnumSource(value = Head.class, names = {"BINARY", "RATING"})
  void oneStepMovesEveryTrainableVariable(Head head) {
    try (CtrModel m = new CtrModel(dcnv2(head), data.fields);
        BatchFeeder f = new BatchFeeder(data, 256)) {
      List<float[]> before = m.snapshot();
      int[] rows = new int[256];
      Arrays.setAll(rows, i -> i);
      f.fill(rows, 0, rows.length);
      float[] out = new float[4];
      m.trainStep(f, 1e-3f, 1, out);
      List<float[]> after = m.snapshot();
      for (int i = 0; i < before.size(); i++) {
        Param p = m.checkpointParams().get(i);
        assertTrue(!Arrays.equals(before.get(i), after.get(i)), p.name + " did not change after a step");
      }
      assertTrue(out[0] > 0 && out[1] > 0 && out[2] > 0 && out[3] > 0, Arrays.toString(out));
    }
  }

  @ParameterizedTest
  @EnumSource(value = Head.class, names = {"BINARY", "RATING"})
  void learnsThePlantedSignal(Head head) {
    try (CtrModel m = new CtrModel(dcnv2(head), data.fields)) {
      DataSplit split = DataSplit.of(data.rows, 5);
      Trainer.Evaluation before = Trainer.evaluate(m, data, split.test, 4096);
      Trainer.Outcome o = Trainer.train(m, data, split, new Trainer.Settings(0.01, 512, 4096, 8, 2, 5),
          new TrainListener() {});
      assertEquals(0.5, before.auc(), 0.06);
      assertTrue(o.test().auc() > 0.66, "test AUC " + o.test().auc());
      // The best checkpoint is what was restored: evaluating again gives the same numbers.
      assertEquals(o.test().auc(), Trainer.evaluate(m, data, split.test, 1000).auc(), 1e-9);
    }
  }
}
