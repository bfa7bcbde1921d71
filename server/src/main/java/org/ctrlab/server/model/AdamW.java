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
 * resuming need no new ops. Each variable is updated by one fused ApplyAdam kernel (after its decay, if any).
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
    Operand<TFloat32> b1Power = tf.math.pow(b1, step);
    Operand<TFloat32> b2Power = tf.math.pow(b2, step);
    // TensorFlow's fused ApplyAdam adds epsilon before the bias correction of v; feeding eps * sqrt(1 - b2^t)
    // makes it torch's update exactly: lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps sqrt(1-b2^t))
    //   = lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
    Operand<TFloat32> epsilon = tf.math.mul(tf.constant((float) eps), tf.math.sqrt(tf.math.sub(one, b2Power)));
    Operand<TFloat32> decay = tf.math.sub(one, tf.math.mul(learningRate, tf.constant((float) weightDecay)));
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
      var adam = gated;
      if (weightDecay != 0) {
        // Decoupled decay first, as torch: p <- p (1 - lr wd), then the Adam step.
        adam = tf.withControlDependencies(List.of(gated.assign(p.var, tf.math.mul(p.read, decay))));
      }
      assigns.add(adam.train.applyAdam(p.var, m.var, v.var, b1Power, b2Power, learningRate, b1, b2, epsilon, g));
    }
    update = tf.withControlDependencies(assigns).withName("adamw_update").noOp();
  }
}
