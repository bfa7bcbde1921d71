package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.op.random.RandomUniform;
import org.tensorflow.types.TFloat32;

/** Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1-p). */
public final class Dropout {
  private Dropout() {}

  public static Operand<TFloat32> apply(Net net, Operand<TFloat32> x, double p, boolean training) {
    if (!training || p <= 0) {
      return x;
    }
    var tf = net.tf;
    Operand<TFloat32> u = tf.random.randomUniform(tf.shape(x), TFloat32.class,
        RandomUniform.seed(net.seed()), RandomUniform.seed2(net.nextOpSeed()));
    Operand<TFloat32> keep = tf.dtypes.cast(tf.math.greaterEqual(u, tf.constant((float) p)), TFloat32.class);
    return tf.math.mul(x, tf.math.mul(keep, tf.constant((float) (1.0 / (1.0 - p)))));
  }
}
