package org.ctrlab.server;

import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.jobs.LocalLauncher;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.service.Analysis;
import org.ctrlab.server.service.Auth;
import org.ctrlab.server.service.CtrlabService;
import org.ctrlab.server.service.EventHub;
import org.ctrlab.server.service.Limits;
import org.ctrlab.server.service.Retention;
import org.ctrlab.server.service.Runs;
import org.ctrlab.server.service.Studies;
import org.ctrlab.server.store.RunStore;

/**
 * A ctrlab server: run store, dataset registry, the supervisor of worker processes, the analysis pool and the gRPC
 * service, started in order and stopped in the reverse order (new calls refused, watchers told, analysis calls
 * stopped, workers stopped and their runs handed back to the queue, then the store closed).
 */
public final class CtrlabServer implements AutoCloseable {
  /** Everything a server is started with. */
  public record Options(String host, int port, Path dataDir, Path runDir, Map<String, Path> datasets, Path configDir,
      Path tokens, int slots, int threads, boolean allowDownload, int maxAttempts, List<String> gpus,
      List<String> workerJvmOptions, Limits limits, int analysisThreads, Duration keep, long maxRunDirBytes) {
    /** The options of a server on one box with the defaults for everything else. */
    public static Options local(String host, int port, Path dataDir, Path runDir, Map<String, Path> datasets,
        Path configDir, Path tokens, int slots, int threads, boolean allowDownload) {
      return new Options(host, port, dataDir, runDir, datasets, configDir, tokens, slots, threads, allowDownload, 3,
          null, List.of(), Limits.DEFAULTS, 2, Duration.ZERO, 0);
    }

    public Options withLimits(Limits l) {
      return new Options(host, port, dataDir, runDir, datasets, configDir, tokens, slots, threads, allowDownload,
          maxAttempts, gpus, workerJvmOptions, l, analysisThreads, keep, maxRunDirBytes);
    }

    public Options withWorkers(int attempts, List<String> jvmOptions) {
      return new Options(host, port, dataDir, runDir, datasets, configDir, tokens, slots, threads, allowDownload,
          attempts, gpus, jvmOptions, limits, analysisThreads, keep, maxRunDirBytes);
    }

    public Options withRetention(Duration keepFor, long maxBytes) {
      return new Options(host, port, dataDir, runDir, datasets, configDir, tokens, slots, threads, allowDownload,
          maxAttempts, gpus, workerJvmOptions, limits, analysisThreads, keepFor, maxBytes);
    }
  }

  private final RunStore store;
  private final Supervisor supervisor;
  private final EventHub hub;
  private final Analysis analysis;
  private final Retention retention;
  private final Server server;
  public final String device;

  public CtrlabServer(Options o) throws IOException, SQLException {
    Configs configs = o.configDir() == null ? Configs.packaged() : Configs.from(o.configDir());
    Path cache = o.runDir().resolve("cache");
    DatasetRegistry datasets = new DatasetRegistry(o.dataDir(), configs.datasets(), o.datasets(), o.allowDownload(),
        cache);
    RunConfigs runConfigs = new RunConfigs(configs, datasets);
    Auth auth = o.tokens() == null ? Auth.open() : Auth.fromFile(o.tokens());
    device = Devices.describe();
    store = RunStore.open(o.runDir().resolve("ctrlab.db"));
    int cores = Runtime.getRuntime().availableProcessors();
    int threads = o.threads() > 0 ? o.threads() : Math.max(1, cores / o.slots());
    List<String> gpus = o.gpus() != null ? o.gpus() : Devices.gpuIndices();
    supervisor = new Supervisor(store, new LocalLauncher(o.workerJvmOptions(), workerArgs(o, cache)),
        new Supervisor.Settings(o.slots(), threads, gpus, o.maxAttempts(), o.runDir()), r -> { });
    hub = new EventHub(store, supervisor);
    analysis = new Analysis(store, datasets, o.runDir(), o.analysisThreads(), 4 * o.analysisThreads(), cores);
    Runs runs = new Runs(store, supervisor, hub, runConfigs, datasets, o.limits(), o.runDir(), device);
    Studies studies = new Studies(store, runs, runConfigs);
    retention = new Retention(store, o.runDir(), o.keep(), o.maxRunDirBytes());
    CtrlabService service = new CtrlabService(runs, studies, analysis, hub, supervisor, runConfigs, datasets,
        o.limits(), auth.required(), device);
    server = NettyServerBuilder.forAddress(new InetSocketAddress(o.host(), o.port()))
        .maxInboundMessageSize(o.limits().maxRequestBytes())
        .addService(ServerInterceptors.intercept(service, auth))
        .addService(ProtoReflectionServiceV1.newInstance())
        .build();
  }

  /** The worker's options that every run shares: where the store, the data and the configs are. */
  private static List<String> workerArgs(Options o, Path cache) {
    List<String> a = new ArrayList<>(List.of("--run-dir", o.runDir().toAbsolutePath().toString(), "--data-dir",
        o.dataDir().toAbsolutePath().toString(), "--cache-dir", cache.toAbsolutePath().toString()));
    o.datasets().forEach((name, path) -> a.addAll(List.of("--dataset", name + "=" + path.toAbsolutePath())));
    if (o.configDir() != null) {
      a.addAll(List.of("--config-dir", o.configDir().toAbsolutePath().toString()));
    }
    if (!o.allowDownload()) {
      a.add("--no-download");
    }
    return a;
  }

  public CtrlabServer start() throws IOException, SQLException {
    supervisor.start();
    retention.start();
    server.start();
    return this;
  }

  public int port() {
    return server.getPort();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  @Override
  public void close() {
    server.shutdown();
    hub.close();
    analysis.close();
    supervisor.close();
    retention.close();
    try {
      if (!server.awaitTermination(2, TimeUnit.SECONDS)) {
        server.shutdownNow();
        server.awaitTermination(2, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
    try {
      store.close();
    } catch (SQLException ignored) {
      // closing anyway
    }
  }
}
