package org.ctrlab.server.jobs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.ctrlab.api.v1.Run;

/**
 * Starts the worker of a run somewhere. The worker is the same program wherever it runs ({@code ctrlab-server worker
 * RUN_ID}); it needs only the run id, the store and the data. The local launcher starts it as a child process; a
 * cluster launcher would submit it as a batch job.
 */
public interface Launcher extends AutoCloseable {
  /** What one attempt of a run is started with. */
  record Spec(String runId, int attempt, int slot, int threads, Map<String, String> env, Path log) {}

  /** How a worker ended: its exit code (128 + N for signal N) and a human-readable cause. */
  record Exit(int code, String cause) {
    public boolean signalled() {
      return code > 128 && code <= 128 + 64;
    }
  }

  /** A started worker. */
  interface Job {
    /** Where it runs, e.g. "pid 4242 on gpu-box"; kept in the run record. */
    String where();

    /** How it ended, or empty while it runs. Never blocks. */
    Optional<Exit> exit();

    /** Stops it at once (it has nothing to save: its last completed epoch is on disk). */
    void kill();
  }

  Job launch(Spec spec) throws IOException;

  /**
   * Makes sure no worker of an earlier server is still running this run (after that server was killed), stopping
   * it if it is; the run record's {@link Run#getWorker()} says where its last attempt ran.
   */
  void reap(Run run) throws IOException;

  @Override
  default void close() {}
}
