package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/**
 * torch.nn.GRUCell: r = s(x W_ir + b_ir + h W_hr + b_hr), z = s(x W_iz + b_iz + h W_hz + b_hz),
 * n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), h' = (1 - z) * n + z * h. Gates packed as [r | z | n];
 * PyTorch's default init, uniform in +-1/sqrt(hidden).
 */
public final class GruCell {
  private final Param wi;
  private final Param wh;
  private final Param bi;
  private final Param bh;
  private final int hidden;

  public GruCell(Net net, String name, int input, int hidden) {
    this.hidden = hidden;
    Init u = Init.uniform(1 / Math.sqrt(hidden));
    wi = net.weight(name + "/w_input", Shape.of(input, 3L * hidden), u);
    wh = net.weight(name + "/w_hidden", Shape.of(hidden, 3L * hidden), u);
    bi = net.weight(name + "/b_input", Shape.of(3L * hidden), u);
    bh = net.weight(name + "/b_hidden", Shape.of(3L * hidden), u);
  }

  /** x: [N, input], h: [N, hidden] -> [N, hidden]. */
  public Operand<TFloat32> apply(Net net, Operand<TFloat32> x, Operand<TFloat32> h) {
    var tf = net.tf;
    Operand<TFloat32> gi = tf.math.add(tf.linalg.matMul(x, wi.read), bi.read);
    Operand<TFloat32> gh = tf.math.add(tf.linalg.matMul(h, wh.read), bh.read);
    Operand<TFloat32> r = tf.math.sigmoid(tf.math.add(gate(net, gi, 0), gate(net, gh, 0)));
    Operand<TFloat32> z = tf.math.sigmoid(tf.math.add(gate(net, gi, 1), gate(net, gh, 1)));
    Operand<TFloat32> n = tf.math.tanh(tf.math.add(gate(net, gi, 2), tf.math.mul(r, gate(net, gh, 2))));
    return tf.math.add(tf.math.mul(tf.math.sub(tf.constant(1f), z), n), tf.math.mul(z, h));
  }

  private Operand<TFloat32> gate(Net net, Operand<TFloat32> g, int i) {
    return net.tf.slice(g, net.tf.constant(new int[] {0, i * hidden}), net.tf.constant(new int[] {-1, hidden}));
  }
}
