package org.ctrlab.server.model.head;

import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.server.nn.Net;
import org.tensorflow.Operand;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The paper's "Smooth" head (METHOD.md 1.4): five rating logits f; L = (1 - lr)(L_BIN + R) + lr L_CE, with L_CE the
 * 5-way cross-entropy on rating - 1 and L_BIN the click BCE on an aggregated probability:
 * LOGIT_SUM p = sigmoid((f4 + f5) - (f1 + f2 + f3)) (the authors' code), or PROB_SUM p = softmax(f)_4 + softmax(f)_5
 * clipped to [1e-7, 1 - 1e-7] (the paper's eq. 17).
 */
public final class RatingHead implements Head {
  public static final int CLASSES = 5;
  /**
   * Rows 0..4: the identity (f^T); row 5: the logit-sum signs, classes 0..2 (ratings 1-3) negative, 3..4 (ratings
   * 4-5) positive. One MatMul with it turns f [B, 5] into [6, B]: the transposed logits and the binary logit z.
   */
  private static final float[][] TRANSPOSE_AND_SIGNS = {
      {1, 0, 0, 0, 0}, {0, 1, 0, 0, 0}, {0, 0, 1, 0, 0}, {0, 0, 0, 1, 0}, {0, 0, 0, 0, 1}, {-1, -1, -1, 1, 1}};
  private static final int[][] CLASS_ROWS = {{0}, {1}, {2}, {3}, {4}};
  private static final float CLIP = 1e-7f;

  private final double ratingWeight;
  private final Aggregation aggregation;

  public RatingHead(double ratingWeight, Aggregation aggregation) {
    this.ratingWeight = ratingWeight;
    this.aggregation = aggregation == Aggregation.PROB_SUM ? Aggregation.PROB_SUM : Aggregation.LOGIT_SUM;
  }

  @Override
  public int k() {
    return CLASSES;
  }

  /*
   * The head works on the transposed logits [5, B]. TensorFlow's CPU kernels reduce a [B, 5] tensor over its
   * 5-wide inner axis slowly (the fused SoftmaxCrossEntropyWithLogits kernel took about 0.6 ms at B = 4096, a
   * row-wise Max or Sum 50-80 us, a Transpose 0.25 ms), while reductions over the outer axis of [5, B] run at memory
   * speed (about 10 us). The transpose itself is one small MatMul, which also yields z.
   */

  @Override
  public Loss loss(Net net, Operand<TFloat32> f, Operand<TFloat32> y, Operand<TInt32> c, Operand<TFloat32> r) {
    var tf = net.tf;
    Transposed t = transposed(net, f);
    Operand<TFloat32> bin;
    if (aggregation == Aggregation.LOGIT_SUM) {
      bin = Head.bceWithLogits(net, t.z, y);
    } else {
      Operand<TFloat32> p = clippedPositive(net, t);
      Operand<TFloat32> ll = tf.math.add(tf.math.mul(y, tf.math.log(p)),
          tf.math.mul(tf.math.sub(tf.constant(1f), y), tf.math.log(tf.math.sub(tf.constant(1f), p))));
      bin = tf.math.neg(tf.math.mean(ll, tf.constant(0)));
    }
    // CE = logsumexp(f) - f_c, with f_c picked by a [5, B] class mask.
    Operand<TFloat32> mask = tf.dtypes.cast(tf.math.equal(tf.constant(CLASS_ROWS),
        tf.reshape(c, tf.constant(new int[] {1, -1}))), TFloat32.class);
    Operand<TFloat32> picked = tf.sum(tf.math.mul(t.logits, mask), tf.constant(0));
    Operand<TFloat32> ce = tf.math.mean(tf.math.sub(logSumExp(net, t), picked), tf.constant(0));
    Operand<TFloat32> binReg = r == null ? bin : tf.math.add(bin, r);
    Operand<TFloat32> total = tf.math.add(tf.math.mul(tf.constant((float) (1 - ratingWeight)), binReg),
        tf.math.mul(tf.constant((float) ratingWeight), ce));
    return new Loss(total, bin, ce);
  }

  @Override
  public Operand<TFloat32> probability(Net net, Operand<TFloat32> f) {
    Transposed t = transposed(net, f);
    return aggregation == Aggregation.LOGIT_SUM ? net.tf.math.sigmoid(t.z) : clippedPositive(net, t);
  }

  /**
   * f^T [5, B]; z = (f4 + f5) - (f1 + f2 + f3) [B]; the row maximum m [B] (no gradient: logsumexp's does not depend
   * on the shift) and exp(f^T - m) [5, B].
   */
  private record Transposed(Operand<TFloat32> logits, Operand<TFloat32> z, Operand<TFloat32> max,
      Operand<TFloat32> exp) {}

  private static Transposed transposed(Net net, Operand<TFloat32> f) {
    var tf = net.tf;
    Operand<TFloat32> t6 = tf.linalg.matMul(tf.constant(TRANSPOSE_AND_SIGNS), f, MatMul.transposeB(true));
    Operand<TFloat32> ft = tf.slice(t6, tf.constant(new int[] {0, 0}), tf.constant(new int[] {CLASSES, -1}));
    Operand<TFloat32> z = tf.reshape(tf.slice(t6, tf.constant(new int[] {CLASSES, 0}), tf.constant(new int[] {1, -1})),
        tf.constant(new int[] {-1}));
    Operand<TFloat32> m = tf.stopGradient(tf.max(ft, tf.constant(0)));
    return new Transposed(ft, z, m, tf.math.exp(tf.math.sub(ft, m)));
  }

  private static Operand<TFloat32> logSumExp(Net net, Transposed t) {
    var tf = net.tf;
    return tf.math.add(t.max, tf.math.log(tf.sum(t.exp, tf.constant(0))));
  }

  /** softmax(f)_4 + softmax(f)_5 clipped to [1e-7, 1 - 1e-7], [B]. */
  private static Operand<TFloat32> clippedPositive(Net net, Transposed t) {
    var tf = net.tf;
    Operand<TFloat32> positive = tf.sum(tf.slice(t.exp, tf.constant(new int[] {3, 0}), tf.constant(new int[] {2, -1})),
        tf.constant(0));
    Operand<TFloat32> p = tf.math.div(positive, tf.sum(t.exp, tf.constant(0)));
    return tf.clipByValue(p, tf.constant(CLIP), tf.constant(1f - CLIP));
  }
}
