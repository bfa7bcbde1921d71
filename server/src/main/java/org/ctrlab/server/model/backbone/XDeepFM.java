package org.ctrlab.server.model.backbone;

import java.util.ArrayList;
import java.util.List;
import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.nn.Activation;
import org.ctrlab.server.nn.Cin;
import org.ctrlab.server.nn.Dense;
import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.FirstOrderLinear;
import org.ctrlab.server.nn.Mlp;
import org.ctrlab.server.nn.Net;
import org.ctrlab.server.nn.Norms;
import org.ctrlab.server.nn.Param;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * xDeepFM (METHOD.md 5.4): f = lin + CIN(E) w_cin (one scalar, broadcast) + MLP([D, h.., K])(x0), the MLP's
 * output layer ReLU'd as RecBole does; R = reg_weight (sum ||W|| of the MLP, first-order tables and CIN weights).
 */
public final class XDeepFM implements Backbone {
  private final int flat;
  private final FirstOrderLinear lin;
  private final Cin cin;
  private final Dense cinOut;
  private final Mlp dnn;
  private final double regWeight;

  public XDeepFM(BackboneContext c, Hyper h) {
    flat = c.flat();
    lin = new FirstOrderLinear(c.net(), c.inputs());
    cin = new Cin(c.net(), "xdeepfm/cin", c.fields(), c.dim(), h.ints("cin_layer_size"));
    cinOut = new Dense(c.net(), "xdeepfm/cin_linear", cin.finalLen, 1, true);
    int[] hidden = h.ints("mlp_hidden_size");
    int[] sizes = java.util.Arrays.copyOf(hidden, hidden.length + 1);
    sizes[hidden.length] = c.k();
    dnn = new Mlp(c.net(), "xdeepfm/mlp", flat, sizes, h.d("dropout_prob"), Activation.RELU, false);
    regWeight = h.d("reg_weight");
  }

  @Override
  public Operand<TFloat32> logits(Net net, Operand<TFloat32> e, FeatureInputs raw, boolean training) {
    var tf = net.tf;
    Operand<TFloat32> x0 = tf.reshape(e, tf.constant(new int[] {-1, flat}));
    Operand<TFloat32> scalar = tf.math.add(lin.apply(net, raw), cinOut.apply(net, cin.apply(net, e)));
    return tf.math.add(scalar, dnn.apply(net, x0, training));
  }

  @Override
  public Operand<TFloat32> regularizer(Net net) {
    List<Param> ws = new ArrayList<>();
    dnn.layers().forEach(d -> ws.add(d.w));
    ws.addAll(lin.tables());
    ws.addAll(cin.weights());
    return net.tf.math.mul(net.tf.constant((float) regWeight), Norms.sumOfNorms(net, ws));
  }
}
