package org.ctrlab.server.model;

import java.util.ArrayList;
import java.util.List;
import org.ctrlab.server.nn.Init;
import org.ctrlab.server.nn.Net;
import org.ctrlab.server.nn.Param;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * AdamW as torch.optim.AdamW, built in the graph: for step t (1-based, fed), with m and v the moment slots,
 * <pre>
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p = p (1 - lr wd) - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * </pre>
 * With wd = 0 this is torch's Adam, which the authors ran. The learning rate and step are fed, so schedules and
 * resuming need no new ops.
 */
public final class AdamW {
  public final Placeholder<TFloat32> learningRate;
  public final Placeholder<TFloat32> step;
  public final Op update;

  public AdamW(Net net, List<Param> params, List<Operand<TFloat32>> grads, double beta1, double beta2, double eps,
      double weightDecay) {
    var tf = net.tf;
    learningRate = tf.withName("learning_rate").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    step = tf.withName("step").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    Operand<TFloat32> b1 = tf.constant((float) beta1);
    Operand<TFloat32> b2 = tf.constant((float) beta2);
    Operand<TFloat32> one = tf.constant(1f);
    Operand<TFloat32> bc1 = tf.math.sub(one, tf.math.pow(b1, step));
    Operand<TFloat32> bc2 = tf.math.sub(one, tf.math.pow(b2, step));
    Operand<TFloat32> decay = tf.math.sub(one, tf.math.mul(learningRate, tf.constant((float) weightDecay)));
    Operand<TFloat32> epsilon = tf.constant((float) eps);
    // Gate: no variable changes before every gradient is computed (backprop still reads the weights).
    List<Op> gradOps = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      gradOps.add(tf.identity(g));
    }
    var gated = tf.withControlDependencies(gradOps);
    List<Op> assigns = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      Param p = params.get(i);
      Operand<TFloat32> g = gated.identity(grads.get(i));
      Param m = net.param(p.name + "/adam_m", p.shape, Init.zeros(), Param.Group.SLOT, false);
      Param v = net.param(p.name + "/adam_v", p.shape, Init.zeros(), Param.Group.SLOT, false);
      Operand<TFloat32> m1 = tf.math.add(tf.math.mul(b1, m.read), tf.math.mul(tf.math.sub(one, b1), g));
      Operand<TFloat32> v1 = tf.math.add(tf.math.mul(b2, v.read), tf.math.mul(tf.math.sub(one, b2), tf.math.square(g)));
      Operand<TFloat32> denom = tf.math.add(tf.math.sqrt(tf.math.div(v1, bc2)), epsilon);
      Operand<TFloat32> delta = tf.math.mul(learningRate, tf.math.div(tf.math.div(m1, bc1), denom));
      Operand<TFloat32> p1 = tf.math.sub(tf.math.mul(p.read, decay), delta);
      assigns.add(tf.assign(m.var, m1));
      assigns.add(tf.assign(v.var, v1));
      assigns.add(tf.assign(p.var, p1));
    }
    update = tf.withControlDependencies(assigns).withName("adamw_update").noOp();
  }
}
