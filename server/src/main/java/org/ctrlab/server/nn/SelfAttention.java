package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TFloat32;

/**
 * Multi-head self-attention over the F fields, as torch.nn.MultiheadAttention (batch-first, embed dim a, h heads
 * of a/h): Q, K, V projections with bias, softmax(Q K^T / sqrt(a/h)) with dropout on the weights, heads
 * concatenated, output projection with bias. [B, F, a] -> [B, F, a]. Q/K/V keep PyTorch's default init (Xavier-
 * uniform over the packed [3a, a] weight, zero bias); the output projection is Xavier-normal as RecBole's Linear.
 */
public final class SelfAttention {
  private final Param wq;
  private final Param wk;
  private final Param wv;
  private final Param bq;
  private final Param bk;
  private final Param bv;
  private final Dense out;
  private final int dim;
  private final int heads;
  private final double dropout;

  public SelfAttention(Net net, String name, int dim, int heads, double dropout) {
    if (dim % heads != 0) {
      throw new IllegalArgumentException("attention size " + dim + " is not divisible by " + heads + " heads");
    }
    this.dim = dim;
    this.heads = heads;
    this.dropout = dropout;
    double bound = Math.sqrt(6.0 / (dim + 3.0 * dim));
    wq = net.weight(name + "/wq", Shape.of(dim, dim), Init.uniform(bound));
    wk = net.weight(name + "/wk", Shape.of(dim, dim), Init.uniform(bound));
    wv = net.weight(name + "/wv", Shape.of(dim, dim), Init.uniform(bound));
    bq = net.weight(name + "/bq", Shape.of(dim), Init.zeros());
    bk = net.weight(name + "/bk", Shape.of(dim), Init.zeros());
    bv = net.weight(name + "/bv", Shape.of(dim), Init.zeros());
    out = new Dense(net, name + "/out", dim, dim, true);
  }

  /** x: [B, F, a]; F must be static. */
  public Operand<TFloat32> apply(Net net, Operand<TFloat32> x, int fields, boolean training) {
    var tf = net.tf;
    int dh = dim / heads;
    Operand<TFloat32> flat = tf.reshape(x, tf.constant(new int[] {-1, dim}));
    Operand<TFloat32> q = split(net, tf.math.add(tf.linalg.matMul(flat, wq.read), bq.read), fields, dh);
    Operand<TFloat32> k = split(net, tf.math.add(tf.linalg.matMul(flat, wk.read), bk.read), fields, dh);
    Operand<TFloat32> v = split(net, tf.math.add(tf.linalg.matMul(flat, wv.read), bv.read), fields, dh);
    Operand<TFloat32> scores = tf.math.mul(tf.train.batchMatMul(q, k, TFloat32.class, BatchMatMul.adjY(true)),
        tf.constant((float) (1 / Math.sqrt(dh)))); // [B, h, F, F]
    Operand<TFloat32> weights = Dropout.apply(net, Softmax.lastAxis(net, scores), dropout, training);
    Operand<TFloat32> ctx = tf.train.batchMatMul(weights, v, TFloat32.class); // [B, h, F, dh]
    Operand<TFloat32> merged = tf.reshape(tf.linalg.transpose(ctx, tf.constant(new int[] {0, 2, 1, 3})),
        tf.constant(new int[] {-1, dim}));
    return tf.reshape(out.apply(net, merged), tf.constant(new int[] {-1, fields, dim}));
  }

  /** [B*F, a] -> [B, h, F, dh]. */
  private Operand<TFloat32> split(Net net, Operand<TFloat32> x, int fields, int dh) {
    var tf = net.tf;
    return tf.linalg.transpose(tf.reshape(x, tf.constant(new int[] {-1, fields, heads, dh})),
        tf.constant(new int[] {0, 2, 1, 3}));
  }
}
