package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.nn.FusedBatchNorm;
import org.tensorflow.types.TFloat32;

/**
 * BatchNorm over the last axis of a [B, C] input, as torch.nn.BatchNorm1d: training normalises with the batch mean
 * and biased variance and moves the running statistics by momentum (running variance unbiased); evaluation uses
 * the running statistics.
 */
public final class BatchNorm {
  private final Param gamma;
  private final Param beta;
  private final Param runningMean;
  private final Param runningVar;
  private final float eps;
  private final float momentum;

  public BatchNorm(Net net, String name, int channels) {
    this(net, name, channels, 1e-5f, 0.1f);
  }

  public BatchNorm(Net net, String name, int channels, float eps, float momentum) {
    this.gamma = net.weight(name + "/gamma", Shape.of(channels), Init.constant(1f));
    this.beta = net.weight(name + "/beta", Shape.of(channels), Init.zeros());
    this.runningMean = net.param(name + "/running_mean", Shape.of(channels), Init.zeros(), Param.Group.OTHER, false);
    this.runningVar = net.param(name + "/running_var", Shape.of(channels), Init.constant(1f), Param.Group.OTHER,
        false);
    this.eps = eps;
    this.momentum = momentum;
    net.markRowsCoupled();
  }

  public Operand<TFloat32> apply(Net net, Operand<TFloat32> x, boolean training) {
    var tf = net.tf;
    if (training) {
      if (net.tower() != null) {
        throw new IllegalStateException("BatchNorm normalises over the whole batch: it cannot be built in a tower");
      }
      // One fused kernel forward and backward (FusedBatchNormV3 on [B, 1, 1, C]); its batch variance output is the
      // unbiased one, which is what the running variance tracks in PyTorch.
      Operand<TFloat32> x4 = tf.expandDims(tf.expandDims(x, tf.constant(1)), tf.constant(1));
      FusedBatchNorm<TFloat32, TFloat32> bn = tf.nn.fusedBatchNorm(x4, gamma.read, beta.read,
          tf.constant(new float[0]), tf.constant(new float[0]), FusedBatchNorm.epsilon(eps),
          FusedBatchNorm.isTraining(true));
      Operand<TFloat32> m = tf.constant(momentum);
      Operand<TFloat32> keep = tf.constant(1f - momentum);
      net.addTrainUpdate(tf.assign(runningMean.var, tf.math.add(tf.math.mul(runningMean.read, keep),
          tf.math.mul(bn.batchMean(), m))));
      net.addTrainUpdate(tf.assign(runningVar.var, tf.math.add(tf.math.mul(runningVar.read, keep),
          tf.math.mul(bn.batchVariance(), m))));
      return tf.reshape(bn.y(), tf.shape(x));
    }
    // Evaluation: y = x * scale + shift.
    Affine a = evalAffine(net);
    return tf.math.add(tf.math.mul(x, a.scale()), a.shift());
  }

  /** Evaluation's per-channel map y = x * scale + shift ([C] each). */
  public record Affine(Operand<TFloat32> scale, Operand<TFloat32> shift) {}

  /** Evaluation's map: scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale. */
  public Affine evalAffine(Net net) {
    var tf = net.tf;
    Operand<TFloat32> scale = tf.math.mul(gamma.read, tf.math.rsqrt(tf.math.add(runningVar.read, tf.constant(eps))));
    return new Affine(scale, tf.math.sub(beta.read, tf.math.mul(runningMean.read, scale)));
  }
}
