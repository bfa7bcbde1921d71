package org.ctrlab.server.train;

import org.ctrlab.api.v1.EpochResult;

/** What the trainer reports while it runs. */
public interface TrainListener {
  default void log(String line) {}

  default void batch(int epoch, int batch, int batches) {}

  default void epoch(EpochResult result, double[][] gradNormSummary) {}

  /** Polled between batches; true stops the run. */
  default boolean cancelled() {
    return false;
  }
}
