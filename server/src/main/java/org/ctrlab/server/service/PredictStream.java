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

  private final Analysis analysis;
  private final String user;
  private final String runId;
  private final Split split;
  private final long limit;
  private final Cancellation cancel;
  private final Call call;
  private final AtomicBoolean parked = new AtomicBoolean();
  private final AtomicBoolean ended = new AtomicBoolean();
  private volatile ScheduledFuture<?> stallTimer;
  private Analysis.Predictions predictions;

  PredictStream(Analysis analysis, String user, String runId, Split split, long limit, Cancellation cancel,
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

  /** The client went away: a parked stream is dropped at once. */
  void onCancel() {
    if (parked.compareAndSet(true, false)) {
      cancelTimer();
      ended.set(true);
    }
  }

  @Override
  public void run() {
    if (ended.get()) {
      return;
    }
    try {
      if (predictions == null) {
        predictions = analysis.predictions(runId, split, limit, cancel);
      }
      if (!call.ready()) {
        park();
        return;
      }
      PredictBatch b = predictions.next();
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
    parked.set(true);
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
    }
  }

  private void cancelTimer() {
    ScheduledFuture<?> t = stallTimer;
    if (t != null) {
      t.cancel(false);
    }
  }
}
