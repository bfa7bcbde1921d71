package org.ctrlab.server.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.server.model.head.BinaryHead;
import org.ctrlab.server.model.head.Head;
import org.ctrlab.server.model.head.RatingHead;
import org.ctrlab.server.nn.GraphTest;
import org.ctrlab.server.nn.Init;
import org.ctrlab.server.nn.Param;
import org.junit.jupiter.api.Test;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.core.Sum;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

class HeadsTest {
  static final float[][] F = {{0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, {1.0f, -0.5f, 0.2f, 0.0f, -1.0f}};
  static final float[] Y = {1, 0};
  static final int[] C = {4, 0};

  static double sigmoid(double z) {
    return 1 / (1 + Math.exp(-z));
  }

  static double[] softmax(float[] f) {
    double s = 0;
    double[] e = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      e[i] = Math.exp(f[i]);
      s += e[i];
    }
    for (int i = 0; i < f.length; i++) {
      e[i] /= s;
    }
    return e;
  }

  @Test
  void logitSumAggregation() {
    try (GraphTest g = new GraphTest()) {
      Operand<TFloat32> p = new RatingHead(0.7, Aggregation.LOGIT_SUM).probability(g.net, g.net.tf.constant(F));
      // sigmoid((f4 + f5) - (f1 + f2 + f3)): row 1 sigmoid(0.9 - 0.6), row 2 sigmoid(-1 - 0.7).
      assertArrayEquals(new float[] {(float) sigmoid(0.3), (float) sigmoid(-1.7)}, g.eval(p), 1e-6f);
    }
  }

  @Test
  void probSumAggregation() {
    try (GraphTest g = new GraphTest()) {
      Operand<TFloat32> p = new RatingHead(0.7, Aggregation.PROB_SUM).probability(g.net, g.net.tf.constant(F));
      double[] s0 = softmax(F[0]);
      double[] s1 = softmax(F[1]);
      assertArrayEquals(new float[] {(float) (s0[3] + s0[4]), (float) (s1[3] + s1[4])}, g.eval(p), 1e-6f);
    }
  }

  private static double bce(double p, double y) {
    return -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
  }

  private static double ce(float[] f, int c) {
    return -Math.log(softmax(f)[c]);
  }

  @Test
  void ratingLossIsWeightedSumOfBinaryPlusRegulariserAndCrossEntropy() {
    double lambda = 0.7;
    double reg = 0.5;
    double bin = (bce(sigmoid(0.3), 1) + bce(sigmoid(-1.7), 0)) / 2;
    double ceLoss = (ce(F[0], 4) + ce(F[1], 0)) / 2;
    double expected = (1 - lambda) * (bin + reg) + lambda * ceLoss;
    assertEquals(expected, loss(new RatingHead(lambda, Aggregation.LOGIT_SUM), reg), 1e-5);
    double[] s0 = softmax(F[0]);
    double[] s1 = softmax(F[1]);
    double binProb = (bce(s0[3] + s0[4], 1) + bce(s1[3] + s1[4], 0)) / 2;
    assertEquals((1 - lambda) * (binProb + reg) + lambda * ceLoss,
        loss(new RatingHead(lambda, Aggregation.PROB_SUM), reg), 1e-5);
  }

  @Test
  void ratingLossGradientIsSoftmaxMinusOneHotPlusSignedBinaryResidual() {
    double lambda = 0.7;
    try (GraphTest g = new GraphTest()) {
      Operand<TFloat32> f = g.net.tf.constant(F);
      Head.Loss l = new RatingHead(lambda, Aggregation.LOGIT_SUM).loss(g.net, f, g.net.tf.constant(Y),
          g.net.tf.constant(C), null);
      float[] grad = g.eval(g.net.tf.gradients(l.total(), List.of(f)).<TFloat32>dy(0));
      int[] sign = {-1, -1, -1, 1, 1};
      double[] z = {0.3, -1.7};
      float[] expected = new float[10];
      for (int b = 0; b < 2; b++) {
        double[] p = softmax(F[b]);
        for (int k = 0; k < 5; k++) {
          // dL/df_bk = ((1 - lr) (sigmoid(z_b) - y_b) s_k + lr (softmax_k - [k = c_b])) / B
          expected[b * 5 + k] = (float) (((1 - lambda) * (sigmoid(z[b]) - Y[b]) * sign[k]
              + lambda * (p[k] - (k == C[b] ? 1 : 0))) / 2);
        }
      }
      assertArrayEquals(expected, grad, 1e-6f);
    }
  }

  @Test
  void ratingLossStaysFiniteForHugeLogits() {
    float[][] f = {{1000f, 0f, -1000f, 0f, 0f}, {0f, 0f, 0f, 0f, 2000f}};
    try (GraphTest g = new GraphTest()) {
      Head.Loss l = new RatingHead(1.0, Aggregation.PROB_SUM).loss(g.net, g.net.tf.constant(f), g.net.tf.constant(Y),
          g.net.tf.constant(C), null);
      // Row 1: class 4 has logit 0 against a maximum of 1000, CE 1000; row 2: class 0 against 2000, CE 2000.
      assertEquals(1500.0, g.eval(l.rating())[0], 1e-3);
    }
  }

  @Test
  void binaryLossIsBcePlusRegulariser() {
    float[][] f = {{0.3f}, {-1.2f}};
    try (GraphTest g = new GraphTest()) {
      Head.Loss l = new BinaryHead().loss(g.net, g.net.tf.constant(f), g.net.tf.constant(Y), g.net.tf.constant(C),
          g.net.tf.constant(0.25f));
      double expected = (bce(sigmoid(0.3), 1) + bce(sigmoid(-1.2), 0)) / 2 + 0.25;
      assertEquals(expected, g.eval(l.total())[0], 1e-6);
    }
  }

  private static double loss(Head head, double reg) {
    try (GraphTest g = new GraphTest()) {
      Head.Loss l = head.loss(g.net, g.net.tf.constant(F), g.net.tf.constant(Y), g.net.tf.constant(C),
          g.net.tf.constant((float) reg));
      return g.eval(l.total())[0];
    }
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(doubles = {1e-8, 0.5})
  void adamwStepsMatchTorchFormulaByHand(double eps) {
    // A large epsilon too: TensorFlow's fused kernel adds it before the bias correction, torch after.
    double lr = 0.1;
    double wd = 0.05;
    float[] p0 = {1.0f, -2.0f, 0.5f};
    float[] c = {0.5f, 1.5f, -3.0f};
    try (GraphTest g = new GraphTest()) {
      Param p = g.net.weight("p", Shape.of(3), Init.zeros());
      // loss = sum(c * p^2 / 2): gradient c * p, so it changes between steps and bias correction matters.
      Operand<TFloat32> loss = g.net.tf.sum(g.net.tf.math.mul(g.net.tf.constant(c),
          g.net.tf.math.mul(g.net.tf.constant(0.5f), g.net.tf.math.square(p.read))), g.net.tf.constant(0),
          Sum.keepDims(false));
      var grad = g.net.tf.gradients(loss, List.of(p.read)).<TFloat32>dy(0);
      AdamW opt = new AdamW(g.net, List.of(p), List.of(grad), 0.9, 0.999, eps, wd);
      g.set(p0);
      double[] w = {p0[0], p0[1], p0[2]};
      double[] m = new double[3];
      double[] v = new double[3];
      for (int t = 1; t <= 3; t++) {
        try (TFloat32 lrT = TFloat32.scalarOf((float) lr); TFloat32 tT = TFloat32.scalarOf(t)) {
          g.session().runner().feed(opt.learningRate, lrT).feed(opt.step, tT).addTarget(opt.update).run().close();
        }
        for (int i = 0; i < 3; i++) { // torch.optim.AdamW, step t
          double gi = c[i] * w[i];
          w[i] *= 1 - lr * wd;
          m[i] = 0.9 * m[i] + 0.1 * gi;
          v[i] = 0.999 * v[i] + 0.001 * gi * gi;
          double mh = m[i] / (1 - Math.pow(0.9, t));
          double vh = v[i] / (1 - Math.pow(0.999, t));
          w[i] -= lr * mh / (Math.sqrt(vh) + eps);
        }
        assertArrayEquals(new float[] {(float) w[0], (float) w[1], (float) w[2]}, g.eval(p.read), 1e-5f,
            "after step " + t);
      }
    }
  }
}
