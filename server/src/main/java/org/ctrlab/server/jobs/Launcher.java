package org.ctrlab.server.jobs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ctrlab.api.v1.Run;

/**
 * Starts the worker of a run somewhere. The worker is the same program wherever it runs ({@code ctrlab-server worker
 * RUN_ID}); it needs only the run id, the store and the data. The local launcher starts it as a child process; a
 * cluster launcher would submit it as a batch job.
 */
public interface Launcher extends AutoCloseable {
  /** What one attempt of a run is started with; {@code timeLeft} is what remains of the run's wall-clock limit. */
  record Spec(String runId, int attempt, int slot, int threads, Map<String, String> env, Path log,
      java.time.Duration timeLeft) {}

  /**
   * How a worker ended: its exit code (128 + N for signal N), a human-readable cause, and whether the cause was the
   * platform's rather than the worker's (a lost node, a preemption: worth another attempt even before it started).
   */
  record Exit(int code, String cause, boolean platform) {
    /**
     * The code of a worker that cannot be started where its job would run: the shell's "cannot execute" (126), also
     * given to a job the platform will never start (Slurm: pending on its partition's time limit). Its run fails at
     * once.
     */
    public static final int CANNOT_START = 126;

    public Exit(int code, String cause) {
      this(code, cause, false);
    }

    public boolean signalled() {
      return code > 128 && code <= 128 + 64;
    }
  }

  /** A started worker. */
  interface Job {
    /** Where it runs, e.g. "pid 4242 on gpu-box" or "slurm job 42"; kept in the run record. */
    String where();

    /** The cluster's id of the job ("" for a local process); kept in the run record. */
    default String jobId() {
      return "";
    }

    /** How it ended, or empty while it runs. Never blocks. */
    Optional<Exit> exit();

    /** The cluster's word for where the job stands, e.g. "PENDING (Resources)"; "" for a local process. */
    default String status() {
      return "";
    }

    /** Whether it waits in the cluster's queue (Slurm's PENDING), not yet placed; never for a local process. */
    default boolean queued() {
      return false;
    }

    /**
     * When it left the cluster's queue and started (Slurm's StartTime, ms since the epoch), if the cluster says;
     * empty while it waits, when that is not known, and for a local process.
     */
    default java.util.OptionalLong startedUnixMs() {
      return java.util.OptionalLong.empty();
    }

    /**
     * When it last entered the cluster's queue (Slurm's SubmitTime: its submission, or its last requeue, which Slurm
     * counts as a new submission), ms since the epoch, if the cluster says; empty for a local process.
     */
    default java.util.OptionalLong queuedSinceUnixMs() {
      return java.util.OptionalLong.empty();
    }

    /** Stops it at once (it has nothing to save: its last completed epoch is on disk). */
    void kill();
  }

  /**
   * The platform took the request and refused this job for a reason that would recur (Slurm: an unknown partition):
   * the run fails with it. Any other failure to start a worker (the scheduler unreachable or timing out, a full
   * disk, no process) is the platform's passing trouble: the run waits in the queue and starts are tried again.
   */
  final class Refused extends IOException {
    public Refused(String message) {
      super(message);
    }
  }

  Job launch(Spec spec) throws IOException;

  /**
   * The job an earlier server started for a run (one still RUNNING in the store, or one that ended shortly before,
   * whose job may have outlived its cancel), if this launcher follows it across server restarts (a cluster job: it
   * goes on by itself); it may have ended already ({@link Job#exit()}). A local launcher instead stops any worker of
   * the earlier server still alive and returns empty: a RUNNING run goes back to the queue and resumes from its last
   * epoch.
   */
  Optional<Job> adopt(Run run) throws IOException;

  /**
   * {@link #adopt(Run)} for each of the runs, in their order; a launcher that can ask its platform about all of them
   * at once (Slurm: one squeue) does, so that a server's start does not ask once per run.
   */
  default List<Optional<Job>> adopt(List<Run> runs) throws IOException {
    List<Optional<Job>> jobs = new java.util.ArrayList<>(runs.size());
    for (Run run : runs) {
      jobs.add(adopt(run));
    }
    return jobs;
  }

  /** Whether jobs go on when the server stops (a cluster's) rather than being stopped with it (child processes). */
  default boolean jobsOutliveTheServer() {
    return false;
  }

  @Override
  default void close() {}
}
