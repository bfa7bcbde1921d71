package org.ctrlab.server.nn;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.core.Sum;
import org.tensorflow.types.TFloat32;

/** L2 norms in the graph. */
public final class Norms {
  private Norms() {}

  /** Sum of squares of all elements. */
  public static Operand<TFloat32> squaredSum(Net net, Operand<TFloat32> x) {
    var tf = net.tf;
    Operand<TFloat32> sq = tf.math.square(x);
    return tf.sum(sq, tf.range(tf.constant(0), tf.rank(sq), tf.constant(1)), Sum.keepDims(false));
  }

  /**
   * Frobenius norm, with gradient 0 at an all-zero tensor (as torch.norm's subgradient) instead of 0/0: zero-init
   * biases are regularised by EulerNet.
   */
  public static Operand<TFloat32> norm(Net net, Operand<TFloat32> x) {
    return net.tf.math.sqrt(net.tf.math.maximum(squaredSum(net, x), net.tf.constant(1e-30f)));
  }

  /** Sum of the (unsquared) Frobenius norms of several parameters. */
  public static Operand<TFloat32> sumOfNorms(Net net, List<Param> ps) {
    Operand<TFloat32> total = net.tf.constant(0f);
    for (Param p : ps) {
      total = net.tf.math.add(total, norm(net, p.read));
    }
    return total;
  }
}
