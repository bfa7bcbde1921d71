package org.ctrlab.server;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ctrlab.server.jobs.WorkerCommand;
import org.ctrlab.server.service.CtrlabService;
import org.ctrlab.server.service.Limits;
import org.ctrlab.server.tools.Bench;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ctrlab-server}: serve the gRPC API, or benchmark in-process with {@code bench}. */
@Command(name = "ctrlab-server", mixinStandardHelpOptions = true, version = "ctrlab-server " + CtrlabService.VERSION,
    description = "Serve ctrlab's gRPC API: a fair queue of CTR training runs, each in its own worker process.",
    subcommands = {Bench.class, org.ctrlab.server.tools.HeadCost.class, org.ctrlab.server.tools.MatmulFloor.class,
        org.ctrlab.server.tools.WorkerCost.class, WorkerCommand.class},
    footer = {"", "Examples:",
        "  ctrlab-server --data-dir ../shared/data                 # ML-1M from ../shared/data/ml-1m",
        "  ctrlab-server --port 50051 --tokens tokens.txt          # per-user tokens, one 'user token' a line",
        "  ctrlab-server --slots 2                                 # two runs at a time, half the cores each",
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

  @Option(names = {"--slots", "--workers"}, description = "Runs executed at the same time, each in its own worker"
      + " process with its share of the cores and, on a GPU box, its own GPU (default: ${DEFAULT-VALUE}).")
  int slots = 1;

  @Option(names = "--threads", description = "TensorFlow threads per run (default: the cores divided among the"
      + " slots).")
  int threads = 0;

  @Option(names = "--gpus", split = ",", description = "GPU indices handed to the slots in turn as"
      + " CUDA_VISIBLE_DEVICES (default: every GPU TensorFlow sees).")
  List<String> gpus;

  @Option(names = "--max-attempts", description = "Worker starts a run gets before a crash fails it"
      + " (default: ${DEFAULT-VALUE}).")
  int maxAttempts = 3;

  @Option(names = "--worker-jvm-option", description = "An option for every worker's JVM, e.g. -Xmx8g (repeatable).")
  List<String> workerJvmOptions = new ArrayList<>();

  @Option(names = "--analysis-threads", description = "Evaluate/Perturb/Inspect/Predict calls served at once"
      + " (default: ${DEFAULT-VALUE}; as many more may wait).")
  int analysisThreads = 2;

  @Option(names = "--keep-days", description = "Remove the checkpoints and logs of runs finished this many days ago"
      + " (records and metrics stay; default: 0, keep them).")
  int keepDays = 0;

  @Option(names = "--max-run-dir-gb", description = "Remove the files of the oldest finished runs while the run"
      + " folder is larger than this (default: 0, no cap).")
  double maxRunDirGb = 0;

  @Option(names = "--max-queued-per-user", description = "Queued runs one user may have; a study counts its whole"
      + " grid (default: ${DEFAULT-VALUE}).")
  int maxQueuedPerUser = Limits.DEFAULTS.maxQueuedPerUser();

  @Option(names = "--max-sigmas", description = "Noise levels per Perturb call (default: ${DEFAULT-VALUE}).")
  int maxSigmas = Limits.DEFAULTS.maxSigmas();

  @Option(names = "--max-ranking-k", description = "Ranking cut-offs per Evaluate call (default: ${DEFAULT-VALUE}).")
  int maxRankingK = Limits.DEFAULTS.maxRankingK();

  @Option(names = "--max-list-length", description = "Values in a list hyperparameter, e.g. layers of an MLP"
      + " (default: ${DEFAULT-VALUE}).")
  int maxListLength = Limits.DEFAULTS.maxListLength();

  @Option(names = "--max-parameters", description = "Trainable parameters of a run's model, computed from its"
      + " hyperparameters before anything is built (default: ${DEFAULT-VALUE}).")
  long maxParameters = Limits.DEFAULTS.maxParameters();

  @Option(names = "--max-name-length", description = "Characters in a run or study name (default: ${DEFAULT-VALUE}).")
  int maxNameLength = Limits.DEFAULTS.maxNameLength();

  @Option(names = "--max-tags", description = "Tags per run (default: ${DEFAULT-VALUE}).")
  int maxTags = Limits.DEFAULTS.maxTags();

  @Option(names = "--max-tag-length", description = "Characters per tag (default: ${DEFAULT-VALUE}).")
  int maxTagLength = Limits.DEFAULTS.maxTagLength();

  @Option(names = "--max-study-runs", description = "Runs in one study (default: ${DEFAULT-VALUE}).")
  int maxStudyRuns = Limits.DEFAULTS.maxStudyRuns();

  @Option(names = "--max-request-bytes", description = "Largest request message accepted (default:"
      + " ${DEFAULT-VALUE}).")
  int maxRequestBytes = Limits.DEFAULTS.maxRequestBytes();

  @Option(names = "--no-download", negatable = true,
      description = "Download a missing dataset from its source (default: on).")
  boolean allowDownload = true;

  Limits limits() {
    return new Limits(maxSigmas, maxRankingK, maxListLength, maxParameters, maxNameLength, maxTags, maxTagLength,
        maxQueuedPerUser, maxStudyRuns, maxRequestBytes, Limits.DEFAULTS.maxResponseBytes());
  }

  @Override
  public Integer call() throws Exception {
    CtrlabServer.Options o = new CtrlabServer.Options(host, port, dataDir, runDir, datasets, configDir, tokens, slots,
        threads, allowDownload, maxAttempts, gpus, workerJvmOptions, limits(), analysisThreads,
        Duration.ofDays(keepDays), (long) (maxRunDirGb * (1L << 30)));
    CtrlabServer s = new CtrlabServer(o).start();
    Runtime.getRuntime().addShutdownHook(new Thread(s::close, "ctrlab-shutdown"));
    System.out.printf("ctrlab-server %s listening on %s:%d, device %s, %d slot%s, runs in %s%n",
        CtrlabService.VERSION, host, s.port(), s.device, slots, slots == 1 ? "" : "s", runDir.toAbsolutePath());
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
