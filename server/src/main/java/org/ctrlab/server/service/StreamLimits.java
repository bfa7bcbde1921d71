package org.ctrlab.server.service;

import java.time.Duration;

/**
 * What one user or one connection may hold open: server-streaming calls (WatchRun, Predict) per user and per
 * connection, how long a stream may wait for its client to read before it is ended, and how long a connection may
 * stay idle (no call) or live at all (then it is asked to reconnect; its calls get {@code connectionAge} more to
 * finish). Each is a server flag.
 */
public record StreamLimits(Duration stall, int perUser, int perConnection, Duration connectionIdle,
    Duration connectionAge) {
  /** The defaults documented in the README and the server's --help. */
  public static final StreamLimits DEFAULTS = new StreamLimits(Duration.ofSeconds(120), 16, 32,
      Duration.ofMinutes(30), Duration.ofHours(24));

  public StreamLimits {
    if (stall.isNegative() || stall.isZero() || perUser < 1 || perConnection < 1 || connectionIdle.isNegative()
        || connectionIdle.isZero() || connectionAge.isNegative() || connectionAge.isZero()) {
      throw new IllegalArgumentException("stream limits must be positive");
    }
  }

  public StreamLimits withStall(Duration d) {
    return new StreamLimits(d, perUser, perConnection, connectionIdle, connectionAge);
  }

  public StreamLimits withPerUser(int n) {
    return new StreamLimits(stall, n, perConnection, connectionIdle, connectionAge);
  }
}
