package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/**
 * DCNV2's full-rank cross network: {@code x_{l+1} = x0 * (x_l W_l + b_l) + x_l} (element-wise product), W_l of
 * shape [D, D] drawn from N(0, 1) as RecBole's raw randn parameters, b_l zeros.
 */
public final class CrossNet {
  private final List<Param> weights = new ArrayList<>();
  private final List<Param> biases = new ArrayList<>();

  public CrossNet(Net net, String name, int dim, int layers) {
    for (int l = 0; l < layers; l++) {
      weights.add(net.weight(name + "/w" + l, Shape.of(dim, dim), Init.normal(1.0)));
      biases.add(net.weight(name + "/b" + l, Shape.of(dim), Init.zeros()));
    }
  }

  public Operand<TFloat32> apply(Net net, Operand<TFloat32> x0) {
    var tf = net.tf;
    Operand<TFloat32> x = x0;
    for (int l = 0; l < weights.size(); l++) {
      Operand<TFloat32> xw = tf.math.add(tf.linalg.matMul(x, weights.get(l).read), biases.get(l).read);
      x = tf.math.add(tf.math.mul(x0, xw), x);
    }
    return x;
  }

  /** Sum over layers of the Frobenius norm of W_l (not squared), DCNV2's regulariser before reg_weight. */
  public Operand<TFloat32> weightNormSum(Net net) {
    return Norms.sumOfNorms(net, weights);
  }
}
