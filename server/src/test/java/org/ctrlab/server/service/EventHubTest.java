package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.server.store.RunStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hub's flow control: a watch whose client reads nothing for the stall time is ended, one that reads is not. */
class EventHubTest {
  @TempDir
  Path tmp;

  /** A watcher that is ready only while {@code reading} is set, and records how its watch ended. */
  static final class Scripted implements EventHub.Watcher {
    final AtomicBoolean reading = new AtomicBoolean();
    final CompletableFuture<String> ended = new CompletableFuture<>();

    @Override
    public boolean ready() {
      return reading.get();
    }

    @Override
    public void event(RunEvent e) {}

    @Override
    public void done() {
      ended.complete("done");
    }

    @Override
    public void stopping() {
      ended.complete("stopping");
    }

    @Override
    public void stalled(Duration after) {
      ended.complete("stalled after " + after.toMillis() + " ms");
    }
  }

  @Test
  void aWatchWhoseClientReadsNothingIsEndedAfterTheStallTimeAndFreesItsPlace() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("runs.db"));
        EventHub hub = new EventHub(store, null, Duration.ofMillis(600))) {
      Scripted stuck = new Scripted();
      Scripted slow = new Scripted();
      long t0 = System.nanoTime();
      hub.watch("no-such-run", 0, stuck);
      hub.watch("no-such-run", 0, slow);
      assertEquals(2, hub.watchers());
      // The slow one is not ready for 400 ms, under the stall time, then reads: it is not ended for stalling.
      Thread.sleep(400);
      assertFalse(stuck.ended.isDone(), "not before the stall time");
      slow.reading.set(true);
      hub.poke();
      assertEquals("done", slow.ended.get(5, TimeUnit.SECONDS), "a watch of a run that is gone ends as done");
      assertEquals("stalled after 600 ms", stuck.ended.get(5, TimeUnit.SECONDS));
      assertTrue((System.nanoTime() - t0) / 1e6 >= 600, "ended only after the stall time");
      long deadline = System.currentTimeMillis() + 2000;
      while (hub.watchers() > 0 && System.currentTimeMillis() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(0, hub.watchers(), "both places are freed");
    }
  }
}
