package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/** Element-wise activations by name. */
public enum Activation {
  RELU,
  SIGMOID,
  NONE;

  public Operand<TFloat32> apply(Net net, Operand<TFloat32> x) {
    return switch (this) {
      case RELU -> net.tf.nn.relu(x);
      case SIGMOID -> net.tf.math.sigmoid(x);
      case NONE -> x;
    };
  }
}
