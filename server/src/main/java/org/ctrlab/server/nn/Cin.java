package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.core.Sum;
import org.tensorflow.types.TFloat32;

/**
 * xDeepFM's compressed interaction network (METHOD.md 5.4). Layer k takes X^{k-1} [B, m, d] and X^0 [B, F, d],
 * forms the outer product Z[b, h*F + j, :] = X^{k-1}[b, h, :] * X^0[b, j, :], maps channels with a 1x1
 * convolution (W^k: H_k x m F, bias), applies ReLU, and (with direct=false) keeps the first half of the channels as
 * X^k and outputs the second half; the last layer outputs all. Output: the outputs summed over d, concatenated,
 * [B, finalLen]. Computed in a [B, d, channels] layout so the convolution is one matrix product.
 */
public final class Cin {
  private final List<Param> weights = new ArrayList<>();
  private final List<Param> biases = new ArrayList<>();
  private final int[] sizes;
  private final int fields;
  private final int dim;
  public final int finalLen;

  public Cin(Net net, String name, int fields, int dim, int[] sizes) {
    this.sizes = sizes.clone();
    this.fields = fields;
    this.dim = dim;
    int m = fields;
    int out = 0;
    for (int k = 0; k < sizes.length; k++) {
      boolean last = k == sizes.length - 1;
      if (!last && sizes[k] % 2 != 0) {
        throw new IllegalArgumentException("CIN layer sizes before the last must be even, got " + sizes[k]);
      }
      int in = m * fields;
      weights.add(net.weight(name + "/conv" + k + "/w", Shape.of(in, sizes[k]), Init.xavierNormal(in, sizes[k])));
      biases.add(net.weight(name + "/conv" + k + "/b", Shape.of(sizes[k]), Init.uniform(1 / Math.sqrt(in))));
      out += last ? sizes[k] : sizes[k] / 2;
      m = sizes[k] / 2;
    }
    finalLen = out;
  }

  public List<Param> weights() {
    return weights;
  }

  public Operand<TFloat32> apply(Net net, Operand<TFloat32> e) {
    var tf = net.tf;
    Operand<TFloat32> x0 = tf.linalg.transpose(e, tf.constant(new int[] {0, 2, 1})); // [B, d, F]
    Operand<TFloat32> x = x0;
    Operand<TFloat32> x0r = tf.reshape(x0, tf.constant(new int[] {-1, 1, fields})); // [B d, 1, F]
    int m = fields;
    List<Operand<TFloat32>> outs = new ArrayList<>();
    for (int k = 0; k < sizes.length; k++) {
      // Z[b, c, h, j] = x[b, c, h] * x0[b, c, j] -> [B * d, m * F], as a batched product of [B d, m, 1] by
      // [B d, 1, F]: its gradients are two batched products, where a broadcast Mul's are two [B d, m, F] products,
      // each then summed over an axis.
      Operand<TFloat32> z = tf.train.batchMatMul(tf.reshape(x, tf.constant(new int[] {-1, m, 1})), x0r, TFloat32.class);
      Operand<TFloat32> flat = tf.reshape(z, tf.constant(new int[] {-1, m * fields}));
      Operand<TFloat32> o = tf.nn.relu(tf.nn.biasAdd(tf.linalg.matMul(flat, weights.get(k).read), biases.get(k).read));
      Operand<TFloat32> o3 = tf.reshape(o, tf.constant(new int[] {-1, dim, sizes[k]})); // [B, d, H_k]
      if (k == sizes.length - 1) {
        outs.add(o3);
      } else {
        int half = sizes[k] / 2;
        // Split, not two Slices: its gradient is one Concat, where each Slice's is a Pad to full width and an AddN
        var halves = tf.split(tf.constant(2), o3, 2L).output();
        x = halves.get(0);
        outs.add(halves.get(1));
        m = half;
      }
    }
    Operand<TFloat32> all = outs.size() == 1 ? outs.get(0) : tf.concat(outs, tf.constant(2));
    return tf.sum(all, tf.constant(1), Sum.keepDims(false)); // [B, finalLen]
  }
}
