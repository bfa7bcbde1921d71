package org.ctrlab.server.train;

import org.ctrlab.api.v1.EpochResult;

/** What the trainer reports while it runs. */
public interface TrainListener {
  default void log(String line) {}

  default void batch(int epoch, int batch, int batches) {}

  default void epoch(EpochResult result, double[][] gradNormSummary) {}

  /**
   * After every epoch; {@code state} is everything needed to resume after it when {@link #wantsState()}, else null.
   * By default calls {@link #epoch(EpochResult, double[][])}.
   */
  default void epoch(EpochResult result, double[][] gradNormSummary, TrainState state) {
    epoch(result, gradNormSummary);
  }

  /** Whether {@link #epoch(EpochResult, double[][], TrainState)} wants the resumable state (it costs a read). */
  default boolean wantsState() {
    return false;
  }

  /** Polled between batches; true stops the run. */
  default boolean cancelled() {
    return false;
  }
}
