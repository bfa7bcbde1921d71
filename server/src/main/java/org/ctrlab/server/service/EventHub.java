package org.ctrlab.server.service;

import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.ctrlab.api.v1.BatchProgress;
import org.ctrlab.api.v1.QueueUpdate;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.store.ProgressStore;
import org.ctrlab.server.store.RunStore;

/**
 * Follows runs for their watchers. Events are written to the store by whoever makes them (the server, or a worker
 * in its own process), so the hub reads them from there: every quarter of a second, and at once when this
 * server changes a run, it sends each watcher the stored events after the last one it sent, the run's live batch
 * progress while it runs, and its queue position while it waits. A watcher whose stream is not ready for more
 * (a slow client) is skipped until it is: its events wait in the store, not in memory; one that has not read for the
 * stall time is ended.
 */
public final class EventHub implements AutoCloseable {
  private static final long POLL_MS = 250;
  private static final int BATCH = 500;

  /** The receiving end of one watch. */
  public interface Watcher {
    /** Whether the watcher can take more now (flow control); events are not lost by saying no. */
    boolean ready();

    void event(RunEvent e);

    /** The run reached a final state and every event has been sent. */
    void done();

    /** The server is stopping. */
    void stopping();

    /** The client read nothing for the stall time: the watch is over, its place freed. */
    void stalled(java.time.Duration after);
  }

  private static final class Watch {
    final String runId;
    final Watcher w;
    long next;
    long lastProgressMs = -1;
    int lastPosition = -1;
    long lastIndex = -1;
    long notReadySinceMs = -1;

    Watch(String runId, Watcher w, long next) {
      this.runId = runId;
      this.w = w;
      this.next = next;
    }
  }

  private final RunStore store;
  private final Supervisor supervisor;
  private final Map<Watch, Boolean> watches = new ConcurrentHashMap<>();
  private final Thread poller;
  private final java.time.Duration stall;
  private volatile boolean closed;

  /** @param stall how long a watcher may not read before its watch is ended */
  public EventHub(RunStore store, Supervisor supervisor, java.time.Duration stall) {
    this.store = store;
    this.supervisor = supervisor;
    this.stall = stall;
    this.poller = new Thread(this::loop, "ctrlab-events");
    this.poller.setDaemon(true);
    this.poller.start();
  }

  /** Starts following a run from an event index; returns what stops the watch. */
  public Runnable watch(String runId, long from, Watcher w) {
    Watch x = new Watch(runId, w, from);
    watches.put(x, Boolean.TRUE);
    poke();
    return () -> watches.remove(x);
  }

  public int watchers() {
    return watches.size();
  }

  /** Sends what is new now rather than at the next poll. */
  public void poke() {
    LockSupport.unpark(poller);
  }

  private void loop() {
    while (!closed) {
      try {
        round();
      } catch (Throwable t) {
        org.slf4j.LoggerFactory.getLogger(EventHub.class).warn("event poll failed", t);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(POLL_MS));
    }
  }

  private void round() throws SQLException {
    if (watches.isEmpty()) {
      return;
    }
    List<String> order = null;
    int running = -1;
    for (Watch x : watches.keySet()) {
      boolean finished = false;
      try {
        if (!x.w.ready()) {
          long now = System.currentTimeMillis();
          if (x.notReadySinceMs < 0) {
            x.notReadySinceMs = now;
          } else if (now - x.notReadySinceMs > stall.toMillis()) {
            watches.remove(x);
            x.w.stalled(stall);
          }
          continue;
        }
        x.notReadySinceMs = -1;
        // The record first: if it is final now, its final event is already stored and this read returns it.
        Optional<Run> run = store.get(x.runId);
        List<RunEvent> events = store.events(x.runId, x.next, BATCH);
        for (RunEvent e : events) {
          x.w.event(e);
          x.next = e.getIndex() + 1;
          x.lastIndex = e.getIndex();
          finished |= e.hasState() && Supervisor.isFinal(e.getState().getState());
        }
        if (!finished && events.size() < BATCH) {
          if (run.isEmpty() || Supervisor.isFinal(run.get().getState())) {
            finished = true; // deleted, or final with every event sent (the watch began past the end)
          } else if (run.get().getState() == RunState.RUNNING) {
            Optional<ProgressStore.Progress> p = store.progress().get(x.runId);
            if (p.isPresent() && p.get().attempt() == run.get().getAttempt() && p.get().unixMs() != x.lastProgressMs) {
              x.lastProgressMs = p.get().unixMs();
              x.w.event(RunEvent.newBuilder().setIndex(Math.max(0, x.lastIndex)).setUnixMs(p.get().unixMs())
                  .setBatch(BatchProgress.newBuilder().setEpoch(p.get().epoch()).setBatch(p.get().batch())
                      .setBatches(p.get().batches())).build());
            }
          } else if (run.get().getState() == RunState.QUEUED) {
            if (order == null) {
              order = supervisor.queueOrder();
              running = supervisor.busySlots();
            }
            int pos = order.indexOf(x.runId);
            if (pos >= 0 && pos != x.lastPosition) {
              x.lastPosition = pos;
              x.w.event(RunEvent.newBuilder().setIndex(Math.max(0, x.lastIndex))
                  .setUnixMs(System.currentTimeMillis()).setQueue(QueueUpdate.newBuilder().setPosition(pos)
                      .setQueued(order.size()).setRunning(running)).build());
            }
          }
        }
      } catch (RuntimeException gone) {
        watches.remove(x); // its stream is closed
        continue;
      }
      if (finished) {
        watches.remove(x);
        x.w.done();
      }
    }
  }

  /** Ends every watch with "server stopping". */
  @Override
  public void close() {
    closed = true;
    LockSupport.unpark(poller);
    try {
      poller.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Watch x : watches.keySet()) {
      try {
        x.w.stopping();
      } catch (RuntimeException ignored) {
        // already gone
      }
    }
    watches.clear();
  }
}
