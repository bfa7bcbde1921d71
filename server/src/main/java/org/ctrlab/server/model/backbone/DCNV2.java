package org.ctrlab.server.model.backbone;

import java.util.List;
import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.nn.Activation;
import org.ctrlab.server.nn.CrossNet;
import org.ctrlab.server.nn.Dense;
import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.Mlp;
import org.ctrlab.server.nn.Net;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/** DCNV2, parallel (METHOD.md 5.6): f = [CrossNet(x0) ; MLP_bn(x0)] W_o + b_o, R = reg_weight * sum_l ||W_l||_F. */
public final class DCNV2 implements Backbone {
  private final int flat;
  private final CrossNet cross;
  private final Mlp mlp;
  private final Dense out;
  private final double regWeight;

  public DCNV2(BackboneContext c, Hyper h) {
    flat = c.flat();
    cross = new CrossNet(c.net(), "dcnv2/cross", flat, h.i("cross_layer_num"));
    mlp = new Mlp(c.net(), "dcnv2/mlp", flat, h.ints("mlp_hidden_size"), h.d("dropout_prob"), Activation.RELU, true);
    out = new Dense(c.net(), "dcnv2/predict", flat + mlp.outSize, c.k(), true);
    regWeight = h.d("reg_weight");
  }

  @Override
  public Operand<TFloat32> logits(Net net, Operand<TFloat32> e, FeatureInputs raw, boolean training) {
    var tf = net.tf;
    Operand<TFloat32> x0 = tf.reshape(e, tf.constant(new int[] {-1, flat}));
    Operand<TFloat32> both = tf.concat(List.of(cross.apply(net, x0), mlp.apply(net, x0, training)), tf.constant(1));
    return out.apply(net, both);
  }

  @Override
  public Operand<TFloat32> regularizer(Net net) {
    return net.tf.math.mul(net.tf.constant((float) regWeight), cross.weightNormSum(net));
  }
}
