package org.ctrlab.server.model.backbone;

import java.util.ArrayList;
import java.util.List;
import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.nn.Dense;
import org.ctrlab.server.nn.EulerInteraction;
import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.Init;
import org.ctrlab.server.nn.Net;
import org.ctrlab.server.nn.Norms;
import org.ctrlab.server.nn.Param;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/**
 * EulerNet (METHOD.md 5.7): (r, p) = (mu cos E, mu sin E), Euler interaction layers per order_list, then
 * f = vec(r) W + b + vec(p) W + b (one Linear applied twice); R = reg_weight (sum of ||P|| over the interaction
 * layers, mu and the output Linear).
 */
public final class EulerNet implements Backbone {
  private final int fields;
  private final int dim;
  private final Param mu;
  private final List<EulerInteraction> layers = new ArrayList<>();
  private final Dense reg;
  private final int lastOrders;
  private final double regWeight;

  public EulerNet(BackboneContext c, Hyper h) {
    fields = c.fields();
    dim = c.dim();
    mu = c.net().weight("eulernet/mu", Shape.of(1, fields, 1), Init.constant(1f));
    int m = fields;
    for (int n : h.ints("order_list")) {
      layers.add(new EulerInteraction(c.net(), "eulernet/layer" + layers.size(), m, n, dim, h.d("drop_ex"),
          h.d("drop_im")));
      m = n;
    }
    lastOrders = m;
    reg = new Dense(c.net(), "eulernet/reg", m * dim, c.k(), true, Init.normal(0.01));
    regWeight = h.d("reg_weight");
  }

  @Override
  public Operand<TFloat32> logits(Net net, Operand<TFloat32> e, FeatureInputs raw, boolean training) {
    var tf = net.tf;
    Operand<TFloat32> r = tf.math.mul(mu.read, tf.math.cos(e));
    Operand<TFloat32> p = tf.math.mul(mu.read, tf.math.sin(e));
    for (EulerInteraction l : layers) {
      List<Operand<TFloat32>> rp = l.apply(net, r, p, training);
      r = rp.get(0);
      p = rp.get(1);
    }
    int width = lastOrders * dim;
    return tf.math.add(reg.apply(net, tf.reshape(r, tf.constant(new int[] {-1, width}))),
        reg.apply(net, tf.reshape(p, tf.constant(new int[] {-1, width}))));
  }

  @Override
  public Operand<TFloat32> regularizer(Net net) {
    if (regWeight == 0) {
      return null;
    }
    List<Param> ps = new ArrayList<>();
    layers.forEach(l -> ps.addAll(l.params()));
    ps.add(mu);
    ps.add(reg.w);
    ps.add(reg.b);
    return net.tf.math.mul(net.tf.constant((float) regWeight), Norms.sumOfNorms(net, ps));
  }
}
