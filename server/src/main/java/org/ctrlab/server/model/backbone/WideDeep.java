package org.ctrlab.server.model.backbone;

import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.nn.Activation;
import org.ctrlab.server.nn.Dense;
import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.FirstOrderLinear;
import org.ctrlab.server.nn.Mlp;
import org.ctrlab.server.nn.Net;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/** WideDeep (METHOD.md 5.1): f = lin + MLP(x0) W_o + b_o, the wide (first-order) scalar broadcast to all K logits. */
public final class WideDeep implements Backbone {
  private final int flat;
  private final FirstOrderLinear wide;
  private final Mlp deep;
  private final Dense out;

  public WideDeep(BackboneContext c, Hyper h) {
    flat = c.flat();
    wide = new FirstOrderLinear(c.net(), c.inputs());
    deep = new Mlp(c.net(), "widedeep/mlp", flat, h.ints("mlp_hidden_size"), h.d("dropout_prob"), Activation.RELU,
        false);
    out = new Dense(c.net(), "widedeep/predict", deep.outSize, c.k(), true);
  }

  @Override
  public Operand<TFloat32> logits(Net net, Operand<TFloat32> e, FeatureInputs raw, boolean training) {
    Operand<TFloat32> x0 = net.tf.reshape(e, net.tf.constant(new int[] {-1, flat}));
    return net.tf.math.add(wide.apply(net, raw), out.apply(net, deep.apply(net, x0, training)));
  }
}
