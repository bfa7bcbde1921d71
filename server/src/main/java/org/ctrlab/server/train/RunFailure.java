package org.ctrlab.server.train;

/** A run failed for a reason of its own that would recur if it were started again (a diverging loss, say). */
public final class RunFailure extends RuntimeException {
  public RunFailure(String message) {
    super(message);
  }
}
