package org.ctrlab.server.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.Head;
import org.ctrlab.server.TestData;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.train.TrainListener;
import org.ctrlab.server.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Untrained AUC is chance; after training, the best checkpoint (not the last epoch) is what evaluates. */
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
  void restoresTheBestCheckpointBeforeTest(Head head) {
    try (CtrModel m = new CtrModel(dcnv2(head), data.fields)) {
      DataSplit split = DataSplit.of(data.rows, 5);
      Trainer.Evaluation before = Trainer.evaluate(m, data, split.test, 4096);
      Trainer.Outcome o = Trainer.train(m, data, split, new Trainer.Settings(0.01, 512, 4096, 8, 2, 5),
          new TrainListener() {});
      assertEquals(0.5, before.auc(), 0.06);
      assertTrue(o.test().auc() > 0.66, "test AUC " + o.test().auc());
      // The best checkpoint is what was restored: its validation AUC is the best epoch's, whatever came after,
      // and evaluating again (another batch size) gives the same test numbers.
      assertEquals(o.epochs().get(o.bestEpoch() - 1).getValidAuc(), o.valid().auc(), 1e-9);
      assertEquals(o.test().auc(), Trainer.evaluate(m, data, split.test, 1000).auc(), 1e-9);
    }
  }
}
