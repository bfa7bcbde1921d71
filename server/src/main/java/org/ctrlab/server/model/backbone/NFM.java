package org.ctrlab.server.model.backbone;

import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.nn.Activation;
import org.ctrlab.server.nn.BatchNorm;
import org.ctrlab.server.nn.BiInteraction;
import org.ctrlab.server.nn.Dense;
import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.FirstOrderLinear;
import org.ctrlab.server.nn.Mlp;
import org.ctrlab.server.nn.Net;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * NFM (METHOD.md 5.2): h = MLP_sigmoid,bn(BN(bi-interaction(E))); f = h W_o + lin, with a bias on W_o only for
 * K > 1 (the authors' Smooth head has one, their Original none).
 */
public final class NFM implements Backbone {
  private final FirstOrderLinear lin;
  private final BatchNorm bn;
  private final Mlp mlp;
  private final Dense out;

  public NFM(BackboneContext c, Hyper h) {
    lin = new FirstOrderLinear(c.net(), c.inputs());
    bn = new BatchNorm(c.net(), "nfm/bi_bn", c.dim());
    mlp = new Mlp(c.net(), "nfm/mlp", c.dim(), h.ints("mlp_hidden_size"), h.d("dropout_prob"), Activation.SIGMOID,
        true);
    out = new Dense(c.net(), "nfm/predict", mlp.outSize, c.k(), c.k() > 1);
  }

  @Override
  public Operand<TFloat32> logits(Net net, Operand<TFloat32> e, FeatureInputs raw, boolean training) {
    Operand<TFloat32> bi = bn.apply(net, BiInteraction.apply(net, e), training);
    return net.tf.math.add(out.apply(net, mlp.apply(net, bi, training)), lin.apply(net, raw));
  }
}
