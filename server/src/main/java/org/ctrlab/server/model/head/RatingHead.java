package org.ctrlab.server.model.head;

import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.server.nn.Net;
import org.tensorflow.Operand;
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
  /** Rating classes 0..2 (ratings 1-3) are negative, 3..4 (ratings 4-5) positive. */
  private static final float[][] SIGNS = {{-1}, {-1}, {-1}, {1}, {1}};
  private static final float[][] POSITIVE = {{0}, {0}, {0}, {1}, {1}};
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

  @Override
  public Loss loss(Net net, Operand<TFloat32> f, Operand<TFloat32> y, Operand<TInt32> c, Operand<TFloat32> r) {
    var tf = net.tf;
    Operand<TFloat32> bin;
    if (aggregation == Aggregation.LOGIT_SUM) {
      bin = Head.bceWithLogits(net, binaryLogit(net, f), y);
    } else {
      Operand<TFloat32> p = clippedPositive(net, f);
      Operand<TFloat32> ll = tf.math.add(tf.math.mul(y, tf.math.log(p)),
          tf.math.mul(tf.math.sub(tf.constant(1f), y), tf.math.log(tf.math.sub(tf.constant(1f), p))));
      bin = tf.math.neg(tf.math.mean(ll, tf.constant(0)));
    }
    // One fused kernel: the loss and its gradient (softmax - one-hot) in one pass (the sparse-label variant has no
    // C++ gradient).
    Operand<TFloat32> oneHot = tf.oneHot(c, tf.constant(CLASSES), tf.constant(1f), tf.constant(0f));
    Operand<TFloat32> ce = tf.math.mean(tf.nn.softmaxCrossEntropyWithLogits(f, oneHot).loss(), tf.constant(0));
    Operand<TFloat32> binReg = r == null ? bin : tf.math.add(bin, r);
    Operand<TFloat32> total = tf.math.add(tf.math.mul(tf.constant((float) (1 - ratingWeight)), binReg),
        tf.math.mul(tf.constant((float) ratingWeight), ce));
    return new Loss(total, bin, ce);
  }

  @Override
  public Operand<TFloat32> probability(Net net, Operand<TFloat32> f) {
    return aggregation == Aggregation.LOGIT_SUM ? net.tf.math.sigmoid(binaryLogit(net, f)) : clippedPositive(net, f);
  }

  /** z = (f4 + f5) - (f1 + f2 + f3), [B]. */
  private static Operand<TFloat32> binaryLogit(Net net, Operand<TFloat32> f) {
    var tf = net.tf;
    return tf.reshape(tf.linalg.matMul(f, tf.constant(SIGNS)), tf.constant(new int[] {-1}));
  }

  private static Operand<TFloat32> clippedPositive(Net net, Operand<TFloat32> f) {
    var tf = net.tf;
    Operand<TFloat32> p = tf.reshape(tf.linalg.matMul(tf.nn.softmax(f), tf.constant(POSITIVE)),
        tf.constant(new int[] {-1}));
    return tf.clipByValue(p, tf.constant(CLIP), tf.constant(1f - CLIP));
  }
}
