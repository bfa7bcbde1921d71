package org.ctrlab.server.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
import org.tensorflow.types.TInt32;

/** The interaction layers of the six backbones against values computed by hand on tiny inputs. */
class InteractionLayersTest {
  static double sig(double x) {
    return 1 / (1 + Math.exp(-x));
  }

  @Test
  void biInteraction() {
    try (GraphTest g = new GraphTest()) {
      Operand<TFloat32> e = g.net.tf.constant(new float[][][] {{{1, 2}, {3, 4}}, {{1, -1}, {0, 5}}});
      // Row 1: sums [4, 6], squares of sums [16, 36], sums of squares [10, 20] -> 0.5 [6, 16] = [3, 8].
      // Row 2: sums [1, 4] -> [1, 16]; sums of squares [1, 26] -> 0.5 [0, -10] = [0, -5].
      assertArrayEquals(new float[] {3, 8, 0, -5}, g.eval(BiInteraction.apply(g.net, e)), 1e-6f);
    }
  }

  @Test
  void firstOrderLinearSumsTokensSequencesAndBias() {
    try (GraphTest g = new GraphTest()) {
      List<Field> fields = List.of(new Field("genre", FieldType.TOKEN_SEQ, 3, 2), new Field("a", FieldType.TOKEN, 2,
          0), new Field("b", FieldType.TOKEN, 3, 0));
      FeatureInputs in = new FeatureInputs(g.net, fields);
      FirstOrderLinear lin = new FirstOrderLinear(g.net, in);
      Operand<TFloat32> y = lin.apply(g.net, in);
      // token table rows: a 0..1, b 2..4; genre table; bias.
      g.set(new float[] {0.1f, 0.2f, 1, 2, 3}, new float[] {0, 10, 20}, new float[] {0.5f});
      try (Tensor ids = TInt32.tensorOf(Shape.of(2, 2), DataBuffers.of(new int[] {1, 2, 0, 0}));
          Tensor s = TInt32.tensorOf(Shape.of(2, 2), DataBuffers.of(new int[] {1, 2, 0, 0}))) {
        // Row 1: a=1 -> 0.2, b=2 -> row 4 = 3, genres 1 + 2 -> 10 + 20 (summed), + 0.5 = 33.7.
        // Row 2: PADs -> 0.1 + 1 + nothing + 0.5 = 1.6.
        assertArrayEquals(new float[] {33.7f, 1.6f}, g.eval(y, Map.of(in.tokens, ids, in.seqs.get(0), s)), 1e-5f);
      }
    }
  }

  @Test
  void cinOuterProductConvolutionAndDirectSplit() {
    try (GraphTest g = new GraphTest()) {
      // F = 2 fields, d = 1, layer sizes [2, 1]: layer 0 keeps channel 0 as X1 and outputs channel 1.
      Cin cin = new Cin(g.net, "cin", 2, 1, new int[] {2, 1});
      assertEquals(2, cin.finalLen);
      Operand<TFloat32> y = cin.apply(g.net, g.net.tf.constant(new float[][][] {{{2}, {3}}}));
      // W0 [4, 2] over Z = [x0*x0, x0*x1, x1*x0, x1*x1] = [4, 6, 6, 9]; W1 [2, 1] over [X1*x0, X1*x1].
      g.set(new float[] {1, 0, 0, 1, 0, -1, 0.5f, 0}, new float[] {0, 1}, new float[] {1, -1}, new float[] {0.5f});
      // Layer 0: channel 0 = 4*1 + 6*0 + 6*0 + 9*0.5 + 0 = 8.5; channel 1 = 4*0 + 6*1 + 6*-1 + 9*0 + 1 = 1.
      // Layer 1: X1 = 8.5: [17, 25.5] . [1, -1] + 0.5 = -8 -> ReLU 0. Output [1, 0].
      assertArrayEquals(new float[] {1, 0}, g.eval(y), 1e-5f);
    }
  }

  @Test
  void selfAttentionOneAndTwoHeads() {
    float[][][] x = {{{1, 0}, {0, 1}}};
    float[] eye = {1, 0, 0, 1};
    float[] zero = {0, 0};
    try (GraphTest g = new GraphTest()) {
      SelfAttention mha = new SelfAttention(g.net, "mha", 2, 1, 0.0);
      Operand<TFloat32> y = mha.apply(g.net, g.net.tf.constant(x), 2, false);
      g.set(eye, eye, eye, zero, zero, zero, eye, zero); // wq wk wv bq bk bv, out w b
      // One head: scores X X^T / sqrt(2); row 1 softmax [e^.7071, 1] / sum.
      float w = (float) (Math.exp(1 / Math.sqrt(2)) / (Math.exp(1 / Math.sqrt(2)) + 1));
      assertArrayEquals(new float[] {w, 1 - w, 1 - w, w}, g.eval(y), 1e-5f);
    }
    try (GraphTest g = new GraphTest()) {
      SelfAttention mha = new SelfAttention(g.net, "mha", 2, 2, 0.0);
      Operand<TFloat32> y = mha.apply(g.net, g.net.tf.constant(x), 2, false);
      g.set(eye, eye, eye, zero, zero, zero, eye, zero);
      // Head 1 sees dimension 0: values [1, 0], scores [[1, 0], [0, 0]]: row 1 weights [s(1), 1 - s(1)], row 2 [.5, .5].
      float s = (float) sig(1);
      assertArrayEquals(new float[] {s, 0.5f, 0.5f, s}, g.eval(y), 1e-5f);
    }
  }

  @Test
  void gruCellMatchesTorchEquations() {
    try (GraphTest g = new GraphTest()) {
      GruCell cell = new GruCell(g.net, "gru", 1, 1);
      Operand<TFloat32> y = cell.apply(g.net, g.net.tf.constant(new float[][] {{0.5f}}),
          g.net.tf.constant(new float[][] {{-1f}}));
      float[] wi = {0.2f, -0.3f, 0.7f};
      float[] wh = {0.4f, 0.1f, -0.6f};
      float[] bi = {0.05f, 0.0f, -0.1f};
      float[] bh = {0.0f, 0.2f, 0.3f};
      g.set(wi, wh, bi, bh);
      double x = 0.5;
      double h = -1;
      double r = sig(x * wi[0] + bi[0] + h * wh[0] + bh[0]);
      double z = sig(x * wi[1] + bi[1] + h * wh[1] + bh[1]);
      double n = Math.tanh(x * wi[2] + bi[2] + r * (h * wh[2] + bh[2]));
      assertArrayEquals(new float[] {(float) ((1 - z) * n + z * h)}, g.eval(y), 1e-6f);
    }
  }

  @Test
  void fieldGraphEdgesMaskTheDiagonalAndNormaliseRows() {
    try (GraphTest g = new GraphTest()) {
      FieldGraph graph = new FieldGraph(g.net, "graph", 3, 1, 1);
      float[][][] h = {{{1}, {2}, {-1}}};
      Operand<TFloat32> e = graph.edges(g.net, g.net.tf.constant(h));
      g.set(new float[] {0.5f, 2f}); // w = [w_i ; w_j]
      float[] got = g.eval(e);
      for (int i = 0; i < 3; i++) {
        double[] a = new double[3];
        double sum = 0;
        for (int j = 0; j < 3; j++) {
          if (i != j) {
            double v = 0.5 * h[0][i][0] + 2 * h[0][j][0];
            a[j] = Math.exp(v > 0 ? v : 0.01 * v);
            sum += a[j];
          }
        }
        for (int j = 0; j < 3; j++) {
          assertEquals(a[j] / sum, got[i * 3 + j], 1e-6, "G[" + i + "][" + j + "]");
        }
      }
    }
  }

  @Test
  void attentionalScoringPerHead() {
    try (GraphTest g = new GraphTest()) {
      AttentionalScoring s = new AttentionalScoring(g.net, "score", 2, 1, 2);
      Operand<TFloat32> y = s.apply(g.net, g.net.tf.constant(new float[][][] {{{2}, {3}}}));
      // w1 [a=1, K=2]; w2 [F*a=2, F*K=4] (head k's weight of field i at column i*K + k):
      // head 0's W2 is [[1, 0], [0, 1]], head 1's [[2, 1], [0, 3]].
      g.set(new float[] {1, -1}, new float[] {1, 2, 0, 1, 0, 0, 1, 3});
      // head 0: s = [2, 3], w = [2*1 + 3*0, 2*0 + 3*1] = [2, 3] -> 4 + 9 = 13
      // head 1: s = [-2, -3], w = [2*2 + 3*0, 2*1 + 3*3] = [4, 11] -> -8 - 33 = -41
      assertArrayEquals(new float[] {13, -41}, g.eval(y), 1e-5f);
    }
  }

  @Test
  void attentionalScoringDrawsHeadAfterHead() {
    // 2 rows, F = 3 fields, K = 2 heads: the drawn sequence, head-major per row, lands at column i*K + k.
    Init counting = (shape, rng) -> {
      float[] a = new float[(int) shape.size()];
      for (int i = 0; i < a.length; i++) {
        a[i] = i;
      }
      return a;
    };
    float[] w = AttentionalScoring.headMajorDraw(counting, 3, 2).values(Shape.of(2, 6), null);
    assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11}, w, 0f);
  }

  @Test
  void eulerInteractionInPolarForm() {
    try (GraphTest g = new GraphTest()) {
      EulerInteraction l = new EulerInteraction(g.net, "euler", 2, 1, 1, 0.0, 0.0);
      Operand<TFloat32> r = g.net.tf.constant(new float[][][] {{{0.6f}, {1.0f}}});
      Operand<TFloat32> p = g.net.tf.constant(new float[][][] {{{0.8f}, {0.0f}}});
      List<Operand<TFloat32>> out = l.apply(g.net, r, p, false);
      // Omega [2, 1], b_lambda, b_theta [1, 1, 1], W_im [2, 1], b_im [1].
      g.set(new float[] {0.5f, 0.5f}, new float[] {0.1f}, new float[] {-0.2f}, new float[] {1f, -1f},
          new float[] {0.3f});
      double l1 = 0.5 * Math.log(0.36 + 0.64 + 1e-8);
      double l2 = 0.5 * Math.log(1.0 + 1e-8);
      double t1 = Math.atan2(0.8, 0.6);
      double mag = Math.exp(0.5 * l1 + 0.5 * l2 + 0.1);
      double ang = 0.5 * t1 + 0.5 * 0.0 - 0.2;
      double ri = Math.max(0, 0.6 - 1.0 + 0.3);
      double pi = Math.max(0, 0.8 - 0.0 + 0.3);
      assertArrayEquals(new float[] {(float) (ri + mag * Math.cos(ang))}, g.eval(out.get(0)), 1e-5f);
      assertArrayEquals(new float[] {(float) (pi + mag * Math.sin(ang))}, g.eval(out.get(1)), 1e-5f);
    }
  }

  @Test
  void eulerOrderInitColumnsSumToOne() {
    float[] w = EulerInteraction.orderInit(Shape.of(7, 3), new java.util.SplittableRandom(1));
    for (int c = 0; c < 3; c++) {
      double s = 0;
      for (int r = 0; r < 7; r++) {
        s += w[r * 3 + c];
      }
      assertEquals(1.0, s, 1e-5);
    }
  }
}
