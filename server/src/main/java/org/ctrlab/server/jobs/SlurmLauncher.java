package org.ctrlab.server.jobs;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.Run;

/**
 * Runs each worker as a Slurm batch job: a small script in the run's folder that starts the same worker the local
 * launcher starts ({@code ServerMain worker RUN_ID}), submitted with {@code sbatch} (partition, CPUs, GPUs, memory,
 * time limit and account from the server's settings; {@code --requeue}, so Slurm may requeue it after a preemption
 * or a lost node, and the worker then resumes from the run's last epoch). One poller follows every job with
 * {@code squeue}, and reads a finished job's exit code with {@code scontrol}; a cancel is {@code scancel}. Jobs go on
 * when the server stops: the next server follows them again from the job ids in the run records. The store's
 * location reaches the job in its environment (sbatch exports the submitting one), never on a command line.
 */
public final class SlurmLauncher implements Launcher {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SlurmLauncher.class);
  private static final Set<String> FINAL = Set.of("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
      "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT");
  // PREEMPTED is left out: jobs are submitted with --requeue, so Slurm may still requeue a preempted job under the
  // same id; one it does not requeue is followed until Slurm forgets it, and then counts as the platform's crash.
  /** Final states that are the cluster's doing, not the worker's: the run gets another attempt. */
  private static final Set<String> PLATFORM = Set.of("NODE_FAIL", "BOOT_FAIL", "REVOKED");
  /** How often scancel is sent again to a job that outlived its kill. */
  private static final long CANCEL_AGAIN_NANOS = TimeUnit.SECONDS.toNanos(30);

  /** What every job asks Slurm for. */
  public record Settings(String partition, int cpusPerRun, int gpusPerRun, String memory, String timeLimit,
      String account, List<String> extraArgs, String java, Duration poll) {
    public Settings {
      extraArgs = List.copyOf(extraArgs);
      if (poll.isNegative() || poll.isZero()) {
        throw new IllegalArgumentException("the Slurm poll interval must be positive");
      }
    }
  }

  private final Settings settings;
  private final List<String> jvmOptions;
  private final List<String> workerArgs;
  private final Map<String, String> env;
  private final String classPath;
  private final Path bin;
  private final Map<String, SlurmJob> jobs = new ConcurrentHashMap<>();
  private final Thread poller;
  private volatile boolean closed;

  public SlurmLauncher(Settings settings, List<String> jvmOptions, List<String> workerArgs, Map<String, String> env) {
    this(settings, jvmOptions, workerArgs, env, null);
  }

  /** With Slurm's commands taken from the folder {@code bin} (null: found on the server's PATH). */
  SlurmLauncher(Settings settings, List<String> jvmOptions, List<String> workerArgs, Map<String, String> env,
      Path bin) {
    this.bin = bin;
    this.settings = settings;
    this.jvmOptions = List.copyOf(jvmOptions);
    this.workerArgs = List.copyOf(workerArgs);
    this.env = Map.copyOf(env);
    this.classPath = System.getProperty("java.class.path");
    this.poller = new Thread(this::poll, "ctrlab-slurm-poll");
    this.poller.setDaemon(true);
    this.poller.start();
  }

  @Override
  public boolean jobsOutliveTheServer() {
    return true;
  }

  /** The batch script of one attempt. */
  String script(Spec spec) {
    String java = settings.java() != null ? settings.java() : ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    StringBuilder b = new StringBuilder("#!/bin/bash\n");
    b.append("# ctrlab run ").append(spec.runId()).append(", attempt ").append(spec.attempt())
        .append(" (written by the server; Slurm runs it again if it requeues the job)\n");
    b.append("#SBATCH --job-name=ctrlab-").append(spec.runId()).append("-a").append(spec.attempt()).append('\n');
    b.append("#SBATCH --output=").append(spec.log().toAbsolutePath()).append('\n');
    b.append("#SBATCH --open-mode=append\n#SBATCH --requeue\n");
    b.append("#SBATCH --cpus-per-task=").append(settings.cpusPerRun() > 0 ? settings.cpusPerRun() : spec.threads())
        .append('\n');
    if (settings.partition() != null) {
      b.append("#SBATCH --partition=").append(settings.partition()).append('\n');
    }
    if (settings.gpusPerRun() > 0) {
      b.append("#SBATCH --gres=gpu:").append(settings.gpusPerRun()).append('\n');
    }
    if (settings.memory() != null) {
      b.append("#SBATCH --mem=").append(settings.memory()).append('\n');
    }
    if (settings.timeLimit() != null) {
      b.append("#SBATCH --time=").append(settings.timeLimit()).append('\n');
    } else if (spec.timeLeft() != null) {
      // What remains of the run's wall-clock limit (--max-run-hours), in whole minutes: Slurm ends it there.
      b.append("#SBATCH --time=").append(Math.max(1, (spec.timeLeft().toSeconds() + 59) / 60)).append('\n');
    }
    if (settings.account() != null) {
      b.append("#SBATCH --account=").append(settings.account()).append('\n');
    }
    for (String x : settings.extraArgs()) {
      b.append("#SBATCH ").append(x).append('\n');
    }
    List<String> cmd = new ArrayList<>(List.of(java, LocalLauncher.WORKER_PROPERTY + spec.runId(),
        "-XX:+ExitOnOutOfMemoryError"));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("org.ctrlab.server.ServerMain", "worker", spec.runId(), "--attempt",
        String.valueOf(spec.attempt()), "--threads", String.valueOf(spec.threads())));
    cmd.addAll(workerArgs);
    b.append("echo \"=== $(date -u +%FT%TZ) slurm job $SLURM_JOB_ID on $(hostname), restart ${SLURM_RESTART_COUNT:-0}\"\n");
    b.append("exec");
    for (String c : cmd) {
      b.append(' ').append(quote(c));
    }
    return b.append('\n').toString();
  }

  /** sbatch's words for trouble that passes (the controller unreachable or busy, a submit limit), not a refusal. */
  private static final List<String> PASSING = List.of("timed out", "unable to contact", "temporarily",
      "connection refused", "zero bytes were transmitted", "maxsubmitjob", "try again");

  /** Whether sbatch's error is one that passes: the job would be taken later as it is. */
  static boolean passing(String err) {
    String e = err.toLowerCase(java.util.Locale.ROOT);
    return PASSING.stream().anyMatch(e::contains);
  }

  static String quote(String s) {
    return s.matches("[A-Za-z0-9_./=:,@+-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
  }

  @Override
  public Job launch(Spec spec) throws IOException {
    Path dir = spec.log().getParent();
    org.ctrlab.server.files.PrivateFiles.createDirectories(dir);
    Path script = dir.resolve("job-" + spec.attempt() + ".sh");
    org.ctrlab.server.files.PrivateFiles.createFile(script);
    Files.writeString(script, script(spec), StandardCharsets.UTF_8);
    org.ctrlab.server.files.PrivateFiles.createFile(spec.log());
    try (OutputStream o = Files.newOutputStream(spec.log(), java.nio.file.StandardOpenOption.APPEND)) {
      o.write(String.format("=== %s attempt %d of run %s submitted to Slurm%n", Instant.now(), spec.attempt(),
          spec.runId()).getBytes(StandardCharsets.UTF_8));
    }
    Map<String, String> jobEnv = new HashMap<>(env);
    jobEnv.put("CLASSPATH", classPath);
    spec.env().forEach((k, v) -> {
      if (!k.equals("CUDA_VISIBLE_DEVICES")) { // Slurm gives each job its GPUs
        jobEnv.put(k, v);
      }
    });
    if (settings.gpusPerRun() > 0) {
      jobEnv.put("TF_FORCE_GPU_ALLOW_GROWTH", "true");
    }
    Result r = slurm(jobEnv, "sbatch", "--parsable", script.toString());
    if (r.code != 0) {
      String err = r.err.strip().replace('\n', ' ');
      if (passing(err)) {
        throw new IOException("Slurm could not take the job now: " + err);
      }
      throw new Launcher.Refused("Slurm refused the job: " + err);
    }
    String id = r.out.strip().split(";")[0];
    SlurmJob job = new SlurmJob(id);
    jobs.put(id, job);
    LOG.atInfo().addKeyValue("run", spec.runId()).addKeyValue("job", id).log("submitted to Slurm");
    return job;
  }

  @Override
  public Optional<Job> adopt(Run run) throws IOException {
    if (run.getJobId().isEmpty()) {
      return Optional.empty();
    }
    // Only Slurm's own "no such job" says the job is gone (a RUNNING run then goes back to the queue); while Slurm
    // does not answer, the job is followed (the poller asks again), lest a second job be started beside one that
    // still runs. Its state stays unknown (status "") until the poller has it.
    Result r;
    try {
      r = slurm(env, "scontrol", "show", "job", "-o", run.getJobId());
    } catch (IOException e) {
      LOG.warn("cannot ask Slurm about job {} now ({}); following it", run.getJobId(), e.getMessage());
      r = new Result(-1, "", "");
    }
    if (r.code != 0 && (r.err + r.out).contains("Invalid job id")) {
      return Optional.empty();
    }
    SlurmJob job = new SlurmJob(run.getJobId());
    if (r.code == 0) {
      job.seen(r.out);
    }
    return Optional.of(followed(job));
  }

  /**
   * The runs' jobs with one squeue (in chunks of {@link #IDS_PER_SQUEUE} ids). A job squeue does not list is asked
   * about on its own ({@link #adopt(Run)}: scontrol, which tells a job Slurm no longer knows from one it cannot say
   * about now); when squeue cannot answer at all (the controller down or timing out), its jobs are followed with
   * their state unknown until the poller has it, as {@link #adopt(Run)} does, rather than asked about one by one.
   */
  @Override
  public List<Optional<Job>> adopt(List<Run> runs) throws IOException {
    List<String> ids = runs.stream().map(Run::getJobId).filter(id -> !id.isEmpty()).distinct().toList();
    Map<String, String[]> listed = new HashMap<>();
    Set<String> unanswered = new java.util.HashSet<>();
    for (int i = 0; i < ids.size(); i += IDS_PER_SQUEUE) {
      List<String> chunk = ids.subList(i, Math.min(ids.size(), i + IDS_PER_SQUEUE));
      try {
        listed.putAll(queue(chunk));
      } catch (IOException e) {
        LOG.warn("cannot read Slurm's queue now ({}); following {} job(s) until it answers", e.getMessage(),
            chunk.size());
        unanswered.addAll(chunk);
      }
    }
    Map<String, Optional<Job>> made = new HashMap<>(); // one job followed per id, whatever runs name it
    List<Optional<Job>> out = new ArrayList<>(runs.size());
    for (Run run : runs) {
      String id = run.getJobId();
      Optional<Job> job = made.get(id);
      if (job == null) {
        String[] f = listed.get(id);
        if (f != null) {
          SlurmJob j = new SlurmJob(id);
          j.seen(f);
          job = Optional.of(followed(j));
        } else {
          job = unanswered.contains(id) ? Optional.of(followed(new SlurmJob(id))) : adopt(run);
        }
        made.put(id, job);
      }
      out.add(job);
    }
    return out;
  }

  /** Follows a job from now on, with its exit read if Slurm gave a final state. */
  private SlurmJob followed(SlurmJob job) {
    if (job.state != null && FINAL.contains(job.state)) {
      job.exit = finalExit(job);
    }
    jobs.put(job.id, job);
    return job;
  }

  /** How many job ids one squeue is given at most. */
  static final int IDS_PER_SQUEUE = 500;

  /**
   * What squeue lists of the given jobs (of any state it still knows): each job's id, state, reason, start time and
   * submit time, by id. A job it does not list is not in the map.
   */
  private Map<String, String[]> queue(java.util.Collection<String> ids) throws IOException {
    Result r = slurm(env, "squeue", "--states=all", "-h", "-o", "%i|%T|%r|%S|%V", "-j", String.join(",", ids));
    Set<String> asked = Set.copyOf(ids);
    Map<String, String[]> listed = new HashMap<>();
    for (String line : r.out.split("\n")) {
      String[] f = line.strip().split("\\|", -1);
      if (f.length >= 3 && asked.contains(f[0])) {
        String[] all = java.util.Arrays.copyOf(f, 5);
        java.util.Arrays.setAll(all, i -> all[i] == null ? "" : all[i]); // a field squeue left out: no time
        listed.put(f[0], all);
      }
    }
    return listed;
  }

  private final class SlurmJob implements Job {
    final String id;
    volatile String state;
    volatile String reason = "";
    volatile Exit exit;
    /** When a final state was first seen (0: not seen, or not since the job was last seen live). */
    volatile long finalSinceMs;
    /** Since when it has pended for a reason that does not pass (0: it does not). */
    volatile long neverSinceMs;
    /** Slurm's restart count of the job when the final state was first seen. */
    volatile String restarts = "";
    /** It outlived kill's scancels: when the poller sends scancel again (System.nanoTime()), else 0. */
    volatile long cancelAgainNanos;
    /** When it left the queue and started (ms since the epoch), as Slurm last said; 0 while it waits or unknown. */
    volatile long startedMs;
    /** When it last entered the queue (Slurm's SubmitTime, ms since the epoch), as Slurm last said; 0 if unknown. */
    volatile long submittedMs;

    SlurmJob(String id) {
      this.id = id;
    }

    @Override
    public String where() {
      return "slurm job " + id;
    }

    @Override
    public String jobId() {
      return id;
    }

    @Override
    public Optional<Exit> exit() {
      return Optional.ofNullable(exit);
    }

    @Override
    public String status() {
      String s = state;
      if (s == null) {
        return "";
      }
      String r = reason;
      return r == null || r.isEmpty() || r.equals("None") ? s : s + " (" + r + ")";
    }

    @Override
    public boolean queued() {
      return "PENDING".equals(state);
    }

    @Override
    public java.util.OptionalLong startedUnixMs() {
      long t = startedMs;
      return t > 0 ? java.util.OptionalLong.of(t) : java.util.OptionalLong.empty();
    }

    @Override
    public java.util.OptionalLong queuedSinceUnixMs() {
      long t = submittedMs;
      return t > 0 ? java.util.OptionalLong.of(t) : java.util.OptionalLong.empty();
    }

    /**
     * Takes what Slurm says of the job: its state, the reason, the start time of its current run (a pending job's
     * is a forecast, not taken) and when it last entered the queue. The times are set before the state, so that
     * whoever reads the new state reads the times that came with it.
     */
    void seen(String newState, String newReason, String startTime, String submitTime) {
      startedMs = "PENDING".equals(newState) ? 0 : time(startTime);
      submittedMs = time(submitTime);
      state = newState;
      reason = newReason;
    }

    /** {@link #seen(String, String, String, String)} from a row of {@link #queue}: id, state, reason, times. */
    void seen(String[] squeueRow) {
      seen(squeueRow[1], squeueRow[2], squeueRow[3], squeueRow[4]);
    }

    /** {@link #seen(String, String, String, String)} from a line of scontrol show job -o. */
    void seen(String scontrolLine) {
      seen(field(scontrolLine, "JobState"), field(scontrolLine, "Reason"), field(scontrolLine, "StartTime"),
          field(scontrolLine, "SubmitTime"));
    }

    /** Whether it may still run: its state unknown, or not final (scancel is sent to it again). */
    boolean mayLive() {
      String st = state;
      return st == null || !FINAL.contains(st);
    }

    @Override
    public void kill() {
      // scancel again every 2 s while the job lives (a busy controller may refuse one), for at most 10 s; the job's
      // writes are refused (fenced) by then whatever it does.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      long nextCancel = 0;
      while (exit == null && System.nanoTime() < deadline) {
        if (nextCancel == 0 || System.nanoTime() >= nextCancel && mayLive()) {
          scancel();
          nextCancel = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        }
        refresh(List.of(this));
        if (exit == null) {
          sleep(200);
        }
      }
      if (exit == null) {
        // Followed on (its slot stays taken until it ends), scancel sent again every 30 s.
        cancelAgainNanos = System.nanoTime() + CANCEL_AGAIN_NANOS;
        LOG.warn("slurm job {} has not ended 10 s after scancel; its writes are refused, it is followed and"
            + " cancelled again every 30 s until it ends, and Slurm ends it at its time limit at the latest", id);
      } else {
        jobs.remove(id);
      }
    }

    private void scancel() {
      try {
        Result r = slurm(env, "scancel", id);
        if (r.code != 0) {
          LOG.warn("scancel {} failed (exit status {}): {}", id, r.code, r.err.strip());
        }
      } catch (IOException e) {
        LOG.warn("scancel {} failed: {}", id, e.getMessage());
      }
    }
  }

  private void poll() {
    while (!closed) {
      List<SlurmJob> live = jobs.values().stream().filter(j -> j.exit == null).toList();
      if (!live.isEmpty()) {
        refresh(live);
        long now = System.nanoTime();
        for (SlurmJob j : live) {
          if (j.exit == null && j.cancelAgainNanos != 0 && now >= j.cancelAgainNanos && j.mayLive()) {
            j.scancel();
            j.cancelAgainNanos = now + CANCEL_AGAIN_NANOS;
          }
        }
      }
      jobs.values().removeIf(j -> j.exit != null); // the supervisor holds the ended ones it follows
      sleep(settings.poll().toMillis());
    }
  }

  /** Reads the jobs' states with one squeue (and scontrol for a job it no longer lists). */
  private void refresh(List<SlurmJob> list) {
    try {
      Map<String, SlurmJob> byId = new HashMap<>();
      list.forEach(j -> byId.put(j.id, j));
      Map<String, String[]> listed = queue(byId.keySet());
      for (String[] f : listed.values()) {
        SlurmJob j = byId.get(f[0]);
        j.seen(f);
        settle(j);
      }
      for (SlurmJob j : list) {
        if (!listed.containsKey(j.id) && j.exit == null) {
          // Not listed: finished long ago, or unknown to this controller. scontrol says which.
          Result s = slurm(env, "scontrol", "show", "job", "-o", j.id);
          if (s.code != 0 && (s.err + s.out).contains("Invalid job id")) {
            j.exit = new Exit(1, "slurm job " + j.id + " is no longer known to Slurm"
                + (j.state == null ? "" : " (last seen " + j.state + ")"), true);
          } else if (s.code == 0 && !s.out.isBlank()) {
            j.seen(s.out);
            settle(j);
          }
        }
      }
    } catch (IOException e) {
      LOG.warn("cannot read Slurm's queue: {}", e.getMessage());
    }
  }

  /**
   * The reasons a job pends that do not pass by waiting, with what they mean (Slurm's squeue reason codes): such a
   * job never starts unless the cluster's configuration or the job is changed.
   */
  static final Map<String, String> NEVER_STARTS = Map.of(
      "PartitionTimeLimit", "its time limit (--slurm-time, else what is left of --max-run-hours) is over its"
          + " partition's",
      "InvalidAccount", "its account (--slurm-account) is not valid",
      "InvalidQOS", "its QOS is not valid",
      "DependencyNeverSatisfied", "a job it depends on cannot end as it needs",
      "QOSMaxWallDurationPerJobLimit", "its time limit is over its QOS's",
      "AssocMaxWallDurationPerJobLimit", "its time limit is over its association's");

  /**
   * How many looks at Slurm's queue (--slurm-poll-seconds apart: 20 s by default) a job must pend for one of those
   * reasons before it is given up (a reason may flip meanwhile).
   */
  static final int NEVER_HOLD_POLLS = 10;

  /** How long a final state must hold, on two looks, before the job is taken as ended. */
  static final long SETTLE_MS = 3000;

  /**
   * Takes a job as ended only when its final state holds: a job Slurm requeues (a preemption, a lost node) must not
   * be taken for a crash. Slurm 22.05 here goes from COMPLETING straight to PENDING on a requeue; other versions and
   * plugins may show a final state on the way. So a final state counts when scontrol still shows it, with the same
   * restart count, {@link #SETTLE_MS} after it was first seen; a live state in between starts over.
   */
  private void settle(SlurmJob j) {
    if (j.exit != null) {
      return;
    }
    String never = j.queued() ? NEVER_STARTS.get(j.reason) : null;
    if (never == null) {
      j.neverSinceMs = 0;
    } else if (j.neverSinceMs == 0) {
      j.neverSinceMs = System.currentTimeMillis();
    }
    if (never != null && System.currentTimeMillis() - j.neverSinceMs >= NEVER_HOLD_POLLS * settings.poll().toMillis()) {
      // Pending for a reason that does not pass (Slurm accepts such a job unless EnforcePartLimits is set): it
      // would hold its slot until the run's limit. It leaves Slurm's queue and its run fails with the reason.
      j.scancel();
      j.exit = new Exit(Launcher.Exit.CANNOT_START, "Slurm will not start slurm job " + j.id + ": PENDING ("
          + j.reason + "): " + never, false);
      return;
    }
    if (!FINAL.contains(j.state)) {
      j.finalSinceMs = 0;
      return;
    }
    long now = System.currentTimeMillis();
    Look look = look(j);
    if (look != null && !FINAL.contains(look.state())) {
      LOG.info("slurm job {} showed {} but is {} again (requeued): not ended", j.id, j.state, look.state());
      j.finalSinceMs = 0;
      return;
    }
    String restarts = look == null ? "" : look.restarts();
    if (j.finalSinceMs != 0 && !restarts.equals(j.restarts)) {
      LOG.info("slurm job {} restarted ({} -> {}) while it showed {}: not ended", j.id, j.restarts, restarts,
          j.state);
    }
    if (j.finalSinceMs == 0 || !restarts.equals(j.restarts)) {
      j.finalSinceMs = now;
      j.restarts = restarts;
      return;
    }
    if (now - j.finalSinceMs >= SETTLE_MS) {
      j.exit = finalExit(j);
    }
  }

  /** A job's state and restart count as scontrol gives them. */
  private record Look(String state, String restarts) {}

  /** What scontrol says of a job now, or null when it cannot say. */
  private Look look(SlurmJob j) {
    try {
      Result s = slurm(env, "scontrol", "show", "job", "-o", j.id);
      return s.code == 0 ? new Look(field(s.out, "JobState"), field(s.out, "Restarts")) : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** A finished job's exit, from scontrol's ExitCode=STATUS:SIGNAL, in the local launcher's terms. */
  private Exit finalExit(SlurmJob j) {
    int status = 1;
    int signal = 0;
    try {
      Result s = slurm(env, "scontrol", "show", "job", "-o", j.id);
      String ec = field(s.out, "ExitCode");
      if (ec.contains(":")) {
        status = Integer.parseInt(ec.substring(0, ec.indexOf(':')));
        signal = Integer.parseInt(ec.substring(ec.indexOf(':') + 1));
      }
    } catch (IOException | NumberFormatException e) {
      // keep the state alone
    }
    int code = signal > 0 ? 128 + signal : j.state.equals("COMPLETED") ? status : status == 0 ? 1 : status;
    String why = switch (j.state) {
      case "TIMEOUT" -> "hit its time limit";
      case "OUT_OF_MEMORY" -> "ran out of memory";
      case "NODE_FAIL" -> "lost its node";
      case "CANCELLED" -> "was cancelled in Slurm";
      default -> LocalLauncher.describe(code);
    };
    return new Exit(code, "slurm job " + j.id + " " + j.state + (j.reason.isEmpty() || j.reason.equals("None") ? ""
        : " (" + j.reason + ")") + ": " + why, PLATFORM.contains(j.state));
  }

  /**
   * A time as squeue and scontrol print it, in ms since the epoch: seconds since the epoch, as they print them with
   * the SLURM_TIME_FORMAT=%s this launcher runs them with, or Slurm's standard 2026-12-03T23:30:05 (the local time
   * of the host running them, this server's); 0 for N/A, Unknown, None or anything else.
   */
  static long time(String slurmTime) {
    String t = slurmTime.strip();
    try {
      return t.matches("\\d{9,12}") ? Long.parseLong(t) * 1000
          : java.time.LocalDateTime.parse(t).atZone(java.time.ZoneId.systemDefault()).toInstant().toEpochMilli();
    } catch (java.time.format.DateTimeParseException e) {
      return 0;
    }
  }

  /** A KEY=VALUE field of a line of scontrol output ("" when absent). */
  public static String field(String scontrolLine, String key) {
    for (String f : scontrolLine.strip().split("\\s+")) {
      if (f.startsWith(key + "=")) {
        return f.substring(key.length() + 1);
      }
    }
    return "";
  }

  private record Result(int code, String out, String err) {}

  /** {@link #run} with the command taken from {@link #bin} when it is set. */
  private Result slurm(Map<String, String> env, String... cmd) throws IOException {
    if (bin != null) {
      cmd = cmd.clone();
      cmd[0] = bin.resolve(cmd[0]).toString();
    }
    return run(env, cmd);
  }

  /** Runs a Slurm command, reading its output as it comes; one that does not end within 60 s is killed. */
  private static Result run(Map<String, String> env, String... cmd) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    if (!cmd[0].endsWith("sbatch")) {
      pb.environment().put("SLURM_TIME_FORMAT", "%s"); // times as seconds since the epoch, whatever the time zone
    }
    Process p = pb.start();
    StreamReader out = new StreamReader(p.getInputStream());
    StreamReader err = new StreamReader(p.getErrorStream());
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", List.of(cmd).subList(0, Math.min(3, cmd.length)))
            + " did not answer within 60 s");
      }
      return new Result(p.exitValue(), out.text(), err.text());
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** Drains one stream of a child process on a thread of its own. */
  private static final class StreamReader extends Thread {
    private final java.io.InputStream in;
    private final java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();

    StreamReader(java.io.InputStream in) {
      super("ctrlab-slurm-output");
      this.in = in;
      setDaemon(true);
      start();
    }

    @Override
    public void run() {
      try {
        in.transferTo(buf);
      } catch (IOException e) {
        // the process is gone
      }
    }

    String text() throws InterruptedException {
      join(5000);
      synchronized (buf) {
        return buf.toString(StandardCharsets.UTF_8);
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    closed = true;
    poller.interrupt();
  }
}
