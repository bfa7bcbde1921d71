package org.ctrlab.server.model;

import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.Head;

/**
 * Everything that fixes a model's graph and initial values, and how its session runs it (threads; bf16: TensorFlow's
 * oneDNN mixed-precision rewrite, float32 master weights; towers: how many row ranges a training step is split
 * into, 0 to let the model choose, see {@link CtrModel#towers()}).
 */
public record ModelConfig(String backbone, Hyper hyper, Head head, Aggregation aggregation, double ratingWeight,
    int embeddingSize, double weightDecay, long seed, int threads, boolean bf16, int towers) {
  public ModelConfig {
    if (towers < 0) {
      throw new IllegalArgumentException("towers must be 0 (the model's choice) or at least 1, not " + towers);
    }
  }

  public ModelConfig(String backbone, Hyper hyper, Head head, Aggregation aggregation, double ratingWeight,
      int embeddingSize, double weightDecay, long seed, int threads, boolean bf16) {
    this(backbone, hyper, head, aggregation, ratingWeight, embeddingSize, weightDecay, seed, threads, bf16, 0);
  }

  public ModelConfig(String backbone, Hyper hyper, Head head, Aggregation aggregation, double ratingWeight,
      int embeddingSize, double weightDecay, long seed, int threads) {
    this(backbone, hyper, head, aggregation, ratingWeight, embeddingSize, weightDecay, seed, threads, false);
  }

  /** This config with the towers given (1: one pass over the whole batch). */
  public ModelConfig withTowers(int n) {
    return new ModelConfig(backbone, hyper, head, aggregation, ratingWeight, embeddingSize, weightDecay, seed, threads,
        bf16, n);
  }
}
