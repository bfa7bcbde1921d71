package org.ctrlab.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ctrlab.server.store.RunStore.Queued;
import org.junit.jupiter.api.Test;

class FairQueueTest {
  static Queued q(String id, String owner, long created) {
    return new Queued(id, owner, created, false);
  }

  @Test
  void ownersTakeTurnsAndEachOwnerIsFirstInFirstOut() {
    List<Queued> queue = List.of(q("a1", "alice", 1), q("a2", "alice", 2), q("a3", "alice", 3), q("a4", "alice", 4),
        q("b1", "bob", 5), q("c1", "carol", 6), q("c2", "carol", 7));
    // alice's first run is running already (it started at t=10); bob and carol were never served.
    assertEquals(List.of("b1", "c1", "a1", "c2", "a2", "a3", "a4"), FairQueue.order(queue, Map.of("alice", 10L)));
    // Nobody served yet: the owner of the oldest queued run goes first, then turns.
    assertEquals(List.of("a1", "b1", "c1", "a2", "c2", "a3", "a4"), FairQueue.order(queue, Map.of()));
  }

  @Test
  void fiveHundredRunsOfOneUserDelayAnothersSingleRunByNone() {
    List<Queued> queue = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      queue.add(q("a" + i, "alice", i));
    }
    queue.add(q("b", "bob", 1000));
    List<String> order = FairQueue.order(queue, Map.of("alice", 2000L, "bob", 5L));
    assertEquals("b", order.get(0));
    assertEquals(501, order.size());
    assertEquals("a0", order.get(1));
    assertEquals("a499", order.get(500));
  }

  @Test
  void runsInterruptedByAStopGoFirstAndCountAsTheirOwnersTurn() {
    List<Queued> queue = List.of(new Queued("r", "alice", 50, true), q("a1", "alice", 1), q("b1", "bob", 2));
    // alice's interrupted run starts first, so bob is served before alice's next run.
    assertEquals(List.of("r", "b1", "a1"), FairQueue.order(queue, Map.of("alice", 1L, "bob", 2L)));
  }
}
