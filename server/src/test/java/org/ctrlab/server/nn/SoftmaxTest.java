package org.ctrlab.server.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.Operand;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

class SoftmaxTest {
  private static final float[] X = {
      0, 1, 2, // e^0, e^1, e^2 over their sum
      1000, 1000, 999, // large: exp would overflow without the shift
      -1e9f, 3, 3, // a masked entry weighs nothing
      5, -2, 0.5f};

  /** softmax of each row of 3, in double. */
  private static float[] byHand(float[] x) {
    float[] p = new float[x.length];
    for (int r = 0; r < x.length / 3; r++) {
      double m = Math.max(x[3 * r], Math.max(x[3 * r + 1], x[3 * r + 2]));
      double s = 0;
      for (int j = 0; j < 3; j++) {
        s += Math.exp(x[3 * r + j] - m);
      }
      for (int j = 0; j < 3; j++) {
        p[3 * r + j] = (float) (Math.exp(x[3 * r + j] - m) / s);
      }
    }
    return p;
  }

  @Test
  void rowsOfARank3InputByHand() {
    try (GraphTest g = new GraphTest()) {
      Operand<TFloat32> x = g.net.tf.constant(org.tensorflow.ndarray.StdArrays.ndCopyOf(new float[][][] {
          {{0, 1, 2}, {1000, 1000, 999}}, {{-1e9f, 3, 3}, {5, -2, 0.5f}}}));
      float[] p = g.eval(Softmax.lastAxis(g.net, x));
      // Row 1 by hand: e^0, e^1, e^2 = 1, 2.71828, 7.38906 over 11.10734.
      assertArrayEquals(new float[] {0.09003f, 0.24473f, 0.66524f}, java.util.Arrays.copyOf(p, 3), 1e-5f);
      assertArrayEquals(new float[] {0, 0.5f, 0.5f}, java.util.Arrays.copyOfRange(p, 6, 9), 1e-6f);
      assertArrayEquals(byHand(X), p, 1e-6f);
    }
  }

  @Test
  void longRowsTakeTheirSumsWithoutTheProduct() {
    try (GraphTest g = new GraphTest()) {
      int n = Softmax.PRODUCT_ROWS_UP_TO + 4;
      float[][] x = new float[2][n];
      for (int j = 0; j < n; j++) {
        x[0][j] = j;
        x[1][j] = -j * 0.5f;
      }
      float[] p = g.eval(Softmax.lastAxis(g.net, g.net.tf.constant(x)));
      for (int r = 0; r < 2; r++) {
        double sum = 0;
        for (int j = 0; j < n; j++) {
          sum += Math.exp(x[r][j] - x[r][r == 0 ? n - 1 : 0]);
        }
        for (int j = 0; j < n; j++) {
          assertEquals(Math.exp(x[r][j] - x[r][r == 0 ? n - 1 : 0]) / sum, p[r * n + j], 1e-6);
        }
      }
      g.graph.operations().forEachRemaining(op -> assertTrue(!op.type().equals("MatMul"), "no product: " + op));
    }
  }

  @Test
  void gradientIsTheSoftmaxJacobianAndTheBatchMayBeUnknown() {
    try (GraphTest g = new GraphTest()) {
      var tf = g.net.tf;
      Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, 3)));
      Operand<TFloat32> p = Softmax.lastAxis(g.net, x);
      float[] w = {1, -2, 0.5f};
      // d/dx_j sum_i w_i p_i = p_j (w_j - sum_i w_i p_i).
      Operand<TFloat32> objective = tf.sum(tf.math.mul(p, tf.constant(w)), tf.constant(new int[] {0, 1}));
      Operand<TFloat32> dx = tf.gradients(objective, List.of(x)).<TFloat32>dy(0);
      float[] probs = byHand(X);
      float[] expected = new float[X.length];
      for (int r = 0; r < X.length / 3; r++) {
        double dot = 0;
        for (int j = 0; j < 3; j++) {
          dot += w[j] * probs[3 * r + j];
        }
        for (int j = 0; j < 3; j++) {
          expected[3 * r + j] = (float) (probs[3 * r + j] * (w[j] - dot));
        }
      }
      try (Tensor in = TFloat32.tensorOf(Shape.of(4, 3), DataBuffers.of(X, true, false))) {
        assertArrayEquals(probs, g.eval(p, Map.of(x, in)), 1e-6f);
        assertArrayEquals(expected, g.eval(dx, Map.of(x, in)), 1e-6f);
      }
    }
  }
}
