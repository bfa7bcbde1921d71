package org.ctrlab.server.model.backbone;

import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.Net;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * A CTR backbone: given the field embeddings E [B, F, d] (and the raw features, for first-order terms) it returns
 * [B, K] logits. It is told K (1 for the BINARY head, 5 for RATING) and never the loss (METHOD.md section 1.3).
 * Variables are made in the constructor; {@link #logits} may be called more than once (training and evaluation
 * passes share them).
 */
public interface Backbone {
  Operand<TFloat32> logits(Net net, Operand<TFloat32> e, FeatureInputs raw, boolean training);

  /** The backbone's own regulariser R (a scalar), or null. The head decides how it enters the loss. */
  default Operand<TFloat32> regularizer(Net net) {
    return null;
  }
}
