package org.ctrlab.server.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.Head;
import org.ctrlab.server.TestData;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.model.backbone.Backbones;
import org.ctrlab.server.nn.Param;
import org.ctrlab.server.train.TrainListener;
import org.ctrlab.server.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every backbone with both heads: gradients reach every variable, and it learns the planted signal. */
class BackbonesTest {
  @TempDir
  static Path tmp;

  static Dataset data;

  @BeforeAll
  static void load() {
    data = TestData.loadSmall(tmp);
  }

  /** Small versions of each backbone, so the suite stays fast. */
  static Hyper small(String backbone) {
    return new Hyper(switch (backbone) {
      case "WideDeep" -> Map.of("mlp_hidden_size", new double[] {32, 16}, "dropout_prob", 0.1);
      case "NFM" -> Map.of("mlp_hidden_size", new double[] {32, 16}, "dropout_prob", 0.1);
      case "xDeepFM" -> Map.of("mlp_hidden_size", new double[] {32, 16}, "cin_layer_size", new double[] {8, 8},
          "dropout_prob", 0.1, "reg_weight", 5e-4);
      case "AutoInt" -> Map.of("attention_size", 8.0, "n_layers", 2.0, "num_heads", 2.0, "dropout_probs",
          new double[] {0.1, 0.1, 0.1}, "mlp_hidden_size", new double[] {32, 16});
      case "FiGNN" -> Map.of("attention_size", 8.0, "n_layers", 2.0, "num_heads", 2.0, "attn_dropout_prob", 0.1,
          "hidden_dropout_prob", 0.1);
      case "DCNV2" -> Map.of("cross_layer_num", 2.0, "mlp_hidden_size", new double[] {32, 16}, "dropout_prob", 0.1,
          "reg_weight", 0.01);
      case "EulerNet" -> Map.of("order_list", new double[] {8}, "drop_ex", 0.1, "drop_im", 0.1, "reg_weight", 5e-4);
      default -> throw new IllegalArgumentException(backbone);
    });
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String b : Backbones.names()) {
      for (Head h : List.of(Head.BINARY, Head.RATING)) {
        out.add(Arguments.of(b, h));
      }
    }
    return out.stream();
  }

  static ModelConfig config(String backbone, Head head) {
    return new ModelConfig(backbone, small(backbone), head, Aggregation.LOGIT_SUM, 0.7, 8, 0.0, 3, 2);
  }

  @Test
  void everyBackboneIsCovered() {
    List<String> names = new ArrayList<>();
    Backbones.names().forEach(names::add);
    assertTrue(names.containsAll(List.of("WideDeep", "NFM", "xDeepFM", "AutoInt", "FiGNN", "DCNV2", "EulerNet")),
        names.toString());
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void gradientsReachEveryVariableAndTheLossAndSizeAreAsReported(String backbone, Head head) {
    try (CtrModel m = new CtrModel(config(backbone, head), data);
        BatchFeeder f = new BatchFeeder(data, 512)) {
      List<float[]> before = m.snapshot();
      int[] rows = new int[512];
      Arrays.setAll(rows, i -> i * 7 % data.rows);
      f.fill(rows, 0, rows.length);
      float[] out = new float[CtrModel.STEP_OUTPUTS];
      m.trainStep(f, 1e-3f, 1, out);
      List<float[]> after = m.snapshot();
      for (int i = 0; i < before.size(); i++) {
        Param p = m.checkpointParams().get(i);
        assertTrue(!Arrays.equals(before.get(i), after.get(i)), p.name + " did not change after a step");
        for (float v : after.get(i)) {
          assertTrue(Float.isFinite(v), p.name + " is not finite after a step");
        }
      }
      assertTrue(Float.isFinite(out[0]), "loss " + out[0]);
      // The parts it reports add up to the objective: BCE + R, or (1 - lr)(BCE + R) + lr CE with lr = 0.7.
      double bce = out[CtrModel.OUT_BCE];
      double reg = Float.isNaN(out[CtrModel.OUT_REG]) ? 0 : out[CtrModel.OUT_REG];
      assertEquals(Set.of("xDeepFM", "DCNV2", "EulerNet").contains(backbone), !Float.isNaN(out[CtrModel.OUT_REG]),
          "a regulariser is reported for the backbones that have one");
      assertEquals(head == Head.RATING, !Float.isNaN(out[CtrModel.OUT_CE]));
      double expected = head == Head.RATING ? 0.3 * (bce + reg) + 0.7 * out[CtrModel.OUT_CE] : bce + reg;
      assertEquals(expected, out[0], 1e-4 * Math.max(1, Math.abs(expected)), "objective from its parts");
      assertTrue(bce > 0.3 && bce < 1.5, "an untrained model's BCE is near ln 2: " + bce);
      // The count a run is checked against before anything is built is the count the built graph has.
      assertEquals(m.trainableScalars(), org.ctrlab.server.model.backbone.ParameterCount.model(backbone,
          org.ctrlab.server.model.backbone.ParameterCount.rows(data.fields), data.fields.size(), 8,
          head == Head.RATING ? 5 : 1, small(backbone)));
    }
  }

  /** bench's floor counts the model's products, not the softmax's row sums (a product with a matrix of ones). */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"AutoInt", "FiGNN"})
  void theFloorCountsTheModelsProductsOnly(String backbone) {
    int fields = data.fields.size();
    assertTrue(fields != 8, "the attention size (8) must differ from the field count for this test");
    try (CtrModel m = new CtrModel(config(backbone, Head.BINARY), data); BatchFeeder f = new BatchFeeder(data, 64)) {
      int[] rows = new int[64];
      Arrays.setAll(rows, i -> i);
      f.fill(rows, 0, rows.length);
      List<CtrModel.Product> train = m.trainProducts(f);
      f.fill(rows, 0, rows.length);
      List<CtrModel.Product> eval = m.evalProducts(f);
      assertTrue(!train.isEmpty() && !eval.isEmpty());
      for (CtrModel.Product p : concat(train, eval)) {
        assertTrue(!(p.type().equals("MatMul") && p.k() == fields && p.n() == fields), "row-sum product: " + p);
      }
      // The attention weights times the values: [fields x fields] by [fields x a] per row and head.
      assertTrue(train.stream().anyMatch(p -> p.type().startsWith("BatchMatMul") && p.k() == fields),
          "the attention's own products are counted: " + train);
    }
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  /** Untrained AUC is chance; after training, the best checkpoint (not the last epoch) is what evaluates. */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.EnumSource(value = Head.class, names = {"BINARY", "RATING"})
  void restoresTheBestCheckpointBeforeTest(Head head) {
    try (CtrModel m = new CtrModel(config("DCNV2", head), data)) {
      DataSplit split = DataSplit.of(data.rows, 5);
      Trainer.Evaluation before = Trainer.evaluate(m, data, split.test, 4096);
      Trainer.Outcome o = Trainer.train(m, data, split, new Trainer.Settings(0.01, 512, 4096, 8, 2, 5),
          new TrainListener() {});
      org.junit.jupiter.api.Assertions.assertEquals(0.5, before.auc(), 0.06);
      // Its validation AUC is the best epoch's, whatever came after, and evaluating again (another batch size)
      // gives the same test numbers.
      org.junit.jupiter.api.Assertions.assertEquals(o.epochs().get(o.bestEpoch() - 1).getValidAuc(),
          o.valid().auc(), 1e-9);
      org.junit.jupiter.api.Assertions.assertEquals(o.test().auc(),
          Trainer.evaluate(m, data, split.test, 1000).auc(), 1e-9);
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void learnsThePlantedSignal(String backbone, Head head) {
    try (CtrModel m = new CtrModel(config(backbone, head), data)) {
      DataSplit split = DataSplit.of(data.rows, 9);
      Trainer.Outcome o = Trainer.train(m, data, split, new Trainer.Settings(0.01, 512, 4096, 6, 1, 9),
          new TrainListener() {});
      assertTrue(o.test().auc() > 0.64, backbone + " " + head + " test AUC " + o.test().auc());
    }
  }
}
