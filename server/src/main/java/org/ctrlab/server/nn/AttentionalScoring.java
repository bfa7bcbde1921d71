package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.core.Sum;
import org.tensorflow.types.TFloat32;

/**
 * FiGNN's attentional scoring with K independent heads: head k scores each field s_k = h w1_k (a -> 1) and weighs
 * fields by w_k = vec(h) W2_k (F a -> F), logit f_k = sum_i w_k[i] s_k[i]. No biases. [B, F, a] -> [B, K].
 */
public final class AttentionalScoring {
  private final Param w1;
  private final Param w2;
  private final int fields;
  private final int dim;
  private final int k;

  public AttentionalScoring(Net net, String name, int fields, int dim, int k) {
    this.fields = fields;
    this.dim = dim;
    this.k = k;
    // Each head is its own pair of Linear layers, Xavier-normal with that layer's fans.
    w1 = net.weight(name + "/mlp1", Shape.of(dim, k), Init.xavierNormal(dim, 1));
    w2 = net.weight(name + "/mlp2", Shape.of((long) fields * dim, (long) k * fields),
        Init.xavierNormal((long) fields * dim, fields));
  }

  public Operand<TFloat32> apply(Net net, Operand<TFloat32> h) {
    var tf = net.tf;
    Operand<TFloat32> s = tf.reshape(tf.linalg.matMul(tf.reshape(h, tf.constant(new int[] {-1, dim})), w1.read),
        tf.constant(new int[] {-1, fields, k})); // [B, F, K]
    Operand<TFloat32> w = tf.reshape(tf.linalg.matMul(tf.reshape(h, tf.constant(new int[] {-1, fields * dim})),
        w2.read), tf.constant(new int[] {-1, k, fields})); // [B, K, F]
    Operand<TFloat32> st = tf.linalg.transpose(s, tf.constant(new int[] {0, 2, 1})); // [B, K, F]
    return tf.sum(tf.math.mul(w, st), tf.constant(2), Sum.keepDims(false));
  }
}
