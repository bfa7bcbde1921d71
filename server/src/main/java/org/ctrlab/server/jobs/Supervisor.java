package org.ctrlab.server.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.server.store.RunStore;

/**
 * Runs the queue: a fixed number of slots, each executing one run's worker at a time. It starts the next run in the
 * {@link FairQueue} order whenever a slot is free, watches each worker until it ends, starts a crashed worker again
 * from the run's last completed epoch (up to a bound, then the run fails with the cause), kills the worker of a
 * cancelled run, and on a stop hands every running run back to the queue, ahead of the rest, to resume at the next
 * start. After a server that was killed, the same happens at start-up.
 */
public final class Supervisor implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Supervisor.class);
  private static final long TICK_MS = 100;

  /** Told about every change of a run this supervisor makes (to wake watchers, log, count). */
  public interface Observer {
    void changed(Run run);

    /** A worker ended abnormally (it is started again if attempts remain). */
    default void crashed(Run run, Launcher.Exit exit) {}
  }

  /** How slots are set up. */
  public record Settings(int slots, int threadsPerSlot, List<String> gpus, int maxAttempts, Path runDir,
      double maxRunHours) {
    public Settings {
      if (!(maxRunHours > 0)) {
        throw new IllegalArgumentException("--max-run-hours must be positive, got " + maxRunHours);
      }
      if (slots < 1) {
        throw new IllegalArgumentException("--slots must be at least 1, got " + slots);
      }
      if (maxAttempts < 1) {
        throw new IllegalArgumentException("--max-attempts must be at least 1, got " + maxAttempts);
      }
      gpus = List.copyOf(gpus);
    }
  }

  private static final class Slot {
    final int index;
    String runId;
    int attempt;
    Launcher.Job job;
    /**
     * Its run ended (cancelled, past its limit, or before a restart) and its worker is being killed: the slot stays
     * taken until the worker is gone.
     */
    boolean cancelling;
    /**
     * Its worker outlived the kill (a Slurm job that outlived its scancels, a process stuck in the kernel): the
     * slot stays taken, each tick looking whether it has ended, so that no run starts beside it.
     */
    boolean outlived;
    /** The job's status as last recorded (a cluster's job state). */
    String status = "";
    /** When the run's wall-clock limit is up (ms since the epoch), time waiting in a cluster's queue not counted. */
    long deadlineMs;
    /**
     * While its job waits in the cluster's queue (PENDING): the time up to which the wait is counted in queuedMs and
     * the run's queued seconds (ms since the epoch); 0 while it does not wait.
     */
    long waitCountedToMs;
    /** The time the run's cluster jobs have waited in the cluster's queue, as recorded in its queued seconds. */
    long queuedMs;
    /**
     * A run followed again after a restart whose job waited in the cluster's queue when the last server saved the
     * wait: the time up to which that server counted it. The rest is counted once the job's state is known (0: none).
     */
    long adoptedCountedToMs;
    /** A run followed again after a restart whose job's state is not known yet. */
    boolean followedAgain;
    /** Its limit in hours, for the message. */
    double limitHours;
    /** The run's recorded epochs when its current worker was started (or followed again). */
    int epochsAtStart;
    /**
     * The store write that ends its run here (a final state, or back to the queue) when it failed: tried again each
     * tick, the slot staying taken until it lands (freed first, a run could stay RUNNING with nothing to end it).
     */
    Ending ending;

    Slot(int index) {
      this.index = index;
    }
  }

  private final RunStore store;
  private final Launcher launcher;
  private final Settings settings;
  private final Observer observer;
  /** The slots: settings.slots() of them, plus any for jobs an earlier server left running on a cluster. */
  private final List<Slot> slots = new ArrayList<>();
  /** No worker is started before then (ms since the epoch): the last start failed for want of the platform. */
  private long launchesPausedUntilMs;
  /** The pause after the next failed start; doubles from {@link #FIRST_LAUNCH_PAUSE_MS} to the last. */
  private long launchPauseMs = FIRST_LAUNCH_PAUSE_MS;
  static final long FIRST_LAUNCH_PAUSE_MS = 1_000;
  static final long LAST_LAUNCH_PAUSE_MS = 60_000;

  /** Runs whose worker could not be started, since when (ms): they fail after {@link #LAUNCH_GIVE_UP_MS}. */
  private final Map<String, Long> failingSinceMs = new HashMap<>();
  static final long LAUNCH_GIVE_UP_MS = 15 * 60_000;
  /** The runs a slot holds, read without the supervisor's lock (which a launch may hold for a minute). */
  private final java.util.Set<String> held = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** A store write that ends a slot's run. */
  private interface Ending {
    void run() throws SQLException;
  }
  private final Thread loop;
  private final java.util.concurrent.atomic.AtomicInteger busy = new java.util.concurrent.atomic.AtomicInteger();
  private volatile boolean stopping;

  public Supervisor(RunStore store, Launcher launcher, Settings settings, Observer observer) {
    this.store = store;
    this.launcher = launcher;
    this.settings = settings;
    this.observer = observer;
    for (int i = 0; i < settings.slots(); i++) {
      slots.add(new Slot(i));
    }
    this.loop = new Thread(this::loop, "ctrlab-supervisor");
    this.loop.setDaemon(true);
  }

  /**
   * Takes up the runs an earlier server left RUNNING: a job that goes on by itself (on a cluster) is followed
   * again; any other run goes back to the queue, first in line, to resume. The workers of runs cancelled or failed
   * in the last {@link #OUTLIVED_LOOKBACK_MS} that are still there (a cluster's job that outlived its cancel) are
   * stopped again, a cluster's job holding a slot until it ends. Then starts the loop.
   */
  public void start() throws SQLException, IOException {
    List<Run> running = store.inState(RunState.RUNNING);
    List<Optional<Launcher.Job>> followed = launcher.adopt(running);
    java.util.Set<String> followedIds = new java.util.HashSet<>(); // the cluster's ids of the jobs followed
    for (int i = 0; i < running.size(); i++) {
      Run r = running.get(i);
      Optional<Launcher.Job> job = followed.get(i);
      if (job.isPresent()) {
        if (!r.getJobId().isEmpty()) {
          followedIds.add(r.getJobId());
        }
        synchronized (this) {
          Slot s = freeSlot();
          occupy(s, r.getRunId());
          s.attempt = r.getAttempt();
          s.epochsAtStart = r.getEpochsCount();
          s.job = job.get();
          limit(s, r);
          s.adoptedCountedToMs = r.getQueuedCountedToUnixMs();
          s.followedAgain = true;
        }
        LOG.atInfo().addKeyValue("run", r.getRunId()).addKeyValue("owner", r.getOwner())
            .addKeyValue("worker", job.get().where()).log("run followed again after a server restart");
      } else {
        requeue(r.getRunId(), "the server stopped");
      }
    }
    // Not the runs that never started, nor one whose job id a followed run's job has now (a cluster that reused
    // the id: that job is the running run's, not one that outlived its cancel).
    List<Run> ended = store.endedSince(System.currentTimeMillis() - OUTLIVED_LOOKBACK_MS, RunState.CANCELLED,
        RunState.FAILED).stream().filter(r -> !r.getWorker().isEmpty() && !followedIds.contains(r.getJobId()))
        .toList();
    List<Optional<Launcher.Job>> outlived = launcher.adopt(ended); // a local worker still there is stopped by it
    for (int i = 0; i < ended.size(); i++) {
      Run r = ended.get(i);
      Optional<Launcher.Job> job = outlived.get(i);
      if (job.isEmpty() || job.get().exit().isPresent() || job.get().status().isEmpty()) {
        continue; // gone, ended, or the cluster could not say: no slot is held on a guess
      }
      Slot s;
      synchronized (this) {
        s = freeSlot();
        occupy(s, r.getRunId());
        s.attempt = r.getAttempt();
        s.job = job.get();
        s.cancelling = true;
      }
      LOG.atWarn().addKeyValue("run", r.getRunId()).addKeyValue("owner", r.getOwner())
          .addKeyValue("worker", job.get().where()).log("the worker of a run that ended (" + r.getState() + ")"
              + " before the server restarted is still there; it is stopped again and holds a slot until it ends");
      stopLater(s, r.getRunId(), job.get(), "a run that ended before the restart");
    }
    loop.start();
  }

  /** How long after a run's end a server's start looks for its worker still there: 1 h. */
  static final long OUTLIVED_LOOKBACK_MS = 3_600_000;

  /** A free slot, or an extra one beyond --slots (a followed job holds it until it ends). */
  private Slot freeSlot() {
    return slots.stream().filter(x -> x.runId == null).findFirst().orElseGet(() -> {
      Slot extra = new Slot(slots.size());
      slots.add(extra);
      return extra;
    });
  }

  public Settings settings() {
    return settings;
  }

  /** Work that must not overlap a run ({@link #whileIdle}). */
  @FunctionalInterface
  public interface IdleWork {
    void run() throws SQLException;
  }

  /**
   * Runs work if no run executes here, holding off every start until it is done (it holds the supervisor's lock);
   * returns whether it ran. For SQLite's VACUUM, which holds the database's write lock while it rewrites the file: a
   * worker started meanwhile would wait on it, and fail if it took longer than the store's busy timeout.
   */
  public synchronized boolean whileIdle(IdleWork work) throws SQLException {
    if (stopping || slots.stream().anyMatch(s -> s.runId != null)) {
      return false;
    }
    work.run();
    return true;
  }

  /** Slots executing a run now (read without the supervisor's lock, which a launch or a cancel may hold). */
  public int busySlots() {
    return busy.get();
  }

  /**
   * Whether a slot still holds the run: its worker starts, runs, or is being stopped after the run was recorded
   * final (a cancel's kill takes seconds), or its end is still to be written. Its folder is in use meanwhile.
   */
  public boolean holds(String runId) {
    return held.contains(runId);
  }

  private void occupy(Slot s, String runId) {
    s.runId = runId;
    held.add(runId);
    busy.incrementAndGet();
  }

  /** The queued run ids in the order they will start. */
  public List<String> queueOrder() throws SQLException {
    List<RunStore.Queued> queued = store.queued();
    // Who started last is a scan of every run: an idle server with a large store asks this ten times a second.
    return queued.isEmpty() ? new java.util.ArrayList<>() : FairQueue.order(queued, store.lastStarted());
  }

  /** Wakes the loop (a run was queued). */
  public void poke() {
    LockSupport.unpark(loop);
  }

  /** How often the store's server lock is checked (a PostgreSQL lock goes with its connection). */
  static final long LOCK_CHECK_MS = 10_000;

  private void loop() {
    long lockChecked = System.currentTimeMillis();
    while (!stopping) {
      try {
        if (System.currentTimeMillis() - lockChecked >= LOCK_CHECK_MS) {
          lockChecked = System.currentTimeMillis();
          store.checkServerLock(); // outside the tick's lock: it may wait on the database
        }
        tick();
      } catch (Throwable t) {
        LOG.error("supervisor tick failed", t);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(TICK_MS));
    }
  }

  /** One round: record the workers that ended, then fill the free slots. */
  synchronized void tick() throws SQLException {
    if (stopping) {
      return;
    }
    long now = System.currentTimeMillis();
    for (Slot s : List.copyOf(slots)) {
      if (s.cancelling) {
        if (s.outlived && s.job.exit().isPresent()) {
          LOG.atInfo().addKeyValue("run", s.runId).log("the worker that outlived its kill has ended; its slot is"
              + " free");
          free(s);
        }
        continue; // its stop() frees it once the worker is gone; the run is recorded final already
      }
      if (s.ending != null) {
        end(s, s.ending);
      } else if (s.job != null) {
        Optional<Launcher.Exit> exit = s.job.exit();
        if (exit.isPresent()) {
          ended(s, exit.get());
        } else {
          recordStatus(s, now);
          // A job followed again after a restart, which waited when last saved, counts as waiting since then until
          // its state is known.
          long waitingSince = s.waitCountedToMs > 0 ? s.waitCountedToMs : s.adoptedCountedToMs;
          if (s.deadlineMs > 0 && waitingSince == 0 && now >= s.deadlineMs) {
            overtime(s, overtimeMessage(s.limitHours));
          } else if (waitingSince > 0 && s.queuedMs + now - waitingSince >= limitMs(s)) {
            overtime(s, queuedTooLongMessage(s.limitHours));
          }
        }
      }
    }
    if (now < launchesPausedUntilMs || store.serverLockLost()) {
      return; // a start just failed; or another server has this store's queue now
    }
    List<String> order = null;
    for (Slot s : List.copyOf(slots)) {
      if (s.runId != null) {
        continue;
      }
      if (order == null) {
        order = queueOrder();
        // Runs whose last start failed go after the others (a cause of their own does not hold up the queue).
        order.sort(java.util.Comparator.comparing(failingSinceMs::containsKey));
      }
      while (!order.isEmpty() && s.runId == null) {
        if (System.currentTimeMillis() < launchesPausedUntilMs) {
          return; // a start just failed
        }
        startNext(s, order.remove(0));
      }
      if (order.isEmpty()) {
        break;
      }
    }
  }

  private void startNext(Slot s, String runId) throws SQLException {
    Optional<Run> cur = store.get(runId);
    if (cur.isEmpty() || cur.get().getState() != RunState.QUEUED) {
      return;
    }
    int attempt = cur.get().getAttempt() + 1;
    long now = System.currentTimeMillis();
    String msg = attempt == 1 ? "running" : "running again (attempt " + attempt + ")";
    Optional<Run> started = store.update(runId, r -> r.getState() != RunState.QUEUED || r.getAttempt() != attempt - 1
        ? null : withoutJob(r.toBuilder()).setState(RunState.RUNNING).setAttempt(attempt).setClaim(0)
            .setQueuePosition(0).setStartedUnixMs(r.getStartedUnixMs() == 0 ? now : r.getStartedUnixMs()).build(),
        Worker.state(RunState.RUNNING, msg));
    if (started.isEmpty()) {
      return;
    }
    occupy(s, runId);
    launch(s, started.get());
  }

  /**
   * Records a change of the job's status (a Slurm job going from PENDING to RUNNING, say) in the run. Time its job
   * waits in the cluster's queue does not count against the run's limit: the wait is added to the run's queued
   * seconds, and the slot's deadline moved by it, when the job leaves the queue and, while it waits, every
   * {@link #waitSaveMs} (so that a server restart loses little of it). While it waits, no deadline applies, but the
   * run's waits in all may not exceed its limit.
   */
  private void recordStatus(Slot s, long now) throws SQLException {
    boolean queued = s.job.queued();
    String st = s.job.status();
    long from = s.waitCountedToMs; // the start of the wait not counted yet, 0 if none
    long waitEnd = now; // its end: now, to within a poll of the cluster
    boolean adopted = s.followedAgain && !st.isEmpty();
    if (adopted) {
      // The first known state of a job followed again after a restart. If it waited when last saved, the wait not
      // counted yet (since that save, and while no server ran) goes on from there if the job still waits, or lasted
      // until the cluster started the job if it has left the queue since (Slurm's StartTime, whole seconds: to the
      // end of that second); not counted when the cluster does not say when. If the cluster requeued the job after
      // that save (Slurm's SubmitTime is then the requeue's), or after the job had started, it ran in between: only
      // the wait since the requeue is known, and counted.
      long counted = s.adoptedCountedToMs;
      long requeued = s.job.queuedSinceUnixMs().orElse(0);
      if (requeued > counted && (counted > 0 || queued)) {
        counted = requeued;
      }
      long started = s.job.startedUnixMs().orElse(0);
      if (counted > 0 && (queued || started + 999 > counted)) {
        from = counted;
        waitEnd = queued ? now : Math.min(now, started + 999);
      }
    }
    if (queued) {
      // Kept before the write: if it fails, the next tick counts from the same point.
      s.waitCountedToMs = from = from == 0 ? now : from;
    }
    long addedMs = from > 0 && (!queued || now - from >= waitSaveMs(s)) ? Math.max(0, waitEnd - from) : 0;
    if (st.equals(s.status) && addedMs == 0) {
      return;
    }
    int attempt = s.attempt;
    double added = addedMs / 1e3;
    long countedTo = !queued ? 0 : addedMs > 0 ? now : from;
    // Written first, the slot changed after: a failed write is tried again at the next tick, nothing counted twice
    // or lost.
    store.update(s.runId, r -> r.getState() != RunState.RUNNING || r.getAttempt() != attempt ? null
        : r.toBuilder().setJobState(st).setQueuedSeconds(r.getQueuedSeconds() + added)
            .setQueuedCountedToUnixMs(countedTo).build())
        .ifPresent(observer::changed);
    s.status = st;
    s.waitCountedToMs = countedTo;
    s.queuedMs += addedMs;
    s.deadlineMs += addedMs;
    if (adopted) {
      s.adoptedCountedToMs = 0;
      s.followedAgain = false;
    }
  }

  /** How often a wait in the cluster's queue is saved while it goes on: every 30 s, or a twentieth of the limit. */
  static long waitSaveMs(Slot s) {
    return Math.max(TICK_MS, Math.min(30_000, limitMs(s) / 20));
  }

  private static long limitMs(Slot s) {
    return (long) (s.limitHours * 3_600_000);
  }

  /**
   * Sets a slot's deadline from its run's wall-clock limit (its own, else the server's: a record of an older server
   * has none), counted from the run's first start, without the time its cluster jobs waited in the cluster's queue.
   */
  private void limit(Slot s, Run run) {
    double h = run.getResolved().getMaxHours();
    s.limitHours = h > 0 ? Math.min(h, settings.maxRunHours()) : settings.maxRunHours();
    long started = run.getStartedUnixMs() > 0 ? run.getStartedUnixMs() : System.currentTimeMillis();
    s.queuedMs = (long) (run.getQueuedSeconds() * 1e3);
    s.deadlineMs = started + s.queuedMs + limitMs(s);
    s.waitCountedToMs = 0;
    s.adoptedCountedToMs = 0; // start() sets it after, for a job followed again
    s.followedAgain = false;
  }

  /**
   * Starts the worker of the run's current attempt in a slot. A job the platform refuses for good
   * ({@link Launcher.Refused}: an unknown partition), or a launcher's own error, fails its run. Any other failure to
   * start one (the scheduler unreachable or timing out, a full disk, no process) is the platform's passing trouble,
   * not the run's: the run goes back to the queue with the reason, behind the runs whose starts have not failed, and
   * no worker is started for a while (a pause that doubles while starts keep failing), so that one outage does not
   * fail every queued run in turn; after {@link #LAUNCH_GIVE_UP_MS} of failed starts the run fails.
   */
  private void launch(Slot s, Run run) throws SQLException {
    s.attempt = run.getAttempt();
    s.epochsAtStart = run.getEpochsCount();
    s.status = "";
    limit(s, run);
    long left = s.deadlineMs - System.currentTimeMillis();
    if (left <= 0) {
      finish(s, RunState.FAILED, overtimeMessage(s.limitHours), null);
      return;
    }
    try {
      s.job = launcher.launch(new Launcher.Spec(run.getRunId(), run.getAttempt(), s.index,
          settings.threadsPerSlot(), env(s.index), log(run.getRunId()), java.time.Duration.ofMillis(left)));
    } catch (Launcher.Refused | RuntimeException e) {
      // Refused for good, or the launcher's own fault: the run fails with it (it would hold up the queue).
      failingSinceMs.remove(run.getRunId());
      finish(s, RunState.FAILED, "cannot start a worker: " + (e.getMessage() == null ? e : e.getMessage()), null);
      return;
    } catch (IOException e) {
      launchFailed(s, run, e.getMessage() == null ? e.toString() : e.getMessage());
      return;
    }
    launchPauseMs = FIRST_LAUNCH_PAUSE_MS;
    failingSinceMs.remove(run.getRunId());
    String where = s.job.where();
    String jobId = s.job.jobId();
    store.update(run.getRunId(), r -> r.getAttempt() == s.attempt ? r.toBuilder().setWorker(where).setJobId(jobId)
        .build() : null).ifPresent(observer::changed);
    LOG.atInfo().addKeyValue("run", run.getRunId()).addKeyValue("owner", run.getOwner())
        .addKeyValue("state", "RUNNING").addKeyValue("attempt", s.attempt).addKeyValue("slot", s.index)
        .addKeyValue("worker", where).log("run started");
  }

  /**
   * Each slot's share of the box: its GPU when there are GPUs, with memory growth on; and TensorFlow pools of each
   * session's own, so that a run's model sizes its threads itself (one per tower on a CPU, see CtrModel.towers).
   */
  Map<String, String> env(int slot) {
    Map<String, String> env = new HashMap<>();
    env.put(org.ctrlab.server.Devices.OWN_POOLS_ENV, "true");
    if (!settings.gpus().isEmpty()) {
      env.put("CUDA_VISIBLE_DEVICES", settings.gpus().get(slot % settings.gpus().size()));
      env.put("TF_FORCE_GPU_ALLOW_GROWTH", "true");
    }
    return env;
  }

  private Path log(String runId) {
    return Worker.dir(settings.runDir(), runId).resolve("worker.log");
  }

  static String queuedTooLongMessage(double hours) {
    return "ended: its cluster jobs waited in the cluster's queue for " + hoursText(hours) + " h in all, its"
        + " wall-clock limit (the run's max_hours, at most the server's --max-run-hours); its epochs so far are kept";
  }

  static String overtimeMessage(double hours) {
    return "ended: it ran past its wall-clock limit of " + hoursText(hours) + " h from its first start, time in a"
        + " cluster's queue not counted (the run's max_hours, at most the server's --max-run-hours); its epochs so far"
        + " are kept";
  }

  /** Hours to four significant digits, without trailing zeros. */
  private static String hoursText(double hours) {
    return new java.math.BigDecimal(hours).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
  }

  /**
   * A run past its wall-clock limit: recorded FAILED with the reason first (from then on its worker's writes are
   * refused), then its worker is stopped, the slot staying taken until it is gone (outside the lock: a kill may
   * take seconds).
   */
  private void overtime(Slot s, String msg) throws SQLException {
    String runId = s.runId;
    int attempt = s.attempt;
    store.update(runId, r -> r.getState() != RunState.RUNNING || r.getAttempt() != attempt ? null
        : finished(r.toBuilder(), RunState.FAILED, msg), Worker.state(RunState.FAILED, msg)).ifPresent(r -> {
          observer.changed(r);
          ended(r);
        });
    s.cancelling = true;
    stopLater(s, runId, s.job, "a run past its limit");
  }

  /** {@link #stop} on a thread of its own (a kill may take seconds), then a tick to fill the slot it frees. */
  private void stopLater(Slot held, String runId, Launcher.Job worker, String what) {
    Thread t = new Thread(() -> {
      stop(held, runId, worker, what);
      poke();
    }, "ctrlab-stop-" + runId);
    t.setDaemon(true);
    t.start();
  }

  /**
   * Kills the worker of a run already recorded final (its writes are refused) and frees its slot once it is gone;
   * the slot, marked cancelling, stays taken meanwhile, and after the kill too if the worker outlived it (the tick
   * frees it when the worker ends). Called outside the lock: a kill may take seconds.
   */
  private void stop(Slot held, String runId, Launcher.Job worker, String what) {
    try {
      if (worker != null) {
        worker.kill();
      }
    } catch (RuntimeException e) {
      LOG.atWarn().addKeyValue("run", runId).log("cannot stop the worker of " + what + " (its writes are refused): "
          + e.getMessage());
    } finally {
      if (held != null) {
        synchronized (this) {
          if (!runId.equals(held.runId)) {
            held.cancelling = false;
          } else if (worker != null && worker.exit().isEmpty()) {
            held.outlived = true; // the tick frees it once the worker has ended
            LOG.atWarn().addKeyValue("run", runId).addKeyValue("worker", worker.where()).log("the worker of "
                + what + " outlived its kill (its writes are refused); its slot stays taken until it ends");
          } else {
            free(held);
          }
        }
      }
    }
  }

  /** A worker ended by itself: it finished the run, or it crashed and is started again while attempts remain. */
  private void ended(Slot s, Launcher.Exit exit) throws SQLException {
    String runId = s.runId;
    Run r = store.get(runId).orElse(null);
    if (r == null || r.getState() != RunState.RUNNING || r.getAttempt() != s.attempt) {
      free(s); // it recorded its end (SUCCEEDED or FAILED), or the run was deleted
      if (r != null) {
        observer.changed(r);
        ended(r);
      }
      return;
    }
    if (s.deadlineMs > 0 && s.waitCountedToMs == 0 && s.adoptedCountedToMs == 0
        && System.currentTimeMillis() >= s.deadlineMs - 60_000) {
      // Ended at its limit (a cluster's time limit, set from it, kills it then): not a crash to retry.
      finish(s, RunState.FAILED, overtimeMessage(s.limitHours) + "; " + exit.cause(), null);
      return;
    }
    // Abnormal ends count in a row: an attempt that recorded a new epoch starts the count again, so a run whose
    // jobs a cluster's time limit or preemptions end again and again, each after some progress, goes on to its end.
    int crashes = (r.getEpochsCount() > s.epochsAtStart ? 0 : r.getCrashes()) + 1;
    String tail = tail(log(runId));
    // A worker that ended before it took up the run (no claim), not by a signal, out of memory or the cluster's
    // doing, did not start. With the shell's "cannot execute" or "not found" (126, 127: no Java where the job ran)
    // it never will, and the run fails at once; anything else (the store unreachable for a moment) is retried.
    boolean neverStarted = r.getClaim() == 0 && !exit.signalled() && !exit.platform()
        && exit.code() != Worker.EXIT_OUT_OF_MEMORY;
    boolean cannotRun = neverStarted && (exit.code() == Launcher.Exit.CANNOT_START || exit.code() == 127);
    if (exit.code() == Worker.EXIT_RUN_FAILED || cannotRun || crashes >= settings.maxAttempts()) {
      String why = exit.code() == Worker.EXIT_RUN_FAILED ? "the worker failed"
          : cannotRun ? "the worker could not be started: " + exit.cause()
          : String.format("the worker %s%s; %d of %d attempts ended so in a row, with no new epoch between them, and"
              + " it is not started again",
              neverStarted ? "did not start: " : "", exit.cause(), crashes, settings.maxAttempts());
      finish(s, RunState.FAILED, why + (tail.isEmpty() ? "" : "; last lines of its log:\n" + tail), crashes);
      if (exit.code() != Worker.EXIT_RUN_FAILED) {
        observer.crashed(r, exit);
      }
      return;
    }
    int epochs = r.getEpochsCount();
    int attempt = s.attempt + 1;
    Optional<Run> again = store.update(runId, cur -> cur.getAttempt() != s.attempt ? null
        : withoutJob(cur.toBuilder()).setAttempt(attempt).setClaim(0).setCrashes(crashes).build(),
        Worker.log(String.format("worker attempt %d %s; attempt %d resumes after epoch %d (%d of %d abnormal ends in"
            + " a row with no new epoch)", s.attempt, exit.cause(), attempt, epochs, crashes, settings.maxAttempts())));
    if (again.isPresent()) {
      observer.crashed(r, exit);
      LOG.atWarn().addKeyValue("run", runId).addKeyValue("owner", r.getOwner()).addKeyValue("attempt", s.attempt)
          .addKeyValue("exit", exit.code()).log("worker " + exit.cause() + "; starting attempt " + attempt
              + (tail.isEmpty() ? "" : "; last lines of its log:\n" + tail));
      launch(s, again.get());
    } else {
      free(s);
    }
  }

  private void launchFailed(Slot s, Run run, String why) {
    String runId = s.runId;
    int attempt = s.attempt;
    long now = System.currentTimeMillis();
    long since = failingSinceMs.computeIfAbsent(runId, k -> now);
    if (now - since >= LAUNCH_GIVE_UP_MS) {
      failingSinceMs.remove(runId);
      finish(s, RunState.FAILED, String.format("cannot start a worker: its starts have failed for %d minutes: %s",
          (now - since) / 60_000, why), null);
      return;
    }
    long pause = launchPauseMs;
    launchPauseMs = Math.min(LAST_LAUNCH_PAUSE_MS, 2 * pause);
    launchesPausedUntilMs = System.currentTimeMillis() + pause;
    String msg = "waiting: a worker could not be started (" + why + "); starts are tried again in "
        + Math.max(1, pause / 1000) + " s";
    LOG.atWarn().addKeyValue("run", runId).addKeyValue("owner", run.getOwner()).addKeyValue("attempt", attempt)
        .log("cannot start a worker: " + why + "; the run goes back to the queue and no worker is started for "
            + pause + " ms");
    // Back in the queue. The attempt stays spent: a scheduler that timed out may still have taken the job, whose
    // worker must then find its attempt stale. A first start is not counted as a start.
    end(s, () -> store.update(runId, r -> r.getState() != RunState.RUNNING || r.getAttempt() != attempt ? null
        : withoutJob(r.toBuilder()).setState(RunState.QUEUED)
            .setStartedUnixMs(attempt == 1 ? 0 : r.getStartedUnixMs()).build(),
        Worker.state(RunState.QUEUED, msg)).ifPresent(observer::changed));
  }

  /** The last lines of a worker's log, at most 2,000 characters. */
  static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      StringBuilder b = new StringBuilder();
      for (int i = Math.max(0, lines.size() - 12); i < lines.size(); i++) {
        b.append(lines.get(i)).append('\n');
      }
      String t = b.toString().strip();
      return t.length() > 2000 ? "..." + t.substring(t.length() - 2000) : t;
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  private void finish(Slot s, RunState state, String message, Integer crashes) {
    String runId = s.runId;
    int attempt = s.attempt;
    end(s, () -> store.update(runId, r -> r.getState() != RunState.RUNNING || r.getAttempt() != attempt ? null
        : finished(crashes == null ? r.toBuilder() : r.toBuilder().setCrashes(crashes), state, message),
        Worker.state(state, message)).ifPresent(r -> {
          observer.changed(r);
          ended(r);
        }));
  }

  /**
   * Writes a slot's run's end to the store, then frees the slot; if the store refuses (busy, unreachable), the slot
   * stays taken with the write pending, and each tick tries it again.
   */
  private void end(Slot s, Ending ending) {
    s.ending = ending;
    try {
      ending.run();
    } catch (SQLException | RuntimeException e) {
      LOG.atWarn().addKeyValue("run", s.runId).log("cannot record the run's end in the store (" + e.getMessage()
          + "); its slot stays taken and the write is tried again");
      return;
    }
    s.ending = null;
    free(s);
  }

  /** The log line of a run that reached a final state (its message's first line; no tokens are ever in one). */
  private static void ended(Run r) {
    var line = LOG.atInfo().addKeyValue("run", r.getRunId()).addKeyValue("owner", r.getOwner())
        .addKeyValue("state", r.getState());
    if (!r.getCancelledBy().isEmpty()) {
      line = line.addKeyValue("by", r.getCancelledBy());
    }
    line.log("run ended: " + r.getMessage().lines().findFirst().orElse(""));
  }

  /** A run's record without a worker or cluster job: what a new attempt, or a run back in the queue, starts from. */
  private static Run.Builder withoutJob(Run.Builder b) {
    return b.setWorker("").setJobId("").setJobState("").setQueuedCountedToUnixMs(0);
  }

  private static Run finished(Run.Builder b, RunState state, String message) {
    long now = System.currentTimeMillis();
    return b.setState(state).setMessage(message).setFinishedUnixMs(now).setQueuePosition(0).setQueuedCountedToUnixMs(0)
        .setTotalSeconds(b.getStartedUnixMs() == 0 ? 0 : (now - b.getStartedUnixMs()) / 1e3).build();
  }

  private void free(Slot s) {
    if (s.runId != null) {
      busy.decrementAndGet();
      held.remove(s.runId);
    }
    s.runId = null;
    s.job = null;
    s.cancelling = false;
    s.outlived = false;
    s.attempt = 0;
    s.status = "";
    s.deadlineMs = 0;
    s.waitCountedToMs = 0;
    s.queuedMs = 0;
    s.adoptedCountedToMs = 0;
    s.followedAgain = false;
    s.ending = null;
    if (s.index >= settings.slots()) {
      slots.remove(s);
    }
  }

  /**
   * Cancels a queued run at once, and a running one by killing its worker (at any stage: loading, building the
   * graph or training). Returns the record as it stands after; a run already final is returned unchanged.
   */
  public Optional<Run> cancel(String runId, String by) throws SQLException {
    Slot held = null;
    Launcher.Job worker = null;
    synchronized (this) {
      Run r = store.get(runId).orElse(null);
      if (r == null) {
        return Optional.empty();
      }
      if (r.getState() == RunState.QUEUED) {
        failingSinceMs.remove(runId);
        String msg = "cancelled by " + by + " before it started";
        Optional<Run> done = store.update(runId, cur -> cur.getState() != RunState.QUEUED ? null
            : finished(cur.toBuilder().setCancelledBy(by), RunState.CANCELLED, msg), Worker.state(RunState.CANCELLED,
                msg));
        if (done.isPresent()) {
          observer.changed(done.get());
          ended(done.get());
          return done;
        }
        r = store.get(runId).orElseThrow();
      }
      if (r.getState() != RunState.RUNNING) {
        return Optional.of(r);
      }
      // CANCELLED first: from this commit on, the worker's fenced writes are refused; then it is stopped.
      String msg = "cancelled by " + by + " in epoch " + (r.getEpochsCount() + 1);
      store.update(runId, cur -> cur.getState() != RunState.RUNNING ? null
          : finished(cur.toBuilder().setCancelledBy(by), RunState.CANCELLED, msg), Worker.state(RunState.CANCELLED,
              msg));
      for (Slot s : slots) {
        if (runId.equals(s.runId) && !s.cancelling) {
          held = s;
          worker = s.job;
          s.cancelling = true; // taken until the worker is gone, so that no other run starts beside it
        }
      }
    }
    // Outside the lock: a kill may wait seconds (scancel, a JVM's exit), and launches and watchers must not.
    stop(held, runId, worker, "the cancelled run");
    Run after = store.get(runId).orElse(null);
    if (after != null && isFinal(after.getState())) {
      observer.changed(after); // cancelled, or it finished just before the cancel: either way, its end is told
      ended(after);
    }
    poke();
    return Optional.ofNullable(after);
  }

  /** Whether a run in this state is over (SUCCEEDED, FAILED or CANCELLED). */
  public static boolean isFinal(RunState s) {
    return s == RunState.SUCCEEDED || s == RunState.FAILED || s == RunState.CANCELLED;
  }

  /** Puts a RUNNING run back in the queue, first in line, to resume from its last completed epoch. */
  private void requeue(String runId, String why) throws SQLException {
    Optional<Run> back = store.update(runId, r -> r.getState() != RunState.RUNNING ? null
        : r.toBuilder().setState(RunState.QUEUED).setWorker("").setQueuedCountedToUnixMs(0).build(),
        Worker.log(why + " during its epoch; it resumes after its last completed epoch, ahead of the queue"),
        Worker.state(RunState.QUEUED, "waiting to resume"));
    back.ifPresent(r -> {
      observer.changed(r);
      LOG.atInfo().addKeyValue("run", runId).addKeyValue("owner", r.getOwner()).addKeyValue("state", "QUEUED")
          .addKeyValue("epochs", r.getEpochsCount()).log("run back in the queue to resume: " + why);
    });
  }

  /**
   * Stops: starts nothing more, kills every worker and hands its run back to the queue to resume first after a
   * restart (waiting for nothing but the workers' deaths); a cluster's jobs are left to go on, and the next server
   * follows them again.
   */
  @Override
  public void close() {
    stopping = true;
    LockSupport.unpark(loop);
    if (launcher.jobsOutliveTheServer()) {
      try {
        loop.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      LOG.atInfo().addKeyValue("jobs", busySlots()).log("leaving the cluster's jobs as they are (a cancelled one"
          + " that outlived its cancel included); the next start follows them again");
      launcher.close();
      return;
    }
    synchronized (this) {
      List<String> running = new ArrayList<>();
      for (Slot s : List.copyOf(slots)) {
        if (s.job != null) {
          s.job.kill();
          running.add(s.runId);
        }
        free(s);
      }
      for (String id : running) {
        try {
          requeue(id, "the server stopped");
        } catch (SQLException e) {
          LOG.warn("run {} stays RUNNING in the store; the next start resumes it", id);
        }
      }
    }
    try {
      loop.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    launcher.close();
  }
}
