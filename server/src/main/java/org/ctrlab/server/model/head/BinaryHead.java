package org.ctrlab.server.model.head;

import org.ctrlab.server.nn.Net;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** The paper's "Original" head: one logit, L = BCE(sigmoid(f), y) + R, p = sigmoid(f). */
public final class BinaryHead implements Head {
  @Override
  public int k() {
    return 1;
  }

  @Override
  public Loss loss(Net net, Operand<TFloat32> f, Operand<TFloat32> y, Operand<TInt32> c, Operand<TFloat32> r) {
    Operand<TFloat32> bin = Head.bceWithLogits(net, flat(net, f), y);
    Operand<TFloat32> total = r == null ? bin : net.tf.math.add(bin, r);
    return new Loss(total, bin, null);
  }

  @Override
  public Operand<TFloat32> probability(Net net, Operand<TFloat32> f) {
    return net.tf.math.sigmoid(flat(net, f));
  }

  private static Operand<TFloat32> flat(Net net, Operand<TFloat32> f) {
    return net.tf.reshape(f, net.tf.constant(new int[] {-1}));
  }
}
