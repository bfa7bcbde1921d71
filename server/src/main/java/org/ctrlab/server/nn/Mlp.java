package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * RecBole's MLPLayers: for each layer, dropout, linear, optional BatchNorm, activation; the activation is applied
 * after the last layer too (METHOD.md section 5).
 */
public final class Mlp {
  private final List<Dense> layers = new ArrayList<>();
  private final List<BatchNorm> norms = new ArrayList<>();
  private final double dropout;
  private final Activation act;
  public final int outSize;

  public Mlp(Net net, String name, int in, int[] sizes, double dropout, Activation act, boolean batchNorm) {
    this.dropout = dropout;
    this.act = act;
    int prev = in;
    for (int i = 0; i < sizes.length; i++) {
      layers.add(new Dense(net, name + "/dense" + i, prev, sizes[i], true));
      norms.add(batchNorm ? new BatchNorm(net, name + "/bn" + i, sizes[i]) : null);
      prev = sizes[i];
    }
    this.outSize = prev;
  }

  public Operand<TFloat32> apply(Net net, Operand<TFloat32> x, boolean training) {
    Operand<TFloat32> h = x;
    for (int i = 0; i < layers.size(); i++) {
      h = Dropout.apply(net, h, dropout, training);
      BatchNorm norm = norms.get(i);
      if (norm == null) {
        h = layers.get(i).apply(net, h);
      } else if (training) {
        h = norm.apply(net, layers.get(i).apply(net, h), true);
      } else {
        // Evaluation's BatchNorm is a per-channel affine map: folded into the layer's weights and bias, the layer and
        // its normalisation run as one fused product (with the activation too when it is a ReLU: DCNV2's, not NFM's
        // sigmoid).
        BatchNorm.Affine a = norm.evalAffine(net);
        h = layers.get(i).applyScaled(net, h, a.scale(), a.shift());
      }
      h = act.apply(net, h);
    }
    return h;
  }

  public List<Dense> layers() {
    return layers;
  }
}
