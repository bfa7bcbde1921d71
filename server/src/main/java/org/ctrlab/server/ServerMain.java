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
import org.ctrlab.server.service.StreamLimits;
import org.ctrlab.server.tools.Bench;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ctrlab-server}: serve the gRPC API, or benchmark in-process with {@code bench}. */
@Command(name = "ctrlab-server", mixinStandardHelpOptions = true, version = "ctrlab-server " + CtrlabService.VERSION,
    description = "Serve ctrlab's gRPC API: a fair queue of CTR training runs, each in its own worker process.",
    subcommands = {org.ctrlab.server.auth.TokenCommand.class, org.ctrlab.server.ops.HealthCommand.class, Bench.class,
        org.ctrlab.server.tools.HeadCost.class, org.ctrlab.server.tools.MatmulFloor.class,
        org.ctrlab.server.tools.WorkerCost.class, org.ctrlab.server.tools.StoreBench.class, org.ctrlab.server.tools.WebBench.class,
        WorkerCommand.class},
    footer = {"", "Examples:",
        "  ctrlab-server --data-dir ../shared/data                 # ML-1M from ../shared/data/ml-1m",
        "  ctrlab-server token add alice --file tokens.txt         # prints alice's token once",
        "  ctrlab-server --tokens tokens.txt --host 0.0.0.0 --tls-cert server.pem --tls-key server.key",
        "  ctrlab-server --slots 2 --metrics-port 9464             # two runs at a time; Prometheus on :9464",
        "  ctrlab-server bench --data-dir ../shared/data --dataset ml-1m"})
public final class ServerMain implements Callable<Integer> {
  @Option(names = "--host", description = "Address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for all).")
  String host = "127.0.0.1";

  @Option(names = "--port", description = "Port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
  int port = 50051;

  @Option(names = "--data-dir", description = "Folder with one sub-folder per dataset (default: ${DEFAULT-VALUE}).")
  Path dataDir = Path.of("data");

  @Option(names = {"--run-dir", "--shared-dir"}, description = "Where checkpoints, logs and the prepared-dataset"
      + " cache live (and the SQLite store); with --launcher slurm, a folder every node mounts (default:"
      + " ${DEFAULT-VALUE}).")
  Path runDir = Path.of("runs");

  @Option(names = "--store", description = "The run store: a PostgreSQL JDBC URL, e.g."
      + " jdbc:postgresql://db:5432/ctrlab?user=ctrlab&password=... (default: $CTRLAB_STORE, else the SQLite file"
      + " RUN_DIR/ctrlab.db).")
  String store = System.getenv("CTRLAB_STORE");

  @Option(names = "--store-password-file", description = "A file holding the PostgreSQL password, kept off every"
      + " command line (default: the URL's, else $CTRLAB_STORE_PASSWORD_FILE or $CTRLAB_STORE_PASSWORD).")
  Path storePasswordFile;

  @Option(names = "--launcher", description = "Where workers run: local (child processes) or slurm (batch jobs)"
      + " (default: ${DEFAULT-VALUE}).")
  String launcher = "local";

  @Option(names = "--slurm-partition", description = "Slurm: the partition of every job (default: Slurm's).")
  String slurmPartition;

  @Option(names = "--slurm-cpus", description = "Slurm: CPUs per job (default: --threads, or the cores / slots).")
  int slurmCpus;

  @Option(names = "--slurm-gpus", description = "Slurm: GPUs per job, as --gres=gpu:N (default: ${DEFAULT-VALUE}).")
  int slurmGpus;

  @Option(names = "--slurm-mem", description = "Slurm: memory per job, e.g. 16G (default: Slurm's).")
  String slurmMem;

  @Option(names = "--slurm-time", description = "Slurm: time limit per job, e.g. 1-00:00:00 (default: Slurm's).")
  String slurmTime;

  @Option(names = "--slurm-account", description = "Slurm: the account jobs are charged to (default: Slurm's).")
  String slurmAccount;

  @Option(names = "--slurm-arg", description = "Slurm: another #SBATCH line for every job, e.g. --qos=normal"
      + " (repeatable).")
  List<String> slurmArgs = new ArrayList<>();

  @Option(names = "--slurm-java", description = "Slurm: the java binary on the nodes (default: this server's).")
  String slurmJava;

  @Option(names = "--slurm-poll-seconds", description = "Slurm: how often squeue is asked (default:"
      + " ${DEFAULT-VALUE}).")
  double slurmPollSeconds = 2;

  @Option(names = "--config-file", description = "A properties file of default values for these options, one"
      + " NAME=VALUE a line with the long name without its dashes, e.g. slurm-partition=gpu (flags win).")
  Path configFile;

  @Option(names = "--dataset", description = "Read dataset NAME from PATH (repeatable), e.g. ml-1m=/data/ml-1m.")
  Map<String, Path> datasets = new LinkedHashMap<>();

  @Option(names = "--config-dir", description = "Read YAML defaults from this folder instead of the packaged ones.")
  Path configDir;

  @Option(names = "--tokens", description = "Token file ('USER sha256:HASH [admin]' a line, made by 'token add');"
      + " without it every caller is the admin 'local'.")
  Path tokens;

  @Option(names = "--tls-cert", description = "The server's certificate chain (PEM); with --tls-key, the server"
      + " speaks TLS.")
  Path tlsCert;

  @Option(names = "--tls-key", description = "The server's private key (PEM, PKCS#8).")
  Path tlsKey;

  @Option(names = "--tls-client-ca", description = "Also require client certificates signed by this CA (PEM):"
      + " mutual TLS.")
  Path tlsClientCa;

  @Option(names = "--insecure", description = "Allow a non-loopback --host without TLS or tokens (a network you"
      + " trust only).")
  boolean insecure;

  @Option(names = "--visibility", description = "Who reads a run: all (every user, default) or own (its owner and"
      + " admins).")
  String visibility = "all";

  @Option(names = "--http-port", description = "Serve the dashboard (a read-only page of runs, studies and the box,"
      + " and its JSON API) at http(s)://HOST:PORT/ (default: 8080, or a free port with --port 0; -1: none).")
  Integer httpPort;

  @Option(names = "--metrics-port", description = "Serve Prometheus metrics at http://METRICS_HOST:PORT/metrics"
      + " (default: none).")
  Integer metricsPort;

  @Option(names = "--metrics-host", description = "Address the metrics endpoint listens on (default:"
      + " ${DEFAULT-VALUE}: it has neither TLS nor tokens and names users; 0.0.0.0 inside a container whose port is"
      + " published on the host's loopback).")
  String metricsHost = "127.0.0.1";

  @Option(names = "--slots", description = "Runs executed at the same time, each in its own worker"
      + " process with its share of the cores and, on a GPU box, its own GPU (default: ${DEFAULT-VALUE}).")
  int slots = 1;

  @Option(names = "--threads", description = "TensorFlow threads per run (default: the cores divided among the"
      + " slots).")
  int threads = 0;

  @Option(names = "--gpus", split = ",", description = "GPU indices handed to the slots in turn as"
      + " CUDA_VISIBLE_DEVICES (default: every GPU TensorFlow sees).")
  List<String> gpus;

  @Option(names = "--max-attempts", description = "Abnormal worker ends in a row, with no new epoch between them,"
      + " that fail a run (default: ${DEFAULT-VALUE}).")
  int maxAttempts = 3;

  @Option(names = "--worker-jvm-option", description = "An option for every worker's JVM, e.g. -Xmx8g (repeatable).")
  List<String> workerJvmOptions = new ArrayList<>();

  @Option(names = "--analysis-threads", description = "Evaluate/Perturb/Inspect/Predict calls served at once"
      + " (default: ${DEFAULT-VALUE}; as many more may wait).")
  int analysisThreads = 2;

  @Option(names = "--stream-stall-seconds", description = "End a WatchRun or Predict stream whose client has read"
      + " nothing for this long, freeing its place (default: ${DEFAULT-VALUE}).")
  long streamStallSeconds = StreamLimits.DEFAULTS.stall().toSeconds();

  @Option(names = "--max-streams-per-user", description = "WatchRun and Predict streams one user may hold open"
      + " (default: ${DEFAULT-VALUE}).")
  int maxStreamsPerUser = StreamLimits.DEFAULTS.perUser();

  @Option(names = "--max-streams-per-connection", description = "WatchRun and Predict streams one connection may"
      + " hold open (default: ${DEFAULT-VALUE}).")
  int maxStreamsPerConnection = StreamLimits.DEFAULTS.perConnection();

  @Option(names = "--max-connection-idle-minutes", description = "Close a connection with no call for this long;"
      + " clients reconnect by themselves (default: ${DEFAULT-VALUE}).")
  long maxConnectionIdleMinutes = StreamLimits.DEFAULTS.connectionIdle().toMinutes();

  @Option(names = "--max-connection-age-hours", description = "Ask a connection to reconnect after this long; its"
      + " calls get as long again to finish (default: ${DEFAULT-VALUE}).")
  long maxConnectionAgeHours = StreamLimits.DEFAULTS.connectionAge().toHours();

  @Option(names = "--max-run-hours", description = "The longest a run may take from its first start before it is"
      + " ended as FAILED, time its cluster jobs wait in the cluster's queue not counted; a run may ask for less"
      + " (default: ${DEFAULT-VALUE}).")
  double maxRunHours = ServerOptions.DEFAULT_MAX_RUN_HOURS;

  @Option(names = "--keep-days", description = "Remove the checkpoints and logs of runs finished this many days ago"
      + " (records and metrics stay; default: 0, keep them).")
  int keepDays = 0;

  @Option(names = "--max-run-dir-gb", description = "Remove the files of the oldest finished runs while the runs'"
      + " folders together are larger than this (default: 0, no cap).")
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

  ServerOptions options() {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together");
    }
    org.ctrlab.server.service.Visibility v = switch (visibility.toLowerCase(java.util.Locale.ROOT)) {
      case "all" -> org.ctrlab.server.service.Visibility.ALL;
      case "own" -> org.ctrlab.server.service.Visibility.OWN;
      default -> throw new IllegalArgumentException("--visibility is all or own, got " + visibility);
    };
    return new ServerOptions().host(host).port(port).dataDir(dataDir).runDir(runDir).datasets(datasets)
        .configDir(configDir).tokens(tokens).slots(slots).threads(threads).allowDownload(allowDownload)
        .maxAttempts(maxAttempts).gpus(gpus).workerJvmOptions(workerJvmOptions).limits(limits())
        .analysisThreads(analysisThreads).keep(Duration.ofDays(keepDays)).maxRunHours(maxRunHours)
        .streams(new StreamLimits(Duration.ofSeconds(streamStallSeconds), maxStreamsPerUser,
            maxStreamsPerConnection, Duration.ofMinutes(maxConnectionIdleMinutes),
            Duration.ofHours(maxConnectionAgeHours)))
        .maxRunDirBytes((long) (maxRunDirGb * (1L << 30))).tls(tlsCert, tlsKey, tlsClientCa).insecure(insecure)
        .visibility(v).metricsPort(metricsPort == null ? -1 : metricsPort)
        .httpPort(httpPort != null ? httpPort : port == 0 ? 0 : 8080).metricsHost(metricsHost).store(store)
        .storePasswordFile(storePasswordFile).launcher(launcher)
        .slurm(new org.ctrlab.server.jobs.SlurmLauncher.Settings(slurmPartition, slurmCpus, slurmGpus, slurmMem,
            slurmTime, slurmAccount, slurmArgs, slurmJava, Duration.ofMillis((long) (slurmPollSeconds * 1000))));
  }

  @Override
  public Integer call() throws Exception {
    CtrlabServer s;
    try {
      s = new CtrlabServer(options()).start();
    } catch (IllegalArgumentException | java.io.IOException | java.sql.SQLException e) {
      // What is wrong with the start, in one line (a missing token file, a port in use, ...), not a stack trace.
      System.err.println("ctrlab-server: " + (e.getMessage() == null ? e : e.getMessage()));
      return 2;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(s::close, "ctrlab-shutdown"));
    System.out.printf("ctrlab-server %s listening on %s:%d%s, device %s, %d slot%s, runs in %s%s%n",
        CtrlabService.VERSION, host, s.port(), tlsCert != null ? " (TLS)" : "", s.device, slots,
        slots == 1 ? "" : "s", runDir.toAbsolutePath(), s.metricsPort() >= 0 ? ", metrics on port "
            + s.metricsPort() : "");
    if (s.httpPort() >= 0) {
      System.out.printf("dashboard: %s://%s:%d/%n", tlsCert != null ? "https" : "http",
          host.equals("0.0.0.0") ? "localhost" : host, s.httpPort());
    }
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
    CommandLine cl = new CommandLine(new ServerMain());
    // --config-file gives the defaults of every option; it has to be known before the flags are parsed.
    for (int i = 0; i < args.length; i++) {
      String f = args[i].startsWith("--config-file=") ? args[i].substring("--config-file=".length())
          : args[i].equals("--config-file") && i + 1 < args.length ? args[i + 1] : null;
      if (f != null) {
        if (!java.nio.file.Files.isReadable(Path.of(f))) {
          System.err.println("ctrlab-server: cannot read the config file " + f);
          System.exit(2);
        }
        cl.setDefaultValueProvider(new CommandLine.PropertiesDefaultProvider(Path.of(f).toFile()));
      }
    }
    System.exit(cl.execute(args));
  }
}
