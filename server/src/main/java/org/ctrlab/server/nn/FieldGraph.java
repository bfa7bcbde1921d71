package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.nn.LeakyRelu;
import org.tensorflow.types.TFloat32;

/**
 * FiGNN's graph over fields (METHOD.md 5.5): attentional edge weights G = softmax_j(LeakyReLU(w^T [h_i ; h_j])) with
 * the diagonal masked, then (layers - 1) propagation steps, each m_i = W_in[i] (sum_j G_ij W_out[j] h_j) + b,
 * h_i = GRUCell(m_i, h_i) + H0_i, with per-field matrices W_in, W_out [F, a, a] and one GRU cell shared by all
 * fields and steps.
 */
public final class FieldGraph {
  private final Param edge;
  private final List<Param> wIn = new ArrayList<>();
  private final List<Param> wOut = new ArrayList<>();
  private final List<Param> bias = new ArrayList<>();
  private final GruCell gru;
  private final int fields;
  private final int dim;

  public FieldGraph(Net net, String name, int fields, int dim, int layers) {
    this.fields = fields;
    this.dim = dim;
    edge = net.weight(name + "/edge_w", Shape.of(2L * dim, 1), Init.xavierNormal(2L * dim, 1));
    for (int l = 0; l < layers - 1; l++) {
      Init x = Init.xavierNormal((long) dim * dim, (long) fields * dim);
      wIn.add(net.weight(name + "/step" + l + "/w_in", Shape.of(fields, dim, dim), x));
      wOut.add(net.weight(name + "/step" + l + "/w_out", Shape.of(fields, dim, dim), x));
      bias.add(net.weight(name + "/step" + l + "/bias", Shape.of(dim), Init.zeros()));
    }
    gru = new GruCell(net, name + "/gru", dim, dim);
  }

  /** Edge weights [B, F, F] from the node states h0 [B, F, a]. */
  Operand<TFloat32> edges(Net net, Operand<TFloat32> h0) {
    var tf = net.tf;
    Operand<TFloat32> flat = tf.reshape(h0, tf.constant(new int[] {-1, dim}));
    Operand<TFloat32> wi = tf.slice(edge.read, tf.constant(new int[] {0, 0}), tf.constant(new int[] {dim, 1}));
    Operand<TFloat32> wj = tf.slice(edge.read, tf.constant(new int[] {dim, 0}), tf.constant(new int[] {dim, 1}));
    Operand<TFloat32> si = tf.reshape(tf.linalg.matMul(flat, wi), tf.constant(new int[] {-1, fields, 1}));
    Operand<TFloat32> sj = tf.reshape(tf.linalg.matMul(flat, wj), tf.constant(new int[] {-1, 1, fields}));
    Operand<TFloat32> alpha = tf.nn.leakyRelu(tf.math.add(si, sj), LeakyRelu.alpha(0.01f));
    float[][] mask = new float[fields][fields];
    for (int i = 0; i < fields; i++) {
      mask[i][i] = -1e9f;
    }
    return Softmax.lastAxis(net, tf.math.add(alpha, tf.constant(mask)));
  }

  public Operand<TFloat32> apply(Net net, Operand<TFloat32> h0) {
    var tf = net.tf;
    Operand<TFloat32> g = edges(net, h0);
    Operand<TFloat32> h = h0;
    for (int l = 0; l < wIn.size(); l++) {
      Operand<TFloat32> out = perField(net, h, wOut.get(l)); // W_out[j] h_j
      Operand<TFloat32> agg = tf.train.batchMatMul(g, out, TFloat32.class); // sum_j G_ij (.)
      Operand<TFloat32> m = tf.math.add(perField(net, agg, wIn.get(l)), bias.get(l).read);
      Operand<TFloat32> next = gru.apply(net, tf.reshape(m, tf.constant(new int[] {-1, dim})),
          tf.reshape(h, tf.constant(new int[] {-1, dim})));
      h = tf.math.add(tf.reshape(next, tf.constant(new int[] {-1, fields, dim})), h0);
    }
    return h;
  }

  /** x [B, F, a] with each field's own [a, a] matrix: out[b, i] = x[b, i] W[i]. */
  private Operand<TFloat32> perField(Net net, Operand<TFloat32> x, Param w) {
    var tf = net.tf;
    Operand<TFloat32> t = tf.linalg.transpose(x, tf.constant(new int[] {1, 0, 2})); // [F, B, a]
    Operand<TFloat32> y = tf.train.batchMatMul(t, w.read, TFloat32.class); // [F, B, a]
    return tf.linalg.transpose(y, tf.constant(new int[] {1, 0, 2}));
  }
}
