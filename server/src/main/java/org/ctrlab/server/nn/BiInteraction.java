package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.op.core.Sum;
import org.tensorflow.types.TFloat32;

/** NFM's bi-interaction pooling: {@code 1/2 [(sum_f e_f)^2 - sum_f e_f^2]}, [B, F, d] -> [B, d]. No parameters. */
public final class BiInteraction {
  private BiInteraction() {}

  public static Operand<TFloat32> apply(Net net, Operand<TFloat32> e) {
    var tf = net.tf;
    Operand<TFloat32> sum = tf.sum(e, tf.constant(1), Sum.keepDims(false));
    Operand<TFloat32> sumSq = tf.sum(tf.math.square(e), tf.constant(1), Sum.keepDims(false));
    return tf.math.mul(tf.constant(0.5f), tf.math.sub(tf.math.square(sum), sumSq));
  }
}
