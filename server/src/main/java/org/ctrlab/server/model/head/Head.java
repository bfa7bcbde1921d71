package org.ctrlab.server.model.head;

import org.ctrlab.server.nn.Net;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * A prediction head owns K (the number of logits the backbone emits), the loss and the click probability
 * (METHOD.md sections 1.3-1.5).
 */
public interface Head {
  int k();

  /**
   * The training loss for logits f [B, K], click labels y [B] (0/1), rating classes c [B] (0..4) and the backbone's
   * regulariser r (a scalar, or null).
   */
  Loss loss(Net net, Operand<TFloat32> f, Operand<TFloat32> y, Operand<TInt32> c, Operand<TFloat32> r);

  /** Click probability [B]. */
  Operand<TFloat32> probability(Net net, Operand<TFloat32> f);

  /** The total loss and its parts (rating is null for the binary head). */
  record Loss(Operand<TFloat32> total, Operand<TFloat32> binary, Operand<TFloat32> rating) {}

  /** mean(softplus(z) - y z): binary cross-entropy with logits, numerically stable. */
  static Operand<TFloat32> bceWithLogits(Net net, Operand<TFloat32> z, Operand<TFloat32> y) {
    var tf = net.tf;
    return tf.math.mean(tf.math.sub(tf.math.softplus(z), tf.math.mul(y, z)), tf.constant(0));
  }
}
