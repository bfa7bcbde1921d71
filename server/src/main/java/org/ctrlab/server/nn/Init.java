package org.ctrlab.server.nn;

import java.util.SplittableRandom;
import org.tensorflow.ndarray.Shape;

/** How a parameter's first values are drawn (in Java, from the run's seeded generator). */
@FunctionalInterface
public interface Init {
  float[] values(Shape shape, SplittableRandom rng);

  static Init zeros() {
    return (s, r) -> new float[(int) s.size()];
  }

  static Init constant(float v) {
    return (s, r) -> {
      float[] a = new float[(int) s.size()];
      java.util.Arrays.fill(a, v);
      return a;
    };
  }

  static Init normal(double std) {
    return (s, r) -> {
      float[] a = new float[(int) s.size()];
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) (std * r.nextGaussian());
      }
      return a;
    };
  }

  /** Xavier (Glorot) normal, std = sqrt(2 / (fanIn + fanOut)), as torch.nn.init.xavier_normal_. */
  static Init xavierNormal(long fanIn, long fanOut) {
    return normal(Math.sqrt(2.0 / (fanIn + fanOut)));
  }

  /** Uniform in [-bound, bound], as PyTorch's default bias and GRU initialisation. */
  static Init uniform(double bound) {
    return (s, r) -> {
      float[] a = new float[(int) s.size()];
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) ((2 * r.nextDouble() - 1) * bound);
      }
      return a;
    };
  }
}
