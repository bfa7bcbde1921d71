package org.ctrlab.server.nn;

import java.util.Arrays;
import org.tensorflow.Operand;
import org.tensorflow.op.core.Max;
import org.tensorflow.op.core.Sum;
import org.tensorflow.types.TFloat32;

/**
 * Softmax over the last axis, for attention over a handful of fields (AutoInt, FiGNN): exp(x - max) divided by its
 * row sums, the sums taken as one matrix product with an n x n matrix of ones, which gives every element its row's
 * sum (so the division needs no broadcast, and neither does its gradient). On such short rows oneDNN's softmax
 * kernel, TensorFlow's own LogSoftmax and a Sum over the last axis are each several times slower than the product
 * (bench --profile, docs/results.md). The product costs n multiply-adds per element, so rows longer than
 * {@link #PRODUCT_ROWS_UP_TO} take their sums with a Sum. The max is a shift the softmax does not depend on: no
 * gradient flows through it.
 */
public final class Softmax {
  private Softmax() {}

  /**
   * The longest row whose sums are taken as a product: a bound set, not measured (the product was measured on rows of
   * 7, AutoInt's and FiGNN's on ML-1M).
   */
  static final int PRODUCT_ROWS_UP_TO = 16;

  /** softmax(x) over the last axis; with a static last dimension of at most 16 the row sums are a product. */
  public static Operand<TFloat32> lastAxis(Net net, Operand<TFloat32> x) {
    var tf = net.tf;
    var shape = x.shape();
    long n = shape.numDimensions() > 0 ? shape.get(shape.numDimensions() - 1) : -1;
    Operand<TFloat32> max = tf.stopGradient(tf.max(x, tf.constant(-1), Max.keepDims(true)));
    Operand<TFloat32> e = tf.math.exp(tf.math.sub(x, max));
    if (n <= 0 || n > PRODUCT_ROWS_UP_TO) {
      return tf.math.div(e, tf.sum(e, tf.constant(-1), Sum.keepDims(true)));
    }
    float[][] ones = new float[(int) n][(int) n];
    for (float[] row : ones) {
      Arrays.fill(row, 1f);
    }
    Operand<TFloat32> rows = tf.reshape(e, tf.constant(new long[] {-1, n}));
    Operand<TFloat32> sums = tf.reshape(tf.linalg.matMul(rows, tf.constant(ones)), tf.shape(e));
    return tf.math.div(e, sums);
  }
}
