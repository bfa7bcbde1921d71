package org.ctrlab.server.jobs;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ctrlab.server.Devices;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.store.RunStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ctrlab-server worker RUN_ID}: one attempt of one run, as the server's launcher starts it. */
@Command(name = "worker", mixinStandardHelpOptions = true,
    description = "Train one queued run as its worker process (the server starts these; not for use by hand).")
public final class WorkerCommand implements Callable<Integer> {
  @Parameters(paramLabel = "RUN_ID")
  String runId;

  @Option(names = "--attempt", required = true, description = "The attempt this process is (the run's fence).")
  int attempt;

  @Option(names = "--threads", description = "TensorFlow threads (default: all cores).")
  int threads = Runtime.getRuntime().availableProcessors();

  @Option(names = {"--run-dir", "--shared-dir"}, required = true,
      description = "The server's run folder: checkpoints, logs, the prepared-dataset cache (and the SQLite store).")
  Path runDir;

  @Option(names = "--store", description = "The run store: a PostgreSQL JDBC URL, or an SQLite file (default:"
      + " $CTRLAB_STORE, else RUN_DIR/ctrlab.db). The server passes it in the environment, keeping passwords off"
      + " command lines.")
  String store;

  @Option(names = "--data-dir", required = true, description = "Folder with one sub-folder per dataset.")
  Path dataDir;

  @Option(names = "--cache-dir", description = "Prepared-dataset cache (default: RUN_DIR/cache).")
  Path cacheDir;

  @Option(names = "--dataset", description = "Read dataset NAME from PATH (repeatable).")
  Map<String, Path> datasets = new LinkedHashMap<>();

  @Option(names = "--config-dir", description = "YAML defaults folder (default: the packaged ones).")
  Path configDir;

  @Option(names = "--no-download", negatable = true, description = "Download a missing dataset (default: on).")
  boolean allowDownload = true;

  @Option(names = "--exit-with-stdin", description = "Stop at once when standard input closes (the server died).")
  boolean exitWithStdin;

  @Override
  public Integer call() throws Exception {
    Devices.useThreads(threads); // before this process's first TensorFlow session sizes its thread pools
    if (exitWithStdin) {
      Thread t = new Thread(() -> {
        try {
          while (System.in.read() >= 0) {
            // the server never writes; end-of-file means it is gone
          }
        } catch (java.io.IOException e) {
          // closed: the same
        }
        System.err.println("ctrlab worker: the server is gone; stopping (the run resumes from its last epoch)");
        Runtime.getRuntime().halt(Worker.EXIT_ORPHANED);
      }, "ctrlab-parent-watch");
      t.setDaemon(true);
      t.start();
    }
    Configs configs = configDir == null ? Configs.packaged() : Configs.from(configDir);
    DatasetRegistry registry = new DatasetRegistry(dataDir, configs.datasets(), datasets, allowDownload,
        cacheDir != null ? cacheDir : runDir.resolve("cache"));
    String location = store != null ? store : System.getenv("CTRLAB_STORE") != null
        && !System.getenv("CTRLAB_STORE").isEmpty() ? System.getenv("CTRLAB_STORE")
        : runDir.resolve("ctrlab.db").toString();
    if (!location.startsWith("jdbc:postgresql:") && !java.nio.file.Files.isRegularFile(Path.of(location))) {
      System.err.println("ctrlab worker: no run store at " + location);
      return Worker.EXIT_RUN_FAILED;
    }
    try (RunStore store = RunStore.attach(location)) {
      return new Worker(store, registry, runDir, runId, attempt, threads, Devices.describe()).run();
    }
  }
}
