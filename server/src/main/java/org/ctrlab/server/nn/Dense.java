package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/** A linear layer {@code y = x W + b} with W of shape [in, out] (Xavier-normal) and b zeros, as RecBole's nn.Linear. */
public final class Dense {
  public final Param w;
  public final Param b;
  public final int in;
  public final int out;

  public Dense(Net net, String name, int in, int out, boolean bias) {
    this(net, name, in, out, bias, Init.xavierNormal(in, out));
  }

  public Dense(Net net, String name, int in, int out, boolean bias, Init weightInit) {
    this.in = in;
    this.out = out;
    this.w = net.weight(name + "/w", Shape.of(in, out), weightInit);
    this.b = bias ? net.weight(name + "/b", Shape.of(out), Init.zeros()) : null;
  }

  /** x: [B, in] -> [B, out]. */
  public Operand<TFloat32> apply(Net net, Operand<TFloat32> x) {
    Operand<TFloat32> y = net.tf.linalg.matMul(x, w.read);
    return b == null ? y : net.tf.nn.biasAdd(y, b.read); // BiasAdd: fusable with the MatMul, cheap gradient
  }

  /**
   * (x W + b) * scale + shift with scale and shift [out] folded into the layer: x (W diag(scale)) + (b scale + shift),
   * one product whose bias (and a following activation) the executor fuses into it.
   */
  public Operand<TFloat32> applyScaled(Net net, Operand<TFloat32> x, Operand<TFloat32> scale,
      Operand<TFloat32> shift) {
    var tf = net.tf;
    Operand<TFloat32> bias = b == null ? shift : tf.math.add(tf.math.mul(b.read, scale), shift);
    return tf.nn.biasAdd(tf.linalg.matMul(x, tf.math.mul(w.read, scale)), bias);
  }
}
