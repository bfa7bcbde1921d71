package org.ctrlab.server.nn;

import java.util.List;
import java.util.SplittableRandom;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/**
 * EulerNet's Euler interaction layer (METHOD.md 5.7), m input orders to n output orders over d dimensions, on a
 * complex vector given as (r, p) [B, m, d]:
 * lambda = 1/2 log(r^2 + p^2 + 1e-8), theta = atan2(p, r) (before dropout); explicit part
 * lambda' = exp(lambda Omega + b_lambda), theta' = theta Omega + b_theta (Omega [m, n]); implicit part
 * r' = ReLU(vec(r) W + b), p' = ReLU(vec(p) W + b) with one shared W [m d, n d]; output
 * (r' + lambda' cos theta', p' + lambda' sin theta').
 */
public final class EulerInteraction {
  private final Param omega;
  private final Param biasLambda;
  private final Param biasTheta;
  private final Dense implicit;
  private final int m;
  private final int n;
  private final int dim;
  private final double dropEx;
  private final double dropIm;

  public EulerInteraction(Net net, String name, int m, int n, int dim, double dropEx, double dropIm) {
    this.m = m;
    this.n = n;
    this.dim = dim;
    this.dropEx = dropEx;
    this.dropIm = dropIm;
    omega = net.weight(name + "/inter_orders", Shape.of(m, n), EulerInteraction::orderInit);
    biasLambda = net.weight(name + "/bias_lambda", Shape.of(1, dim, n), Init.normal(0.01));
    biasTheta = net.weight(name + "/bias_theta", Shape.of(1, dim, n), Init.normal(0.01));
    implicit = new Dense(net, name + "/implicit", m * dim, n * dim, true, Init.normal(0.1));
  }

  /** softmax over the input axis of N(0, 1) / 0.01: every output order starts as (nearly) one input order. */
  static float[] orderInit(Shape s, SplittableRandom rng) {
    int rows = (int) s.get(0);
    int cols = (int) s.get(1);
    double[] g = new double[rows * cols];
    for (int i = 0; i < g.length; i++) {
      g[i] = rng.nextGaussian() / 0.01;
    }
    float[] out = new float[g.length];
    for (int c = 0; c < cols; c++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int r = 0; r < rows; r++) {
        max = Math.max(max, g[r * cols + c]);
      }
      double sum = 0;
      for (int r = 0; r < rows; r++) {
        sum += Math.exp(g[r * cols + c] - max);
      }
      for (int r = 0; r < rows; r++) {
        out[r * cols + c] = (float) (Math.exp(g[r * cols + c] - max) / sum);
      }
    }
    return out;
  }

  public List<Param> params() {
    return List.of(omega, biasLambda, biasTheta, implicit.w, implicit.b);
  }

  /** (r, p) [B, m, d] -> (r, p) [B, n, d]. */
  public List<Operand<TFloat32>> apply(Net net, Operand<TFloat32> r, Operand<TFloat32> p, boolean training) {
    var tf = net.tf;
    int[] toBdm = {0, 2, 1};
    Operand<TFloat32> lambda = tf.math.mul(tf.constant(0.5f), tf.math.log(tf.math.add(
        tf.math.add(tf.math.square(r), tf.math.square(p)), tf.constant(1e-8f))));
    Operand<TFloat32> theta = tf.math.atan2(p, r);
    lambda = tf.linalg.transpose(lambda, tf.constant(toBdm)); // [B, d, m]
    theta = tf.linalg.transpose(theta, tf.constant(toBdm));
    Operand<TFloat32> rd = Dropout.apply(net, r, dropIm, training);
    Operand<TFloat32> pd = Dropout.apply(net, p, dropIm, training);
    lambda = Dropout.apply(net, lambda, dropEx, training);
    theta = Dropout.apply(net, theta, dropEx, training);
    Operand<TFloat32> l2 = tf.reshape(lambda, tf.constant(new int[] {-1, m}));
    Operand<TFloat32> t2 = tf.reshape(theta, tf.constant(new int[] {-1, m}));
    Operand<TFloat32> lo = tf.math.add(tf.reshape(tf.linalg.matMul(l2, omega.read), tf.constant(new int[] {-1, dim,
        n})), biasLambda.read);
    Operand<TFloat32> to = tf.math.add(tf.reshape(tf.linalg.matMul(t2, omega.read), tf.constant(new int[] {-1, dim,
        n})), biasTheta.read);
    Operand<TFloat32> mag = tf.linalg.transpose(tf.math.exp(lo), tf.constant(toBdm)); // [B, n, d]
    Operand<TFloat32> ang = tf.linalg.transpose(to, tf.constant(toBdm));
    Operand<TFloat32> ri = tf.reshape(tf.nn.relu(implicit.apply(net, tf.reshape(rd, tf.constant(new int[] {-1,
        m * dim})))), tf.constant(new int[] {-1, n, dim}));
    Operand<TFloat32> pi = tf.reshape(tf.nn.relu(implicit.apply(net, tf.reshape(pd, tf.constant(new int[] {-1,
        m * dim})))), tf.constant(new int[] {-1, n, dim}));
    return List.of(tf.math.add(ri, tf.math.mul(mag, tf.math.cos(ang))),
        tf.math.add(pi, tf.math.mul(mag, tf.math.sin(ang))));
  }
}
