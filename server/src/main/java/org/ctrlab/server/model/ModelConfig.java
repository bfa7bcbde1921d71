package org.ctrlab.server.model;

import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.Head;

/** Everything that fixes a model's graph and initial values. */
public record ModelConfig(String backbone, Hyper hyper, Head head, Aggregation aggregation, double ratingWeight,
    int embeddingSize, double weightDecay, long seed, int threads) {}
