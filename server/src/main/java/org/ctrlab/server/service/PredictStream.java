package org.ctrlab.server.service;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.ctrlab.api.v1.PredictBatch;
import org.ctrlab.api.v1.Split;
import org.ctrlab.server.train.Cancellation;

/**
 * Drives one Predict stream on the analysis pool: each pool task scores and sends one batch, then queues the next
 * behind other users' work; while the client does not read, the stream is parked and holds no thread (its client's
 * next read wakes it). A stream parked longer than the server's stall time is ended with RESOURCE_EXHAUSTED, which
 * frees its place in the user's and the connection's stream counts.
 */
final class PredictStream implements Runnable {
  /** The gRPC call as this stream uses it. */
  interface Call {
    boolean ready();

    void send(PredictBatch batch);

    void complete();

    void fail(Exception e);

    /** Ends a stream whose client stopped reading and gives its place back at once. */
    void abandon(String why);
  }

  /** What a stream needs of the analysis pool ({@link #of(Analysis)}). */
  interface Pool {
    /** Opens a run's predictions: each call of the result gives the next batch, null after the last. */
    java.util.function.Supplier<PredictBatch> open(String runId, Split split, long limit, Cancellation cancel)
        throws Exception;

    /** Queues a task of the user's behind other users' work. */
    void resume(String user, Runnable task);

    /** Runs something once after the stall time. */
    ScheduledFuture<?> afterStall(Runnable r);

    java.time.Duration stall();
  }

  static Pool of(Analysis a) {
    return new Pool() {
      @Override
      public java.util.function.Supplier<PredictBatch> open(String runId, Split split, long limit,
          Cancellation cancel) throws Exception {
        return a.predictions(runId, split, limit, cancel)::next;
      }

      @Override
      public void resume(String user, Runnable task) {
        a.resume(user, task);
      }

      @Override
      public ScheduledFuture<?> afterStall(Runnable r) {
        return a.afterStall(r);
      }

      @Override
      public java.time.Duration stall() {
        return a.stall();
      }
    };
  }

  private final Pool analysis;
  private final String user;
  private final String runId;
  private final Split split;
  private final long limit;
  private final Cancellation cancel;
  private final Call call;
  private final AtomicBoolean parked = new AtomicBoolean();
  private final AtomicBoolean ended = new AtomicBoolean();
  private volatile ScheduledFuture<?> stallTimer;
  private volatile java.util.function.Supplier<PredictBatch> predictions;

  PredictStream(Pool analysis, String user, String runId, Split split, long limit, Cancellation cancel,
      Call call) {
    this.analysis = analysis;
    this.user = user;
    this.runId = runId;
    this.split = split;
    this.limit = limit;
    this.cancel = cancel;
    this.call = call;
  }

  /**
   * Starts it. A stream is admitted by the stream limits ({@link StreamGuard}: per user, per connection), not by
   * the pool's waiting room, which is for unary calls: its tasks wait their turn among other users' like any.
   */
  void start() {
    analysis.resume(user, this);
  }

  /** The client can take more: a parked stream goes on. */
  void onReady() {
    if (parked.compareAndSet(true, false)) {
      cancelTimer();
      analysis.resume(user, this);
    }
  }

  /**
   * The client went away: the stream ends. A parked one is dropped at once; a queued or running task sees it and
   * stops (before opening the predictions, or instead of parking with them until the stall time).
   */
  void onCancel() {
    ended.set(true);
    if (parked.compareAndSet(true, false)) {
      cancelTimer();
      predictions = null; // parked: no task holds it
    }
  }

  @Override
  public void run() {
    if (ended.get()) {
      predictions = null;
      return;
    }
    try {
      if (predictions == null) {
        predictions = analysis.open(runId, split, limit, cancel);
      }
      if (!call.ready()) {
        park();
        return;
      }
      PredictBatch b = predictions.get();
      if (b == null) {
        ended.set(true);
        call.complete();
        return;
      }
      call.send(b);
      if (call.ready()) {
        analysis.resume(user, this); // the next batch waits its turn behind other users' tasks
      } else {
        park();
      }
    } catch (Exception e) {
      ended.set(true);
      call.fail(e);
    }
  }

  private void park() {
    if (ended.get()) {
      predictions = null; // cancelled: nothing is kept for a client that is gone
      return;
    }
    parked.set(true);
    if (ended.get() && parked.compareAndSet(true, false)) {
      predictions = null; // cancelled between the check and the park
      return;
    }
    stallTimer = analysis.afterStall(() -> {
      if (parked.compareAndSet(true, false)) {
        ended.set(true);
        call.abandon(String.format("the client read nothing for %d s (--stream-stall-seconds): the stream is"
            + " ended to free its place", analysis.stall().toSeconds()));
      }
    });
    // The client may have become ready between the check and the park: then nobody else wakes the stream.
    if (call.ready() && parked.compareAndSet(true, false)) {
      cancelTimer();
      analysis.resume(user, this);
    } else if (ended.get()) {
      cancelTimer(); // cancelled while it parked: its onCancel may have run before the timer was set
    }
  }

  private void cancelTimer() {
    ScheduledFuture<?> t = stallTimer;
    if (t != null) {
      t.cancel(false);
    }
  }
}
