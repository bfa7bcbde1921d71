package org.ctrlab.server.model;

import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.Head;

/**
 * Everything that fixes a model's graph and initial values, and how its session runs it (threads; bf16: TensorFlow's
 * oneDNN mixed-precision rewrite, float32 master weights).
 */
public record ModelConfig(String backbone, Hyper hyper, Head head, Aggregation aggregation, double ratingWeight,
    int embeddingSize, double weightDecay, long seed, int threads, boolean bf16) {
  public ModelConfig(String backbone, Hyper hyper, Head head, Aggregation aggregation, double ratingWeight,
      int embeddingSize, double weightDecay, long seed, int threads) {
    this(backbone, hyper, head, aggregation, ratingWeight, embeddingSize, weightDecay, seed, threads, false);
  }
}
