package org.ctrlab.server.model.backbone;

import java.util.ArrayList;
import java.util.List;
import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.nn.Activation;
import org.ctrlab.server.nn.Dense;
import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.FirstOrderLinear;
import org.ctrlab.server.nn.Mlp;
import org.ctrlab.server.nn.Net;
import org.ctrlab.server.nn.SelfAttention;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * AutoInt (METHOD.md 5.3): A0 = E W_att + b; n_layers multi-head self-attention blocks (no residual, as the
 * authors ran it); f = lin + ReLU(A_L) W_c + b_c + MLP(x0) W_d + b_d, both projections to K.
 */
public final class AutoInt implements Backbone {
  private final int fields;
  private final int flat;
  private final int att;
  private final int dim;
  private final FirstOrderLinear lin;
  private final Dense attEmbedding;
  private final List<SelfAttention> blocks = new ArrayList<>();
  private final Dense attOut;
  private final Mlp mlp;
  private final Dense dnnOut;

  public AutoInt(BackboneContext c, Hyper h) {
    fields = c.fields();
    flat = c.flat();
    att = h.i("attention_size");
    dim = c.dim();
    double[] drop = h.doubles("dropout_probs");
    lin = new FirstOrderLinear(c.net(), c.inputs());
    attEmbedding = new Dense(c.net(), "autoint/att_embedding", c.dim(), att, true);
    for (int l = 0; l < h.i("n_layers"); l++) {
      blocks.add(new SelfAttention(c.net(), "autoint/mha" + l, att, h.i("num_heads"), drop[0]));
    }
    attOut = new Dense(c.net(), "autoint/attn_fc", fields * att, c.k(), true);
    mlp = new Mlp(c.net(), "autoint/mlp", flat, h.ints("mlp_hidden_size"), drop[1], Activation.RELU, false);
    dnnOut = new Dense(c.net(), "autoint/deep_predict", mlp.outSize, c.k(), true);
  }

  @Override
  public Operand<TFloat32> logits(Net net, Operand<TFloat32> e, FeatureInputs raw, boolean training) {
    var tf = net.tf;
    Operand<TFloat32> a = tf.reshape(attEmbedding.apply(net, tf.reshape(e, tf.constant(new int[] {-1, dim}))),
        tf.constant(new int[] {-1, fields, att}));
    for (SelfAttention b : blocks) {
      a = b.apply(net, a, fields, training);
    }
    Operand<TFloat32> c = tf.reshape(tf.nn.relu(a), tf.constant(new int[] {-1, fields * att}));
    Operand<TFloat32> x0 = tf.reshape(e, tf.constant(new int[] {-1, flat}));
    return tf.math.add(lin.apply(net, raw), tf.math.add(attOut.apply(net, c),
        dnnOut.apply(net, mlp.apply(net, x0, training))));
  }
}
