package org.ctrlab.server.model.backbone;

import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.nn.AttentionalScoring;
import org.ctrlab.server.nn.Dense;
import org.ctrlab.server.nn.Dropout;
import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.FieldGraph;
import org.ctrlab.server.nn.Net;
import org.ctrlab.server.nn.SelfAttention;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * FiGNN (METHOD.md 5.5): U = Dropout(E W_att + b); H0 = ReLU(MHA(U) + E W_res + b_res); a field graph with GRU
 * propagation; K independent attentional scoring heads give the K logits (K is needed inside the backbone).
 */
public final class FiGNN implements Backbone {
  private final int fields;
  private final int dim;
  private final int att;
  private final double hiddenDropout;
  private final Dense attEmbedding;
  private final SelfAttention mha;
  private final Dense residual;
  private final FieldGraph graph;
  private final AttentionalScoring scoring;

  public FiGNN(BackboneContext c, Hyper h) {
    fields = c.fields();
    dim = c.dim();
    att = h.i("attention_size");
    hiddenDropout = h.d("hidden_dropout_prob");
    attEmbedding = new Dense(c.net(), "fignn/att_embedding", dim, att, true);
    mha = new SelfAttention(c.net(), "fignn/mha", att, h.i("num_heads"), h.d("attn_dropout_prob"));
    residual = new Dense(c.net(), "fignn/v_res_embedding", dim, att, true);
    graph = new FieldGraph(c.net(), "fignn/graph", fields, att, h.i("n_layers"));
    scoring = new AttentionalScoring(c.net(), "fignn/scoring", fields, att, c.k());
  }

  @Override
  public Operand<TFloat32> logits(Net net, Operand<TFloat32> e, FeatureInputs raw, boolean training) {
    var tf = net.tf;
    Operand<TFloat32> flat = tf.reshape(e, tf.constant(new int[] {-1, dim}));
    Operand<TFloat32> u = Dropout.apply(net, tf.reshape(attEmbedding.apply(net, flat),
        tf.constant(new int[] {-1, fields, att})), hiddenDropout, training);
    Operand<TFloat32> res = tf.reshape(residual.apply(net, flat), tf.constant(new int[] {-1, fields, att}));
    Operand<TFloat32> h0 = tf.nn.relu(tf.math.add(mha.apply(net, u, fields, training), res));
    return scoring.apply(net, graph.apply(net, h0));
  }
}
