package org.ctrlab.server.jobs;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import org.ctrlab.server.store.RunStore.Queued;

/**
 * The order in which queued runs start. Runs interrupted by a server stop go first (oldest first). The rest are
 * served round-robin across owners, each owner's runs first-in-first-out: the next run is the oldest queued run of
 * the owner whose last run started longest ago (owners never served first, then by their oldest queued run). So a
 * user's single run waits behind at most one run of each other user with runs queued, however many those users
 * queued, plus the runs already executing.
 */
public final class FairQueue {
  private FairQueue() {}

  /**
   * Every queued run id in the order they will start, given the runs as {@link org.ctrlab.server.store.RunStore#queued}
   * lists them and when each owner's last run started.
   */
  public static List<String> order(List<Queued> queued, Map<String, Long> lastStarted) {
    List<String> out = new ArrayList<>(queued.size());
    Map<String, Deque<Queued>> byOwner = new LinkedHashMap<>();
    long clock = 0;
    for (long t : lastStarted.values()) {
      clock = Math.max(clock, t);
    }
    Map<String, Long> served = new java.util.HashMap<>(lastStarted);
    for (Queued q : queued) {
      if (q.first()) {
        out.add(q.runId());
        served.put(q.owner(), ++clock);
      } else {
        byOwner.computeIfAbsent(q.owner(), k -> new ArrayDeque<>()).add(q);
      }
    }
    record Turn(String owner, long served, long oldest) {}
    PriorityQueue<Turn> turns = new PriorityQueue<>(Comparator.comparingLong(Turn::served)
        .thenComparingLong(Turn::oldest).thenComparing(Turn::owner));
    byOwner.forEach((owner, runs) -> turns.add(new Turn(owner, served.getOrDefault(owner, 0L),
        runs.peekFirst().createdMs())));
    while (!turns.isEmpty()) {
      Turn t = turns.poll();
      Deque<Queued> runs = byOwner.get(t.owner());
      out.add(runs.pollFirst().runId());
      if (!runs.isEmpty()) {
        turns.add(new Turn(t.owner(), ++clock, runs.peekFirst().createdMs()));
      }
    }
    return out;
  }
}
