package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/**
 * FiGNN's attentional scoring with K independent heads: head k scores each field s_k = h w1_k (a -> 1) and weighs
 * fields by w_k = vec(h) W2_k (F a -> F), logit f_k = sum_i w_k[i] s_k[i]. No biases. [B, F, a] -> [B, K].
 * The K heads' W2_k are one [F a, F K] matrix whose column i K + k is head k's weight of field i, so the field
 * weights come out in the scores' order, with no transpose (a slow op on small trailing axes here).
 */
public final class AttentionalScoring {
  private final Param w1;
  private final Param w2;
  private final int fields;
  private final int dim;
  private final int k;
  private final float[][] sumOverFields;

  public AttentionalScoring(Net net, String name, int fields, int dim, int k) {
    this.fields = fields;
    this.dim = dim;
    this.k = k;
    sumOverFields = new float[fields * k][k];
    for (int i = 0; i < fields; i++) {
      for (int head = 0; head < k; head++) {
        sumOverFields[i * k + head][head] = 1;
      }
    }
    // Each head is its own pair of Linear layers, Xavier-normal with that layer's fans.
    w1 = net.weight(name + "/mlp1", Shape.of(dim, k), Init.xavierNormal(dim, 1));
    w2 = net.weight(name + "/mlp2", Shape.of((long) fields * dim, (long) k * fields),
        headMajorDraw(Init.xavierNormal((long) fields * dim, fields), fields, k));
  }

  /**
   * Draws the values for the head-major layout (column k F + i, the layout before commit af16d1a) and stores them
   * field-major (column i K + k), so a seed gives every head the same first weights as it did before.
   */
  static Init headMajorDraw(Init init, int fields, int k) {
    return (shape, rng) -> {
      float[] drawn = init.values(shape, rng);
      float[] out = new float[drawn.length];
      int cols = fields * k;
      for (int row = 0; row < drawn.length / cols; row++) {
        for (int head = 0; head < k; head++) {
          for (int i = 0; i < fields; i++) {
            out[row * cols + i * k + head] = drawn[row * cols + head * fields + i];
          }
        }
      }
      return out;
    };
  }

  public Operand<TFloat32> apply(Net net, Operand<TFloat32> h) {
    var tf = net.tf;
    Operand<TFloat32> s = tf.reshape(tf.linalg.matMul(tf.reshape(h, tf.constant(new int[] {-1, dim})), w1.read),
        tf.constant(new int[] {-1, fields * k})); // [B, F K], column i K + k
    Operand<TFloat32> w = tf.linalg.matMul(tf.reshape(h, tf.constant(new int[] {-1, fields * dim})), w2.read);
    // The sum over fields as a product with a 0/1 [F K, K] matrix: a reduction over a small middle axis and its
    // broadcast gradient are slower here than two small MatMuls.
    return tf.linalg.matMul(tf.math.mul(w, s), tf.constant(sumOverFields));
  }
}
