package org.ctrlab.server.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import java.util.Map;
import org.ctrlab.server.data.Field;
import org.ctrlab.server.data.FieldType;
import org.junit.jupiter.api.Test;
import org.tensorflow.Operand;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TInt32;

class LayersTest {
  @Test
  void crossLayerByHand() {
    try (GraphTest g = new GraphTest()) {
      CrossNet cross = new CrossNet(g.net, "cross", 2, 1);
      Operand<TFloat32> x0 = g.net.tf.constant(new float[][] {{1, 2}, {-1, 0.5f}});
      Operand<TFloat32> y = cross.apply(g.net, x0);
      // W (stored [in, out]) and b.
      g.set(new float[] {0.5f, -1, 2, 0}, new float[] {0.1f, 0.2f});
      // Row 1: x0 W + b = [1*0.5 + 2*2 + 0.1, 1*-1 + 2*0 + 0.2] = [4.6, -0.8]; x1 = x0 * that + x0 = [5.6, 0.4].
      // Row 2: x0 W + b = [-0.5 + 1 + 0.1, 1 + 0 + 0.2] = [0.6, 1.2]; x1 = [-0.6 - 1, 0.6 + 0.5] = [-1.6, 1.1].
      assertArrayEquals(new float[] {5.6f, 0.4f, -1.6f, 1.1f}, g.eval(y), 1e-5f);
      // Frobenius norm of W: sqrt(0.25 + 1 + 4) = 2.2913.
      assertArrayEquals(new float[] {(float) Math.sqrt(5.25)}, g.eval(cross.weightNormSum(g.net)), 1e-5f);
    }
  }

  @Test
  void fieldEmbeddingMeanPoolsSequencesOverNonPadAndOffsetsTokens() {
    try (GraphTest g = new GraphTest()) {
      List<Field> fields = List.of(new Field("genre", FieldType.TOKEN_SEQ, 4, 3),
          new Field("a", FieldType.TOKEN, 3, 0), new Field("b", FieldType.TOKEN, 2, 0));
      FeatureInputs in = new FeatureInputs(g.net, fields);
      FieldEmbedding emb = new FieldEmbedding(g.net, in, 2);
      Operand<TFloat32> e = emb.apply(g.net, in);
      // Parameter order: token table [5, 2] (a: rows 0-2, b: rows 3-4), then the genre table [4, 2].
      float[] tok = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
      float[] seq = {9, 9, 1, 10, 2, 20, 3, 30};
      g.set(tok, seq);
      try (Tensor ids = TInt32.tensorOf(Shape.of(3, 2), DataBuffers.of(new int[] {2, 1, 0, 0, 1, 1}));
          Tensor s = TInt32.tensorOf(Shape.of(3, 3), DataBuffers.of(new int[] {1, 2, 0, 3, 0, 0, 0, 0, 0}))) {
        float[] out = g.eval(e, Map.of(in.tokens, ids, in.seqs.get(0), s));
        assertArrayEquals(new float[] {
            1.5f, 15, 2, 2, 4, 4, // mean of genres 1 and 2; a=2 -> row 2; b=1 -> row 3+1
            3, 30, 0, 0, 3, 3, // one genre; a=PAD -> row 0; b=PAD -> row 3
            0, 0, 1, 1, 4, 4}, // no genre at all pools to zeros
            out, 1e-5f);
      }
    }
  }

  @Test
  void batchNormTrainsOnBatchStatisticsAndEvaluatesOnRunningOnes() {
    try (GraphTest g = new GraphTest()) {
      BatchNorm bn = new BatchNorm(g.net, "bn", 1);
      Operand<TFloat32> x = g.net.tf.constant(new float[][] {{1}, {2}, {3}, {6}});
      Operand<TFloat32> train = bn.apply(g.net, x, true);
      Operand<TFloat32> eval = bn.apply(g.net, x, false);
      // mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5.
      float s = (float) Math.sqrt(3.5 + 1e-5);
      assertArrayEquals(new float[] {-2 / s, -1 / s, 0, 3 / s}, g.eval(train), 1e-5f);
      // Running stats start at 0 and 1: evaluation is x / sqrt(1 + eps).
      assertArrayEquals(new float[] {1, 2, 3, 6}, g.eval(eval), 1e-4f);
      for (var op : g.net.trainUpdates()) {
        g.session().runner().addTarget(op).run().close();
      }
      // After one update: mean 0.1 * 3 = 0.3; var 0.9 * 1 + 0.1 * (14 / 3) (unbiased) = 1.3667.
      float sd = (float) Math.sqrt(0.9 + 0.1 * 14.0 / 3 + 1e-5);
      assertArrayEquals(new float[] {(1 - 0.3f) / sd, (2 - 0.3f) / sd, (3 - 0.3f) / sd, (6 - 0.3f) / sd},
          g.eval(eval), 1e-4f);
    }
  }

  @Test
  void mlpEvaluationFoldsBatchNormIntoTheLayer() {
    try (GraphTest g = new GraphTest()) {
      Mlp mlp = new Mlp(g.net, "mlp", 2, new int[] {2}, 0.0, Activation.RELU, true);
      Operand<TFloat32> y = mlp.apply(g.net, g.net.tf.constant(new float[][] {{1, 2}, {-1, 1}}), false);
      // W, b, gamma, beta, running mean, running var.
      g.set(new float[] {1, -1, 0.5f, 2}, new float[] {0.5f, -1}, new float[] {2, 1}, new float[] {0.1f, -0.2f},
          new float[] {1, 0}, new float[] {3, 0.25f});
      // Row 1: x W + b = [1 + 1 + 0.5, -1 + 4 - 1] = [2.5, 2]; row 2: [-1 + 0.5 + 0.5, 1 + 2 - 1] = [0, 2].
      // BatchNorm: (v - mean) * gamma / sqrt(var + eps) + beta, then ReLU.
      double s0 = 2 / Math.sqrt(3 + 1e-5);
      double s1 = 1 / Math.sqrt(0.25 + 1e-5);
      assertArrayEquals(new float[] {(float) (1.5 * s0 + 0.1), (float) (2 * s1 - 0.2), 0, (float) (2 * s1 - 0.2)},
          g.eval(y), 1e-5f);
    }
  }

  @Test
  void mlpAppliesActivationAfterEveryLayerIncludingTheLast() {
    try (GraphTest g = new GraphTest()) {
      Mlp mlp = new Mlp(g.net, "mlp", 2, new int[] {2, 1}, 0.0, Activation.RELU, false);
      Operand<TFloat32> y = mlp.apply(g.net, g.net.tf.constant(new float[][] {{1, 2}}), true);
      g.set(new float[] {1, -1, 1, -1}, new float[] {0, 0}, new float[] {1, 1}, new float[] {-5});
      // Layer 1: [1*1 + 2*1, 1*-1 + 2*-1] = [3, -3] -> relu [3, 0]; layer 2: 3 - 5 = -2 -> relu 0.
      assertArrayEquals(new float[] {0}, g.eval(y), 1e-6f);
    }
  }

  @Test
  void dropoutKeepsExpectationAndIsOffInEvaluation() {
    try (GraphTest g = new GraphTest()) {
      float[][] ones = new float[200][50];
      for (float[] r : ones) {
        java.util.Arrays.fill(r, 1f);
      }
      Operand<TFloat32> x = g.net.tf.constant(ones);
      float[] train = g.eval(Dropout.apply(g.net, x, 0.2, true));
      double mean = 0;
      int zeros = 0;
      for (float v : train) {
        mean += v / train.length;
        zeros += v == 0 ? 1 : 0;
        org.junit.jupiter.api.Assertions.assertTrue(v == 0 || Math.abs(v - 1.25f) < 1e-6);
      }
      org.junit.jupiter.api.Assertions.assertEquals(1.0, mean, 0.03);
      org.junit.jupiter.api.Assertions.assertEquals(0.2, zeros / (double) train.length, 0.03);
      assertArrayEquals(GraphTest.flat(ones), g.eval(Dropout.apply(g.net, x, 0.2, false)));

      // The mask is keyed by the fed step: the same step repeats it, another step draws a new one.
      Operand<TFloat32> d = Dropout.apply(g.net, x, 0.2, true);
      try (TInt64 s1 = TInt64.scalarOf(1); TInt64 s2 = TInt64.scalarOf(2)) {
        float[] a = g.eval(d, Map.of(g.net.random.step(), s1));
        assertArrayEquals(a, g.eval(d, Map.of(g.net.random.step(), s1)));
        float[] b = g.eval(d, Map.of(g.net.random.step(), s2));
        org.junit.jupiter.api.Assertions.assertFalse(java.util.Arrays.equals(a, b));
      }
    }
  }
  @Test
  void javaDrawnDropoutMasksHaveTheRateAndAreKeyedByStep() {
    int n = 200_003;
    float[] a = new float[n];
    Dropout.draw(a, n, 0.2, 7, 1);
    int zeros = 0;
    float scale = (float) (1 / (1 - 13107 / 65536.0)); // p = 0.2 as a multiple of 2^-16; the mask's mean is 1
    for (float v : a) {
      org.junit.jupiter.api.Assertions.assertTrue(v == 0f || v == scale, "value " + v);
      zeros += v == 0f ? 1 : 0;
    }
    // Binomial(n, 0.2): sd 0.0009; 0.005 is more than five sd.
    org.junit.jupiter.api.Assertions.assertEquals(0.2, zeros / (double) n, 0.005);
    float[] again = new float[n];
    Dropout.draw(again, n, 0.2, 7, 1);
    assertArrayEquals(a, again);
    float[] prefix = new float[1001];
    Dropout.draw(prefix, 1001, 0.2, 7, 1);
    assertArrayEquals(java.util.Arrays.copyOf(a, 1001), prefix);
    Dropout.draw(again, n, 0.2, 7, 2);
    org.junit.jupiter.api.Assertions.assertFalse(java.util.Arrays.equals(a, again));
    Dropout.draw(again, n, 0.2, 8, 1);
    org.junit.jupiter.api.Assertions.assertFalse(java.util.Arrays.equals(a, again));
    float[] half = new float[n];
    Dropout.draw(half, n, 0.5, 7, 1);
    double kept = 0;
    for (float v : half) {
      kept += v / 2 / n;
    }
    org.junit.jupiter.api.Assertions.assertEquals(0.5, kept, 0.005);
  }

  @Test
  void dropoutOnABatchInputHasAFeedableMask() {
    try (GraphTest g = new GraphTest()) {
      var tf = g.net.tf;
      var in = tf.placeholder(TFloat32.class, org.tensorflow.op.core.Placeholder.shape(Shape.of(-1, 4)));
      g.net.setBatchRows(tf.slice(tf.shape(in), tf.constant(new int[] {0}), tf.constant(new int[] {1})));
      Operand<TFloat32> y = Dropout.apply(g.net, in, 0.5, true);
      org.junit.jupiter.api.Assertions.assertEquals(1, g.net.random.dropoutSlots().size());
      Dropout.Slot slot = g.net.random.dropoutSlots().get(0);
      org.junit.jupiter.api.Assertions.assertEquals(4, slot.rowSize());
      float[][] x = {{1, 2, 3, 4}, {5, 6, 7, 8}};
      float[][] mask = {{2, 0, 2, 0}, {0, 0, 2, 2}};
      try (TFloat32 xt = TFloat32.tensorOf(org.tensorflow.ndarray.StdArrays.ndCopyOf(x));
          TFloat32 mt = TFloat32.tensorOf(org.tensorflow.ndarray.StdArrays.ndCopyOf(mask))) {
        assertArrayEquals(new float[] {2, 0, 6, 0, 0, 0, 14, 16}, g.eval(y, Map.of(in, xt, slot.mask(), mt)));
        // Unfed, the graph draws its own mask: every element is 0 or 2x.
        float[] own = g.eval(y, Map.of(in, xt));
        for (int i = 0; i < own.length; i++) {
          float xi = x[i / 4][i % 4];
          org.junit.jupiter.api.Assertions.assertTrue(own[i] == 0 || own[i] == 2 * xi, "element " + i);
        }
        // A dropout on a tensor whose rows are not the batch's fails with a message instead of broadcasting.
        Operand<TFloat32> wrong = Dropout.apply(g.net, tf.reshape(in, tf.constant(new int[] {-1, 2})), 0.5, true);
        var ex = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
            () -> g.eval(wrong, Map.of(in, xt)));
        org.junit.jupiter.api.Assertions.assertTrue(ex.getMessage().contains("not the batch size"), ex.getMessage());
      }
    }
  }
}
