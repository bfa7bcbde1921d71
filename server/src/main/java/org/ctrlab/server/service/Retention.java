package org.ctrlab.server.service;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.ctrlab.api.v1.Run;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.jobs.Worker;
import org.ctrlab.server.store.RunStore;

/**
 * Keeps the run folder within bounds: a finished run's leftovers (epoch states, temporary files) are removed a
 * minute after its end; the files (checkpoints, logs) of runs finished more than keep-days ago are removed, and so
 * are those of the oldest finished runs while the runs' folders are over the size cap. Records, epochs, events and
 * metrics stay; such a run can be listed and shown but no longer evaluated. The database is compacted
 * after runs have been deleted or retired. Runs hourly, and once at start.
 */
public final class Retention implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Retention.class);

  private final RunStore store;
  private final Path runDir;
  private final Duration keep;
  private final long maxBytes;
  private final Idle idle;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ctrlab-retention");
    t.setDaemon(true);
    return t;
  });

  /** Runs work only while no run executes and none starts: the supervisor's {@link Supervisor#whileIdle}. */
  @FunctionalInterface
  public interface Idle {
    boolean whileIdle(Supervisor.IdleWork work) throws SQLException;
  }

  /**
   * @param keep zero keeps files forever; @param maxBytes zero sets no cap; @param idle what the database's compaction
   * runs under, so that no run starts during it
   */
  public Retention(RunStore store, Path runDir, Duration keep, long maxBytes, Idle idle) {
    this.store = store;
    this.runDir = runDir;
    this.keep = keep;
    this.maxBytes = maxBytes;
    this.idle = idle;
  }

  private volatile boolean stopping;

  public void start() {
    timer.scheduleWithFixedDelay(() -> {
      try {
        sweep(System.currentTimeMillis());
      } catch (Exception e) {
        LOG.warn("retention sweep failed", e);
      }
    }, 0, 1, TimeUnit.HOURS);
  }

  /**
   * One pass; returns the number of runs whose files it removed. The size cap counts only what retiring can free,
   * the folders of finished runs that still have files: running and queued runs, the dataset cache and anything
   * else in the run folder are never removed, so counting them would retire every finished run and still not meet
   * the cap. Oldest first, and only until the cap is met.
   */
  public int sweep(long nowMs) throws SQLException, IOException {
    List<Run> finished = store.finishedWithFiles();
    for (Run r : finished) {
      if (r.getFinishedUnixMs() > 0 && r.getFinishedUnixMs() < nowMs - LEFTOVER_GRACE_MS) {
        Path dir = Worker.dir(runDir, r.getRunId());
        int removed = Worker.removeLeftovers(dir);
        if (removed > 0) {
          LOG.info("removed {} epoch state or temporary files of the finished run in {}", removed, dir);
        }
      }
    }
    int retired = 0;
    long[] sizes = new long[finished.size()];
    long freeable = 0;
    if (maxBytes > 0) {
      for (int i = 0; i < finished.size(); i++) {
        sizes[i] = size(Worker.dir(runDir, finished.get(i).getRunId()));
        freeable += sizes[i];
      }
    }
    for (int i = 0; i < finished.size() && !stopping; i++) {
      Run r = finished.get(i);
      boolean old = !keep.isZero() && r.getFinishedUnixMs() > 0 && r.getFinishedUnixMs() < nowMs - keep.toMillis();
      boolean over = maxBytes > 0 && freeable > maxBytes;
      if (!old && !over) {
        continue;
      }
      long freed = Runs.deleteFiles(Worker.dir(runDir, r.getRunId()));
      freeable -= sizes[i];
      store.update(r.getRunId(), cur -> cur.toBuilder().setFilesRetiredUnixMs(nowMs).build(), Worker.log(
          "files removed by the retention policy (" + (old ? "finished over " + keep.toDays() + " days ago"
              : "the finished runs' files were over the size cap") + "); record and metrics kept"));
      retired++;
      LOG.info("run {} of {}: files retired ({} bytes, {})", r.getRunId(), r.getOwner(), freed,
          old ? "older than " + keep.toDays() + " days" : "over the size cap");
    }
    if (maxBytes > 0) {
      long all = runFolders(runDir);
      if (all > maxBytes) {
        LOG.warn("the run folder {} holds {} bytes, over the cap of {} (--max-run-dir-gb), and retiring cannot meet"
            + " the cap: finished runs' files are {} bytes, the rest is running or queued runs' or no run's",
            runDir.toAbsolutePath(), all, maxBytes, freeable);
      }
    }
    // VACUUM holds the write lock while it rewrites the file: never while workers have epochs to record, and no
    // worker starts until it is done.
    if (!stopping) {
      idle.whileIdle(() -> store.compactIfFragmented(0.1));
    }
    return retired;
  }

  /** How long after its end a run's worker may still be on its way out (a cancel's kill takes up to 10 s). */
  static final long LEFTOVER_GRACE_MS = 60_000;

  /** The bytes of the folders in the run folder but the dataset cache (finished or not, runs' or not). */
  static long runFolders(Path runDir) throws IOException {
    if (!Files.isDirectory(runDir)) {
      return 0;
    }
    long total = 0;
    try (Stream<Path> dirs = Files.list(runDir)) {
      for (Path d : dirs.filter(Files::isDirectory).filter(d -> !d.getFileName().toString().equals("cache"))
          .toList()) {
        total += size(d);
      }
    }
    return total;
  }

  static long size(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    long total = 0;
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.filter(Files::isRegularFile).toList()) {
        try {
          total += Files.size(p);
        } catch (IOException gone) {
          // removed meanwhile
        }
      }
    }
    return total;
  }

  @Override
  public void close() {
    // No interrupt: a run's files removal and its record's update go together; the sweep stops between runs.
    stopping = true;
    timer.shutdown();
    try {
      // A sweep under way (the first starts with the server) ends before the store it reads closes.
      if (!timer.awaitTermination(10, TimeUnit.SECONDS)) {
        LOG.warn("a retention sweep was still running 10 s after shutdown");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
