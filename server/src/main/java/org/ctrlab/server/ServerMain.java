package org.ctrlab.server;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ctrlab.server.service.CtrlabService;
import org.ctrlab.server.tools.Bench;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ctrlab-server}: serve the gRPC API, or benchmark in-process with {@code bench}. */
@Command(name = "ctrlab-server", mixinStandardHelpOptions = true, version = "ctrlab-server " + CtrlabService.VERSION,
    description = "Serve ctrlab's gRPC API: a queue of CTR training runs with BINARY and RATING heads.",
    subcommands = {Bench.class, org.ctrlab.server.tools.HeadCost.class, org.ctrlab.server.tools.MatmulFloor.class},
    footer = {"", "Examples:",
        "  ctrlab-server --data-dir ../shared/data                 # ML-1M from ../shared/data/ml-1m",
        "  ctrlab-server --port 50051 --tokens tokens.txt          # per-user tokens, one 'user token' a line",
        "  ctrlab-server bench --data-dir ../shared/data --dataset ml-1m"})
public final class ServerMain implements Callable<Integer> {
  @Option(names = "--host", description = "Address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for all).")
  String host = "127.0.0.1";

  @Option(names = "--port", description = "Port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
  int port = 50051;

  @Option(names = "--data-dir", description = "Folder with one sub-folder per dataset (default: ${DEFAULT-VALUE}).")
  Path dataDir = Path.of("data");

  @Option(names = "--run-dir", description = "Where run records and checkpoints live (default: ${DEFAULT-VALUE}).")
  Path runDir = Path.of("runs");

  @Option(names = "--dataset", description = "Read dataset NAME from PATH (repeatable), e.g. ml-1m=/data/ml-1m.")
  Map<String, Path> datasets = new LinkedHashMap<>();

  @Option(names = "--config-dir", description = "Read YAML defaults from this folder instead of the packaged ones.")
  Path configDir;

  @Option(names = "--tokens", description = "Token file ('user token' per line); without it there is no auth.")
  Path tokens;

  @Option(names = "--workers", description = "Runs executed at the same time (default: ${DEFAULT-VALUE}).")
  int workers = 1;

  @Option(names = "--threads", description = "TensorFlow threads per run (default: all cores).")
  int threads = Runtime.getRuntime().availableProcessors();

  @Option(names = "--no-download", negatable = true,
      description = "Download a missing dataset from its source (default: on).")
  boolean allowDownload = true;

  @Override
  public Integer call() throws Exception {
    CtrlabServer s = new CtrlabServer(new CtrlabServer.Options(host, port, dataDir, runDir, datasets, configDir,
        tokens, workers, threads, allowDownload)).start();
    Runtime.getRuntime().addShutdownHook(new Thread(s::close, "ctrlab-shutdown"));
    System.out.printf("ctrlab-server %s listening on %s:%d, device %s, runs in %s%n", CtrlabService.VERSION, host,
        s.port(), s.device, runDir.toAbsolutePath());
    if (System.getenv("TF_ENABLE_ONEDNN_OPTS") == null && !Devices.oneDnn() && !s.device.contains("GPU")) {
      System.out.println("hint: start with TF_ENABLE_ONEDNN_OPTS=1 in the environment for TensorFlow's oneDNN CPU"
          + " kernels (much faster training on CPUs without AVX-512, see docs/results.md; run.sh and the Docker images"
          + " set it)");
    }
    System.out.flush();
    s.awaitTermination();
    return 0;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new ServerMain()).execute(args));
  }
}
