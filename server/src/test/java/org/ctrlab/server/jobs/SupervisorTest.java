package org.ctrlab.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.store.RunStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the supervisor shares a box among its slots, and how it reads a worker's end. */
class SupervisorTest {
  @TempDir
  Path tmp;

  static Supervisor with(int slots, List<String> gpus) {
    return new Supervisor(null, null, new Supervisor.Settings(slots, 1, gpus, 3, Path.of("runs"), 72), r -> { });
  }

  @Test
  void eachSlotGetsItsOwnGpuInTurnWithMemoryGrowth() {
    Supervisor s = with(3, List.of("0", "1"));
    assertEquals(Map.of("CUDA_VISIBLE_DEVICES", "0", "TF_FORCE_GPU_ALLOW_GROWTH", "true",
        "TF_OVERRIDE_GLOBAL_THREADPOOL", "true"), s.env(0));
    assertEquals("1", s.env(1).get("CUDA_VISIBLE_DEVICES"));
    assertEquals("0", s.env(2).get("CUDA_VISIBLE_DEVICES"), "more slots than GPUs: they share, in turn");
    assertEquals(Map.of("TF_OVERRIDE_GLOBAL_THREADPOOL", "true"), with(2, List.of()).env(1),
        "a CPU box sets only the sessions' own pools");
  }

  @Test
  void settingsRefuseNonsense() {
    assertThrows(IllegalArgumentException.class, () -> new Supervisor.Settings(0, 1, List.of(), 3, Path.of("r"), 72));
    assertThrows(IllegalArgumentException.class, () -> new Supervisor.Settings(1, 1, List.of(), 0, Path.of("r"), 72));
  }

  @Test
  void exitCodesAreToldInWords() {
    assertEquals("killed by signal 9 (SIGKILL) (by hand, or by the kernel's out-of-memory killer)",
        LocalLauncher.describe(137));
    assertEquals("killed by signal 6 (SIGABRT) (a native abort)", LocalLauncher.describe(134));
    assertEquals("ran out of Java heap (exit status 3)", LocalLauncher.describe(3));
    assertEquals("exit status 1", LocalLauncher.describe(1));
    assertTrue(new Launcher.Exit(139, "").signalled());
  }

  /**
   * A launcher that cannot start a worker for its first calls (sbatch timing out, say), then starts workers that run
   * until killed.
   */
  static final class FlakyLauncher implements Launcher {
    final int failures;
    final AtomicInteger calls = new AtomicInteger();
    final List<String> started = new CopyOnWriteArrayList<>();
    /** The last job started: the test ends it with an exit of its choosing. */
    volatile FakeJob last;
    /** Counted down to let a kill return (a worker that takes a while to die); open unless a test closes it. */
    java.util.concurrent.CountDownLatch dying = new java.util.concurrent.CountDownLatch(0);
    /** Its jobs outlive their kill (a Slurm job that outlived its scancels), else a kill ends them. */
    volatile boolean outlive;

    FlakyLauncher(int failures) {
      this.failures = failures;
    }

    @Override
    public Job launch(Spec spec) throws IOException {
      if (calls.incrementAndGet() <= failures) {
        throw new IOException("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation");
      }
      started.add(spec.runId());
      last = new FakeJob();
      return last;
    }

    final class FakeJob implements Job {
      volatile Launcher.Exit exit;
      /** The cluster's word for the job, e.g. "PENDING (Resources)". */
      volatile String status = "";
      /** When the cluster started it (ms since the epoch), 0 if it does not say. */
      volatile long startedMs;
      /** When it last entered the cluster's queue (ms since the epoch: a requeue's time), 0 if it does not say. */
      volatile long queuedSinceMs;
      final AtomicInteger kills = new AtomicInteger();

      @Override
      public String status() {
        return status;
      }

      @Override
      public boolean queued() {
        return status.startsWith("PENDING");
      }

      @Override
      public java.util.OptionalLong startedUnixMs() {
        return startedMs > 0 ? java.util.OptionalLong.of(startedMs) : java.util.OptionalLong.empty();
      }

      @Override
      public java.util.OptionalLong queuedSinceUnixMs() {
        return queuedSinceMs > 0 ? java.util.OptionalLong.of(queuedSinceMs) : java.util.OptionalLong.empty();
      }

      @Override
      public String where() {
        return "nowhere";
      }

      @Override
      public Optional<Launcher.Exit> exit() {
        return Optional.ofNullable(exit);
      }

      @Override
      public void kill() {
        kills.incrementAndGet();
        try {
          dying.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        if (!outlive && exit == null) {
          exit = new Launcher.Exit(137, "killed");
        }
      }
    }

    /** The job a restarted server's adopt finds still going, if any (a cluster's job outlives its server). */
    volatile FakeJob adoptable;

    /** The runs adopt was asked about. */
    final List<String> adopted = new CopyOnWriteArrayList<>();

    @Override
    public Optional<Job> adopt(Run run) {
      adopted.add(run.getRunId());
      return Optional.ofNullable(adoptable);
    }

    @Override
    public boolean jobsOutliveTheServer() {
      return adoptable != null;
    }
  }

  static void queue(RunStore store, String id, String owner, long created) throws java.sql.SQLException {
    store.insert(queued(id, owner, created).build());
  }

  static Run.Builder queued(String id, String owner, long created) {
    return Run.newBuilder().setRunId(id).setOwner(owner).setState(RunState.QUEUED).setCreatedUnixMs(created)
        .setRequest(TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2"));
  }

  /** A supervisor of the given slots over the store, with at most 3 abnormal ends in a row and 72 h a run. */
  Supervisor supervisor(RunStore store, Launcher launcher, int slots) {
    return new Supervisor(store, launcher, new Supervisor.Settings(slots, 1, List.of(), 3, tmp.resolve("runs"), 72),
        r -> { });
  }

  @Test
  void aWorkerThatCannotStartSendsItsRunBackToTheQueueAndPausesStarts() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      for (int i = 0; i < 5; i++) {
        queue(store, String.format("%012x", i + 1), i % 2 == 0 ? "alice" : "bob", i + 1);
      }
      FlakyLauncher launcher = new FlakyLauncher(2);
      Supervisor sup = supervisor(store, launcher, 2);
      sup.tick();
      assertEquals(1, launcher.calls.get(), "after a failed start, no other run is tried in the same round");
      String tried = null;
      for (Run r : store.inState(RunState.QUEUED)) {
        assertEquals(0, r.getStartedUnixMs(), r.getRunId() + ": the failed start is not counted as a start");
        List<RunEvent> ev = store.events(r.getRunId(), 0);
        if (!ev.isEmpty()) {
          tried = r.getRunId();
          assertTrue(ev.get(ev.size() - 1).getState().getMessage().contains("Socket timed out"), ev.toString());
          assertEquals(1, r.getAttempt(), "its attempt is spent: a job the scheduler took anyway would be stale");
        } else {
          assertEquals(0, r.getAttempt());
        }
      }
      assertEquals(5, store.inState(RunState.QUEUED).size(), "every run is still queued, none failed");
      assertTrue(tried != null, "the run tried was told why it waits");
      assertEquals(0, sup.busySlots());
      sup.tick();
      assertEquals(1, launcher.calls.get(), "starts wait out the pause");
      // The pause (1 s, then 2 s after the second failure) ends by itself: both slots fill.
      long until = System.currentTimeMillis() + 30_000;
      while (launcher.started.size() < 2 && System.currentTimeMillis() < until) {
        sup.tick();
        Thread.sleep(20);
      }
      assertEquals(2, launcher.started.size(), "starts went on after the pause");
      assertFalse(launcher.started.contains(tried), "a run whose start failed goes after the others");
      assertEquals(4, launcher.calls.get());
      assertEquals(2, store.inState(RunState.RUNNING).size());
      assertEquals(3, store.inState(RunState.QUEUED).size());
      assertEquals(0, store.inState(RunState.FAILED).size());
      for (Run r : store.inState(RunState.RUNNING)) {
        assertEquals(1, r.getAttempt(), "the first attempt that ran is attempt 1");
      }
    }
  }

  @Test
  void sbatchsPassingTroubleIsToldFromARefusal() {
    assertTrue(SlurmLauncher.passing("sbatch: error: Batch job submission failed: Socket timed out on send/recv"
        + " operation"));
    assertTrue(SlurmLauncher.passing("sbatch: error: Batch job submission failed: Unable to contact slurm"
        + " controller (connect failure)"));
    assertTrue(SlurmLauncher.passing("sbatch: error: QOSMaxSubmitJobPerUserLimit"));
    assertFalse(SlurmLauncher.passing("sbatch: error: invalid partition specified: nosuch"));
    assertFalse(SlurmLauncher.passing("sbatch: error: Batch job submission failed: Invalid account or"
        + " account/partition combination specified"));
    assertFalse(SlurmLauncher.passing("sbatch: error: Batch job submission failed: Job violates accounting/QOS"
        + " policy (job submit limit, user's size and/or time limits)"), "a limit of size or time does not pass");
  }

  @Test
  void aCancelledRunsSlotIsHeldUntilItsWorkerIsGone() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      String id = "00000000000a";
      queue(store, id, "alice", 1);
      FlakyLauncher launcher = new FlakyLauncher(0);
      launcher.dying = new java.util.concurrent.CountDownLatch(1);
      Supervisor sup = supervisor(store, launcher, 1);
      sup.tick();
      assertTrue(sup.holds(id));
      Thread cancel = new Thread(() -> {
        try {
          sup.cancel(id, "alice");
        } catch (java.sql.SQLException e) {
          throw new RuntimeException(e);
        }
      });
      cancel.start();
      long until = System.currentTimeMillis() + 10_000;
      while (store.get(id).orElseThrow().getState() != RunState.CANCELLED && System.currentTimeMillis() < until) {
        Thread.sleep(5);
      }
      assertEquals(RunState.CANCELLED, store.get(id).orElseThrow().getState(), "recorded first");
      assertTrue(sup.holds(id), "while its worker is being killed, the run's slot (and folder) are still in use");
      launcher.dying.countDown();
      cancel.join(10_000);
      assertFalse(sup.holds(id), "free once the worker is gone");
    }
  }

  @Test
  void abnormalEndsCountOnlyInARowWithNoNewEpoch() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      String id = "00000000000b";
      queue(store, id, "alice", 1);
      FlakyLauncher launcher = new FlakyLauncher(0);
      Supervisor sup = supervisor(store, launcher, 1);
      sup.tick();
      Launcher.Exit timeLimit = new Launcher.Exit(143, "slurm job 7 TIMEOUT", true);
      for (int k = 1; k <= 4; k++) {
        // Each job records an epoch before a cluster's time limit ends it.
        int epoch = k;
        store.update(id, r -> r.toBuilder().addEpochs(org.ctrlab.api.v1.EpochResult.newBuilder().setEpoch(epoch))
            .build());
        launcher.last.exit = timeLimit;
        sup.tick();
        Run r = store.get(id).orElseThrow();
        assertEquals(RunState.RUNNING, r.getState(), r.getMessage());
        assertEquals(k + 1, r.getAttempt(), "started again after an end that followed progress");
        assertEquals(1, r.getCrashes());
      }
      // Without a new epoch, the ends add up: with --max-attempts 3 the third in a row fails the run.
      launcher.last.exit = timeLimit;
      sup.tick();
      assertEquals(2, store.get(id).orElseThrow().getCrashes());
      launcher.last.exit = timeLimit;
      sup.tick();
      Run r = store.get(id).orElseThrow();
      assertEquals(RunState.FAILED, r.getState());
      assertTrue(r.getMessage().contains("3 of 3 attempts ended so in a row, with no new epoch between them"),
          r.getMessage());
      assertEquals(4, r.getEpochsCount());
    }
  }

  @Test
  void timeInTheClustersQueueDoesNotCountAgainstTheRunsLimit() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      double hours = 3.0 / 3600; // three seconds
      String id = "00000000000c";
      queueWithLimit(store, id, hours, 1);
      String stuck = "00000000000d";
      queueWithLimit(store, stuck, hours, 2);
      FlakyLauncher launcher = new FlakyLauncher(0);
      Supervisor sup = supervisor(store, launcher, 1);
      sup.tick();
      launcher.last.status = "PENDING (Resources)";
      tickFor(sup, 2_000);
      Run r = store.get(id).orElseThrow();
      assertEquals("PENDING (Resources)", r.getJobState());
      launcher.last.status = "RUNNING";
      tickFor(sup, 1_500);
      r = store.get(id).orElseThrow();
      assertEquals(RunState.RUNNING, r.getState(), "3.5 s after its start, 2 of them in the queue: "
          + r.getMessage());
      assertTrue(r.getQueuedSeconds() >= 1.9, "the wait is kept: " + r.getQueuedSeconds());
      // Running, its three seconds count: it ends after them.
      r = whileIn(RunState.RUNNING, store, id, sup);
      assertEquals(RunState.FAILED, r.getState());
      assertTrue(r.getMessage().startsWith("ended: it ran past its wall-clock limit of 0.0008333 h from its first"
          + " start, time in a cluster's queue not counted"), r.getMessage());
      // A job that waits in the queue for as long as the limit without starting ends there, so no slot is held
      // forever by a job the cluster never places.
      whileIn(RunState.QUEUED, store, stuck, sup);
      launcher.last.status = "PENDING (Resources)";
      r = whileIn(RunState.RUNNING, store, stuck, sup);
      assertEquals(RunState.FAILED, r.getState());
      assertTrue(r.getMessage().startsWith("ended: its cluster jobs waited in the cluster's queue for 0.0008333 h"
          + " in all"), r.getMessage());
    }
  }

  @Test
  void aWaitInTheClustersQueueIsKeptAcrossAServerRestart() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      double hours = 4.0 / 3600; // four seconds: the wait is saved every 200 ms
      String id = "00000000000e";
      queueWithLimit(store, id, hours, 1);
      FlakyLauncher launcher = new FlakyLauncher(0);
      Supervisor first = supervisor(store, launcher, 1);
      first.tick();
      launcher.last.status = "PENDING (Priority)";
      long until = System.currentTimeMillis() + 3_500;
      double saved = 0;
      while (saved < 2.5 && System.currentTimeMillis() < until) {
        tickFor(first, 50);
        saved = store.get(id).orElseThrow().getQueuedSeconds();
      }
      assertTrue(saved >= 2.5, "the wait is saved while it goes on: " + saved);
      assertEquals(RunState.RUNNING, store.get(id).orElseThrow().getState(), "its job waits, under its limit");
      // The server restarts (the first supervisor is left as it is, as a killed server would be); the next one
      // follows the job, which still waits: its four seconds of waiting in all are up at most 1.5 s later, not 4 s.
      launcher.adoptable = launcher.last;
      long restarted = System.currentTimeMillis();
      try (Supervisor again = supervisor(store, launcher, 1)) {
        again.start();
        Run r = whileIn(RunState.RUNNING, store, id, null);
        long took = System.currentTimeMillis() - restarted;
        assertEquals(RunState.FAILED, r.getState(), r.getMessage());
        assertTrue(r.getMessage().startsWith("ended: its cluster jobs waited in the cluster's queue"), r.getMessage());
        assertTrue(took < 3_200, "the wait before the restart counts: it ended " + took + " ms after the restart");
      }
    }
  }

  @Test
  void aWaitWhileNoServerRanCountsUpToTheClustersStartOfTheJob() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      String id = "000000000017";
      FlakyLauncher launcher = started(store, id, "PENDING (Priority)");
      Run saved = store.get(id).orElseThrow();
      long countedTo = saved.getQueuedCountedToUnixMs();
      assertTrue(countedTo > 0, "the record says up to when the wait is counted: " + saved);
      assertEquals(0.0, saved.getQueuedSeconds());
      // The server dies (the first supervisor is left as it is); while none runs, the job waits 2 s more, then the
      // cluster starts it, and it has run for two seconds when the next server follows it.
      launcher.last.status = "RUNNING";
      launcher.last.startedMs = countedTo + 2_000;
      Thread.sleep(Math.max(0, countedTo + 4_000 - System.currentTimeMillis()));
      Run r = followedAgain(store, launcher, id);
      // Slurm gives whole seconds: the wait is counted to the end of the second the job started in.
      assertEquals(2.999, r.getQueuedSeconds(), 1e-9, "the wait up to the cluster's start, not to the restart");
      assertEquals(0, r.getQueuedCountedToUnixMs(), "no job waits now");
    }
  }

  @Test
  void aWaitWhileNoServerRanCountsWhenTheJobStillWaits() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      String id = "000000000018";
      queueWithLimit(store, id, 6.0 / 3600, 1); // six seconds: a wait is saved every 300 ms
      FlakyLauncher launcher = new FlakyLauncher(0);
      Supervisor first = supervisor(store, launcher, 1);
      first.tick();
      launcher.last.status = "PENDING (Priority)";
      Run saved = store.get(id).orElseThrow();
      for (long until = System.currentTimeMillis() + 3_000; saved.getQueuedSeconds() < 0.5
          && System.currentTimeMillis() < until; saved = store.get(id).orElseThrow()) {
        tickFor(first, 50);
      }
      assertTrue(saved.getQueuedSeconds() >= 0.5, saved.toString());
      // Down for 1.5 s while the job waits on: the next server counts that too, at its first save (at once: more
      // than 300 ms have passed since the last one), and nothing twice.
      Thread.sleep(1_500);
      launcher.adoptable = launcher.last;
      try (Supervisor again = supervisor(store, launcher, 1)) {
        again.start();
        Run r = store.get(id).orElseThrow();
        for (long until = System.currentTimeMillis() + 5_000; r.getQueuedSeconds() == saved.getQueuedSeconds()
            && System.currentTimeMillis() < until; r = store.get(id).orElseThrow()) {
          Thread.sleep(20);
        }
        long seen = System.currentTimeMillis();
        double want = saved.getQueuedSeconds() + 1.5;
        assertTrue(r.getQueuedSeconds() >= want, "the wait while no server ran counts: " + r.getQueuedSeconds()
            + " s, want at least " + want);
        assertTrue(r.getQueuedSeconds() <= saved.getQueuedSeconds()
            + (seen - saved.getQueuedCountedToUnixMs()) / 1e3 + 1e-3, "no more than the wait since the last save: "
            + r.getQueuedSeconds());
        assertEquals(RunState.RUNNING, r.getState(), r.getMessage());
      }
    }
  }

  /**
   * A job that waited at the last save, then started and was requeued while no server ran (Slurm then gives the
   * requeue's time as its SubmitTime), and waits again: only its wait since the requeue counts, not the time it ran.
   */
  @Test
  void aJobRequeuedWhileNoServerRanCountsItsWaitFromTheRequeue() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      String id = "00000000001a";
      FlakyLauncher launcher = started(store, id, "PENDING (Priority)");
      long countedTo = store.get(id).orElseThrow().getQueuedCountedToUnixMs();
      assertTrue(countedTo > 0);
      launcher.last.status = "PENDING (BeginTime)";
      launcher.last.queuedSinceMs = countedTo + 300; // it started, ran, and was requeued 300 ms after the save
      Thread.sleep(Math.max(0, countedTo + 500 - System.currentTimeMillis()));
      assertEquals(countedTo + 300, followedAgain(store, launcher, id).getQueuedCountedToUnixMs(),
          "the wait is counted from the requeue, not from the last save");
    }
  }

  /** The same for a job that ran at the last save: its wait since the requeue counts, not only from the restart. */
  @Test
  void aRunningJobRequeuedWhileNoServerRanCountsItsWaitFromTheRequeue() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      String id = "00000000001b";
      FlakyLauncher launcher = started(store, id, "RUNNING");
      assertEquals("RUNNING", store.get(id).orElseThrow().getJobState());
      long requeued = System.currentTimeMillis();
      launcher.last.status = "PENDING (BeginTime)";
      launcher.last.queuedSinceMs = requeued;
      Thread.sleep(300);
      Run r = followedAgain(store, launcher, id);
      assertEquals(requeued, r.getQueuedCountedToUnixMs(), "the wait is counted from the requeue, not the restart");
      assertEquals(0.0, r.getQueuedSeconds());
    }
  }

  /**
   * Queues a run with a one-hour limit (a wait is saved every 30 s), starts it on a first server, and records its job
   * in the given state; that server is then left as it is, as if it had died. Returns its launcher.
   */
  private FlakyLauncher started(RunStore store, String id, String status) throws Exception {
    queueWithLimit(store, id, 1.0, 1);
    FlakyLauncher launcher = new FlakyLauncher(0);
    Supervisor first = supervisor(store, launcher, 1);
    first.tick();
    launcher.last.status = status;
    first.tick();
    return launcher;
  }

  /** Follows the launcher's last job again in a new server, and returns the run once its job's state is recorded. */
  private Run followedAgain(RunStore store, FlakyLauncher launcher, String id) throws Exception {
    launcher.adoptable = launcher.last;
    String state = launcher.last.status;
    try (Supervisor again = supervisor(store, launcher, 1)) {
      again.start();
      Run r = store.get(id).orElseThrow();
      for (long until = System.currentTimeMillis() + 5_000; !r.getJobState().equals(state)
          && System.currentTimeMillis() < until; r = store.get(id).orElseThrow()) {
        Thread.sleep(20);
      }
      assertEquals(state, r.getJobState());
      return r;
    }
  }

  @Test
  void anAdoptedJobThatEndedBeforeItsStateWasKnownLeavesItsWaitOutOfTheNextAttempt() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      String id = "000000000019";
      FlakyLauncher launcher = started(store, id, "PENDING (Priority)");
      assertTrue(store.get(id).orElseThrow().getQueuedCountedToUnixMs() > 0);
      // While no server runs, the job starts and fails; the next server finds it ended and starts attempt 2, whose
      // job waits: its wait starts then, not at the last save of attempt 1's.
      FlakyLauncher.FakeJob old = launcher.last;
      old.status = "FAILED";
      old.exit = new Launcher.Exit(1, "exited with status 1", false);
      Thread.sleep(1_000);
      launcher.adoptable = old;
      long restarted = System.currentTimeMillis();
      try (Supervisor again = supervisor(store, launcher, 1)) {
        again.start();
        for (long until = System.currentTimeMillis() + 5_000; launcher.last == old
            && System.currentTimeMillis() < until;) {
          Thread.sleep(20);
        }
        assertNotSame(old, launcher.last, "attempt 2 is started");
        launcher.last.status = "PENDING (Priority)";
        Run r = store.get(id).orElseThrow();
        for (long until = System.currentTimeMillis() + 5_000; !r.getJobState().startsWith("PENDING")
            && System.currentTimeMillis() < until; r = store.get(id).orElseThrow()) {
          Thread.sleep(20);
        }
        assertEquals(2, r.getAttempt());
        assertTrue(r.getQueuedCountedToUnixMs() >= restarted, "attempt 2's wait is counted from when it began: "
            + (r.getQueuedCountedToUnixMs() - restarted) + " ms after the restart");
        assertEquals(0.0, r.getQueuedSeconds());
      }
    }
  }

  @Test
  void workWhileIdleHoldsOffStartsAndWaitsForRunsToEnd() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      FlakyLauncher launcher = new FlakyLauncher(0);
      Supervisor sup = supervisor(store, launcher, 1);
      queue(store, "00000000000f", "alice", 1);
      // While the work runs (a VACUUM holding the database), a tick on another thread starts nothing; it does
      // once the work is done.
      var during = new java.util.concurrent.atomic.AtomicReference<RunState>();
      assertTrue(sup.whileIdle(() -> {
        Thread ticker = new Thread(() -> {
          try {
            sup.tick();
          } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
          }
        });
        ticker.start();
        try {
          ticker.join(300);
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        during.set(store.get("00000000000f").orElseThrow().getState());
      }));
      assertEquals(RunState.QUEUED, during.get(), "no run starts during the work");
      assertEquals(RunState.RUNNING, whileIn(RunState.QUEUED, store, "00000000000f", null).getState(),
          "it starts after");
      // With a run executing, the work waits for another time.
      assertFalse(sup.whileIdle(() -> {
        throw new AssertionError("ran beside a run");
      }));
    }
  }

  @Test
  void aWorkerThatOutlivesItsKillKeepsItsSlotUntilItEnds() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      FlakyLauncher launcher = new FlakyLauncher(0);
      Supervisor sup = supervisor(store, launcher, 1);
      queue(store, "000000000010", "alice", 1);
      queue(store, "000000000011", "bob", 2);
      sup.tick();
      FlakyLauncher.FakeJob first = launcher.last;
      assertEquals(RunState.RUNNING, store.get("000000000010").orElseThrow().getState());
      // Its kill returns with the job still going (a Slurm job that outlived its scancels).
      launcher.outlive = true;
      sup.cancel("000000000010", "alice");
      assertEquals(RunState.CANCELLED, store.get("000000000010").orElseThrow().getState());
      tickFor(sup, 300);
      assertEquals(RunState.QUEUED, store.get("000000000011").orElseThrow().getState(),
          "no run starts beside a worker that outlived its kill");
      assertEquals(1, sup.busySlots());
      first.exit = new Launcher.Exit(137, "slurm job 1 CANCELLED");
      tickFor(sup, 200);
      assertEquals(RunState.RUNNING, store.get("000000000011").orElseThrow().getState(), "once it ended");
      assertEquals(RunState.CANCELLED, store.get("000000000010").orElseThrow().getState(), "the end changes nothing");
    }
  }

  @Test
  void theJobOfARunCancelledBeforeARestartThatIsStillThereIsStoppedAndHoldsASlot() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      long now = System.currentTimeMillis();
      store.insert(queued("000000000012", "alice", 1).setState(RunState.FAILED).setAttempt(1)
          .setWorker("slurm job 77").setJobId("77").setFinishedUnixMs(now - 60_000).build()); // past its limit
      store.insert(queued("000000000013", "alice", 2).setState(RunState.CANCELLED).setAttempt(1)
          .setWorker("slurm job 78").setJobId("78").setFinishedUnixMs(now - 2 * Supervisor.OUTLIVED_LOOKBACK_MS)
          .build());
      queue(store, "000000000014", "bob", 3);
      FlakyLauncher launcher = new FlakyLauncher(0);
      launcher.outlive = true;
      FlakyLauncher.FakeJob still = launcher.new FakeJob(); // the cluster still has job 77, running
      still.status = "RUNNING";
      launcher.adoptable = still;
      try (Supervisor sup = supervisor(store, launcher, 1)) {
        sup.start();
        assertEquals(List.of("000000000012"), launcher.adopted, "only a run that ended in the last hour is looked at");
        long until = System.currentTimeMillis() + 10_000;
        while (still.kills.get() == 0 && System.currentTimeMillis() < until) {
          Thread.sleep(20);
        }
        assertTrue(still.kills.get() >= 1, "it is stopped again");
        Thread.sleep(300); // the loop ticks every 100 ms
        assertEquals(RunState.QUEUED, store.get("000000000014").orElseThrow().getState(),
            "no run starts beside the job still there");
        assertEquals(1, sup.busySlots());
        still.exit = new Launcher.Exit(143, "slurm job 77 CANCELLED");
        assertEquals(RunState.RUNNING, whileIn(RunState.QUEUED, store, "000000000014", null).getState(),
            "once it ended");
        assertEquals(RunState.FAILED, store.get("000000000012").orElseThrow().getState());
      }
    }
  }

  /**
   * A cluster that reused a job id (its state lost): the job of a run cancelled before the restart has the id of a
   * running run's job, which is followed, not stopped as one that outlived its cancel.
   */
  @Test
  void aRunningRunsJobIsNotStoppedForAnEndedRunWithTheSameJobId() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      long now = System.currentTimeMillis();
      store.insert(queued("00000000001c", "alice", 1).setState(RunState.CANCELLED).setAttempt(1)
          .setWorker("slurm job 5").setJobId("5").setFinishedUnixMs(now - 60_000).build());
      store.insert(queued("00000000001d", "bob", 2).setState(RunState.RUNNING).setAttempt(1)
          .setWorker("slurm job 5").setJobId("5").setStartedUnixMs(now - 30_000).build());
      FlakyLauncher launcher = new FlakyLauncher(0);
      FlakyLauncher.FakeJob job5 = launcher.new FakeJob();
      job5.status = "RUNNING";
      launcher.adoptable = job5;
      try (Supervisor sup = supervisor(store, launcher, 2)) {
        sup.start();
        assertEquals(List.of("00000000001d"), launcher.adopted, "the ended run's job is not looked at");
        Thread.sleep(300); // the loop ticks every 100 ms
        assertEquals(0, job5.kills.get(), "the running run's job is not stopped");
        assertEquals(1, sup.busySlots());
        assertEquals(RunState.RUNNING, store.get("00000000001d").orElseThrow().getState());
      }
    }
  }

  @Test
  void aJobWhoseStateTheClusterCannotGiveHoldsNoSlotAtStart() throws Exception {
    try (RunStore store = RunStore.open(tmp.resolve("ctrlab.db"))) {
      store.insert(queued("000000000015", "alice", 1).setState(RunState.CANCELLED).setAttempt(1)
          .setWorker("slurm job 79").setJobId("79").setFinishedUnixMs(System.currentTimeMillis() - 60_000).build());
      queue(store, "000000000016", "bob", 2);
      FlakyLauncher launcher = new FlakyLauncher(0);
      launcher.outlive = true; // held, it would never be let go
      launcher.adoptable = launcher.new FakeJob(); // Slurm did not answer: no state yet
      try (Supervisor sup = supervisor(store, launcher, 1)) {
        sup.start();
        assertEquals(RunState.RUNNING, whileIn(RunState.QUEUED, store, "000000000016", null).getState(),
            "no slot is held on a guess");
      }
    }
  }

  private static void queueWithLimit(RunStore store, String id, double hours, long created) throws Exception {
    store.insert(queued(id, "alice", created)
        .setResolved(org.ctrlab.api.v1.ResolvedConfig.newBuilder().setMaxHours(hours)).build());
  }

  /**
   * Waits while a run is in a state, for at most 10 s, ticking the supervisor every 50 ms (null: something else
   * ticks it, its own loop or a test's thread), and returns its record then.
   */
  private static Run whileIn(RunState state, RunStore store, String id, Supervisor sup) throws Exception {
    long until = System.currentTimeMillis() + 10_000;
    while (store.get(id).orElseThrow().getState() == state && System.currentTimeMillis() < until) {
      if (sup != null) {
        tickFor(sup, 50);
      } else {
        Thread.sleep(20);
      }
    }
    return store.get(id).orElseThrow();
  }

  /** Ticks the supervisor every 50 ms for about ms milliseconds. */
  private static void tickFor(Supervisor sup, long ms) throws Exception {
    long until = System.currentTimeMillis() + ms;
    do {
      sup.tick();
      Thread.sleep(50);
    } while (System.currentTimeMillis() < until);
  }
}
