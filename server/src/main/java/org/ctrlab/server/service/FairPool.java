package org.ctrlab.server.service;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A fixed set of threads shared fairly among users: each user's tasks wait in a queue of their own, and a freed
 * thread takes the oldest task of the waiting user who has the fewest tasks running (ties: the user served longest
 * ago), so while another user waits no user gets a thread beyond their share. Tasks are short steps (a Predict
 * stream is one task per batch, parked without a thread while its client reads), so a thread frees often.
 *
 * <p>A new unary call is refused when every user's waiting tasks together reach {@code maxWaiting}, or its user's
 * reach {@code maxWaitingPerUser}; a stream's tasks (admitted by the stream limits) are never refused.
 */
final class FairPool {
  private final int maxWaiting;
  private final int maxWaitingPerUser;
  private final Map<String, Deque<Task>> waiting = new LinkedHashMap<>();
  /** Waiting tasks of new unary calls, in all and per user: what the waiting room bounds. */
  private final Map<String, Integer> waitingCalls = new HashMap<>();
  private int waitingCallCount;

  private record Task(Runnable body, boolean call) {}

  private final Map<String, Integer> running = new HashMap<>();
  private final Map<String, Long> lastServed = new HashMap<>();
  private final List<Thread> workers = new ArrayList<>();
  private long clock;
  private int waitingCount;
  private int runningCount;
  private boolean closed;

  FairPool(int threads, int maxWaiting, int maxWaitingPerUser) {
    this.maxWaiting = maxWaiting;
    this.maxWaitingPerUser = maxWaitingPerUser;
    for (int i = 0; i < threads; i++) {
      Thread t = new Thread(this::work, "ctrlab-analysis-" + i);
      t.setDaemon(true);
      workers.add(t);
      t.start();
    }
  }

  /** Queues a new call's first task; refused (RESOURCE_EXHAUSTED, saying which limit) when the queues are full. */
  synchronized void submit(String user, Runnable task) {
    if (closed) {
      throw Refusal.unavailable("the server is stopping");
    }
    int mine = waitingCalls.getOrDefault(user, 0);
    if (mine >= maxWaitingPerUser) {
      throw Refusal.exhausted(String.format("%s has %d analysis calls waiting and %d running: at most %d may wait"
          + " per user; try again when some have finished", user, mine, running.getOrDefault(user, 0),
          maxWaitingPerUser));
    }
    if (waitingCallCount >= maxWaiting) {
      throw Refusal.exhausted(String.format("the server is busy with %d analysis calls (%d running, %d waiting);"
          + " try again in a moment", runningCount + waitingCallCount, runningCount, waitingCallCount));
    }
    enqueue(user, new Task(task, true));
    waitingCalls.merge(user, 1, Integer::sum);
    waitingCallCount++;
  }

  /** Queues the next step of an admitted call: never refused (a stopping server drops it). */
  synchronized void resume(String user, Runnable task) {
    if (!closed) {
      enqueue(user, new Task(task, false));
    }
  }

  private void enqueue(String user, Task task) {
    waiting.computeIfAbsent(user, k -> new ArrayDeque<>()).add(task);
    waitingCount++;
    notifyAll();
  }

  /** The next task: the waiting user with the fewest running, then the one served longest ago. */
  private synchronized Map.Entry<String, Runnable> take() throws InterruptedException {
    while (!closed && waitingCount == 0) {
      wait();
    }
    if (closed) {
      return null;
    }
    String best = null;
    for (String u : waiting.keySet()) {
      if (best == null || running.getOrDefault(u, 0) < running.getOrDefault(best, 0)
          || (running.getOrDefault(u, 0).equals(running.getOrDefault(best, 0))
              && lastServed.getOrDefault(u, 0L) < lastServed.getOrDefault(best, 0L))) {
        best = u;
      }
    }
    Deque<Task> q = waiting.get(best);
    Task task = q.poll();
    if (q.isEmpty()) {
      waiting.remove(best);
    }
    waitingCount--;
    if (task.call()) {
      waitingCallCount--;
      if (waitingCalls.merge(best, -1, Integer::sum) == 0) {
        waitingCalls.remove(best);
      }
    }
    runningCount++;
    running.merge(best, 1, Integer::sum);
    lastServed.put(best, ++clock);
    return Map.entry(best, task.body());
  }

  private synchronized void done(String user) {
    runningCount--;
    if (running.merge(user, -1, Integer::sum) == 0) {
      running.remove(user);
    }
  }

  private void work() {
    while (true) {
      Map.Entry<String, Runnable> next;
      try {
        next = take();
      } catch (InterruptedException e) {
        return;
      }
      if (next == null) {
        return;
      }
      try {
        next.getValue().run();
      } catch (RuntimeException e) {
        org.slf4j.LoggerFactory.getLogger(FairPool.class).warn("analysis task failed", e);
      } finally {
        done(next.getKey());
      }
    }
  }

  synchronized int running() {
    return runningCount;
  }

  /** Drops waiting tasks, interrupts running ones and waits up to the timeout for them to end. */
  boolean close(long timeout, TimeUnit unit) throws InterruptedException {
    synchronized (this) {
      closed = true;
      waiting.clear();
      waitingCalls.clear();
      waitingCount = 0;
      waitingCallCount = 0;
      notifyAll();
    }
    workers.forEach(Thread::interrupt);
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    for (Thread t : workers) {
      t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    }
    return workers.stream().noneMatch(Thread::isAlive);
  }
}
