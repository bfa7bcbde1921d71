package org.ctrlab.server.service;

/**
 * Per-request limits, each a server flag; a request over one is refused with INVALID_ARGUMENT (RESOURCE_EXHAUSTED
 * for the queue cap) before any work is done for it.
 */
public record Limits(int maxSigmas, int maxRankingK, int maxListLength, long maxParameters, int maxNameLength,
    int maxTags, int maxTagLength, int maxQueuedPerUser, int maxStudyRuns, int maxRequestBytes,
    int maxResponseBytes) {
  /** The defaults documented in the README and the server's --help. */
  public static final Limits DEFAULTS = new Limits(64, 16, 64, 50_000_000L, 200, 20, 100, 1000, 500, 1 << 20,
      1_000_000);

  public Limits withMaxQueuedPerUser(int n) {
    return new Limits(maxSigmas, maxRankingK, maxListLength, maxParameters, maxNameLength, maxTags, maxTagLength, n,
        maxStudyRuns, maxRequestBytes, maxResponseBytes);
  }
}
