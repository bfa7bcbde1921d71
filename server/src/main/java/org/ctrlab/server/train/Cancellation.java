package org.ctrlab.server.train;

import java.util.concurrent.CancellationException;

/** Polled between batches (and between noise levels) by long computations; true stops them. */
@FunctionalInterface
public interface Cancellation {
  Cancellation NONE = () -> false;

  boolean cancelled();

  /** Throws CancellationException when cancelled. */
  default void check() {
    if (cancelled()) {
      throw new CancellationException("cancelled");
    }
  }
}
