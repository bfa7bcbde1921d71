package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.ctrlab.api.v1.PredictBatch;
import org.ctrlab.api.v1.Split;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A Predict stream whose client goes away keeps nothing: not a queued task's work, nor a parked batch. */
class PredictStreamTest {
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  /** A pool that queues tasks for the test to run, counts opened predictions and armed stall timers. */
  final class FakePool implements PredictStream.Pool {
    final List<Runnable> queued = new ArrayList<>();
    int opens;
    int timers;
    final List<ScheduledFuture<?>> armed = new ArrayList<>();
    Runnable duringOpen = () -> { };

    @Override
    public Supplier<PredictBatch> open(String runId, Split split, long limit,
        org.ctrlab.server.train.Cancellation cancel) {
      opens++;
      duringOpen.run();
      return () -> PredictBatch.getDefaultInstance();
    }

    @Override
    public void resume(String user, Runnable task) {
      queued.add(task);
    }

    @Override
    public ScheduledFuture<?> afterStall(Runnable r) {
      timers++;
      ScheduledFuture<?> f = timer.schedule(r, 1, TimeUnit.HOURS);
      armed.add(f);
      return f;
    }

    @Override
    public Duration stall() {
      return Duration.ofHours(1);
    }

    void runQueued() {
      List<Runnable> now = new ArrayList<>(queued);
      queued.clear();
      now.forEach(Runnable::run);
    }
  }

  /** A client that is not reading (its buffer is full, or it is gone). */
  static final class SlowClient implements PredictStream.Call {
    int sent;

    @Override
    public boolean ready() {
      return false;
    }

    @Override
    public void send(PredictBatch batch) {
      sent++;
    }

    @Override
    public void complete() {}

    @Override
    public void fail(Exception e) {}

    @Override
    public void abandon(String why) {}
  }

  PredictStream stream(FakePool pool, SlowClient client) {
    return new PredictStream(pool, "alice", "0123456789ab", Split.TRAIN, 0, () -> false, client);
  }

  @Test
  void aStreamCancelledBeforeItsTaskRunsOpensNothing() {
    FakePool pool = new FakePool();
    PredictStream s = stream(pool, new SlowClient());
    s.start();
    s.onCancel();
    pool.runQueued();
    assertEquals(0, pool.opens, "the predictions of a cancelled stream are not built");
    assertEquals(0, pool.timers, "nor is it parked");
  }

  @Test
  void aStreamCancelledWhileItsTaskRunsDoesNotPark() {
    FakePool pool = new FakePool();
    PredictStream s = stream(pool, new SlowClient());
    pool.duringOpen = s::onCancel; // the client goes away while its split is built
    s.start();
    pool.runQueued();
    assertEquals(1, pool.opens);
    assertEquals(0, pool.timers, "it is not parked holding its rows until the stall time");
    assertEquals(0, pool.queued.size());
  }

  @Test
  void aSlowClientThatIsStillThereParksTheStream() {
    FakePool pool = new FakePool();
    SlowClient client = new SlowClient();
    PredictStream s = stream(pool, client);
    s.start();
    pool.runQueued();
    assertEquals(1, pool.timers, "parked, with its stall timer armed");
    assertEquals(0, client.sent);
    s.onCancel();
    assertTrue(pool.armed.get(0).isCancelled(), "a cancel drops a parked stream and its timer at once");
    pool.runQueued();
    assertEquals(1, pool.opens);
  }
}
