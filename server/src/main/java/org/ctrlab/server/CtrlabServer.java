package org.ctrlab.server;

import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.Run;
import org.ctrlab.server.auth.Auth;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.jobs.Launcher;
import org.ctrlab.server.jobs.LocalLauncher;
import org.ctrlab.server.jobs.SlurmLauncher;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.ops.CallLog;
import org.ctrlab.server.ops.ServerMetrics;
import org.ctrlab.server.service.Analysis;
import org.ctrlab.server.service.CtrlabService;
import org.ctrlab.server.service.EventHub;
import org.ctrlab.server.service.Retention;
import org.ctrlab.server.service.Runs;
import org.ctrlab.server.service.StreamGuard;
import org.ctrlab.server.service.Studies;
import org.ctrlab.server.store.RunStore;

/**
 * A ctrlab server: run store, dataset registry, the supervisor of worker processes, the analysis pool, metrics and
 * the gRPC service (with health and reflection), started in order and stopped in the reverse order: health says
 * NOT_SERVING, new calls are refused, watchers are told, analysis calls stop, workers stop and their runs go back to
 * the queue, then the store closes.
 */
public final class CtrlabServer implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CtrlabServer.class);

  private final ServerOptions options;
  private final RunStore store;
  private final Supervisor supervisor;
  private final EventHub hub;
  private final Analysis analysis;
  private final Retention retention;
  private final ServerMetrics metrics;
  private final StreamGuard streams;
  private final HealthStatusManager health = new HealthStatusManager();
  private final Server server;
  private final org.ctrlab.server.web.WebServer web;
  private int metricsPort = -1;
  public final String device;

  public CtrlabServer(ServerOptions o) throws IOException, SQLException {
    this.options = o;
    boolean tls = o.tlsCert() != null;
    checkExposure(o, tls);
    Auth auth = o.tokens() == null ? Auth.open() : Auth.fromFile(o.tokens());
    if (o.tokens() == null) {
      List<String> others = org.ctrlab.server.files.LocalAccounts.others(System.getProperty("user.name"));
      if (!others.isEmpty()) {
        LOG.warn("no --tokens: every local user is an administrator of this server (who can cancel and delete"
            + " anyone's runs); {} other account(s) can log in to this box ({}); give --tokens FILE on a shared box",
            others.size(), String.join(", ", others.subList(0, Math.min(5, others.size()))));
      }
    }
    // The run folder holds every user's records, checkpoints and logs: the server's user only reads it.
    org.ctrlab.server.files.PrivateFiles.createDirectories(o.runDir());
    if (org.ctrlab.server.files.PrivateFiles.restrict(o.runDir())) {
      LOG.warn("the run folder {} was readable by other local users; it is now the server's user's only",
          o.runDir().toAbsolutePath());
    }
    Configs configs = o.configDir() == null ? Configs.packaged() : Configs.from(o.configDir());
    Path cache = o.runDir().resolve("cache");
    DatasetRegistry datasets = new DatasetRegistry(o.dataDir(), configs.datasets(), o.datasets(), o.allowDownload(),
        cache);
    RunConfigs runConfigs = new RunConfigs(configs, datasets);
    // The in-process sessions (Evaluate, Perturb, Inspect, Predict) use every core; TensorFlow fixes its pools at
    // the process's first session, the device listing below (unless Devices.OWN_POOLS_ENV gives each its own; the
    // server sets that for its workers, not for itself).
    Devices.useThreads(Runtime.getRuntime().availableProcessors());
    device = Devices.describe();
    String storeAt = o.store() != null ? o.store() : o.runDir().resolve("ctrlab.db").toAbsolutePath().toString();
    store = RunStore.openForServer(storeAt, o.storePasswordFile());
    try {
      int cores = Runtime.getRuntime().availableProcessors();
      int threads = o.threads() > 0 ? o.threads() : Math.max(1, cores / o.slots());
      List<String> gpus = o.gpus() != null ? o.gpus() : Devices.gpuIndices();
      ServerMetrics[] m = new ServerMetrics[1];
      EventHub[] h = new EventHub[1];
      Map<String, String> workerEnv = o.storePasswordFile() == null ? Map.of("CTRLAB_STORE", storeAt)
          : Map.of("CTRLAB_STORE", storeAt, "CTRLAB_STORE_PASSWORD_FILE",
              o.storePasswordFile().toAbsolutePath().toString());
      Launcher launcher = o.launcher().equals("slurm")
          ? new SlurmLauncher(o.slurm(), o.workerJvmOptions(), workerArgs(o, cache), workerEnv)
          : new LocalLauncher(o.workerJvmOptions(), workerArgs(o, cache), workerEnv);
      supervisor = new Supervisor(store, launcher,
          new Supervisor.Settings(o.slots(), threads, gpus, o.maxAttempts(), o.runDir(),
              o.maxRunHours()), new Supervisor.Observer() {
            @Override
            public void changed(Run r) {
              if (h[0] != null) {
                h[0].poke();
              }
              if (m[0] != null && Supervisor.isFinal(r.getState())) {
                m[0].ended(r);
              }
            }

            @Override
            public void crashed(Run r, Launcher.Exit exit) {
              if (m[0] != null) {
                m[0].crashed();
              }
            }
          });
      hub = new EventHub(store, supervisor, o.streams().stall());
      h[0] = hub;
      analysis = new Analysis(store, datasets, o.runDir(), o.analysisThreads(), 4 * o.analysisThreads(), cores,
          o.streams().stall());
      metrics = new ServerMetrics(store, new ServerMetrics.Gauges(() -> o.slots(), supervisor::busySlots,
          hub::watchers, analysis::busy));
      m[0] = metrics;
      Runs runs = new Runs(store, supervisor, hub, runConfigs, datasets, o.limits(), o.runDir(), device,
          o.visibility(), o.maxRunHours());
      Studies studies = new Studies(store, runs, runConfigs);
      retention = new Retention(store, o.runDir(), o.keep(), o.maxRunDirBytes(), supervisor::whileIdle);
      CtrlabService service = new CtrlabService(runs, studies, analysis, hub, supervisor, runConfigs, datasets,
          o.limits(), auth.required(), tls, device);
      CallLog log = new CallLog(metrics);
      streams = new StreamGuard(o.streams());
      NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(o.host(), o.port()))
          .maxInboundMessageSize(o.limits().maxRequestBytes())
          // HTTP/2's own bound on a connection's calls of every kind (streams have their own, lower, limits)
          .maxConcurrentCallsPerConnection(4 * o.streams().perConnection())
          .maxConnectionIdle(o.streams().connectionIdle().toMillis(), TimeUnit.MILLISECONDS)
          .maxConnectionAge(o.streams().connectionAge().toMillis(), TimeUnit.MILLISECONDS)
          .maxConnectionAgeGrace(o.streams().connectionAge().toMillis(), TimeUnit.MILLISECONDS)
          .addService(intercept(ServerInterceptors.intercept(service.bindService(), streams), log, auth))
          .addService(intercept(ProtoReflectionServiceV1.newInstance().bindService(), log, auth))
          .addService(ServerInterceptors.intercept(health.getHealthService(), log));
      if (tls) {
        SslContextBuilder ssl = GrpcSslContexts.forServer(o.tlsCert().toFile(), o.tlsKey().toFile());
        if (o.tlsClientCa() != null) {
          ssl.trustManager(o.tlsClientCa().toFile()).clientAuth(ClientAuth.REQUIRE);
        }
        b.sslContext(ssl.build());
      }
      server = b.build();
      if (o.httpPort() >= 0) {
        org.ctrlab.server.web.WebApi api = new org.ctrlab.server.web.WebApi(auth, o.host(), runs,
            new org.ctrlab.server.service.RunTable(runs, store), studies,
            new org.ctrlab.server.service.BoxView(store, supervisor, runs, CtrlabService.VERSION, device), analysis);
        web = new org.ctrlab.server.web.WebServer(o.host(), o.httpPort(), !tls ? null
            : new org.ctrlab.server.web.WebServer.Tls(o.tlsCert(), o.tlsKey(), o.tlsClientCa()), api);
      } else {
        web = null;
      }
    } catch (IOException | RuntimeException e) {
      try {
        store.close(); // a server that did not come up leaves the store, and its lock, to the next one
      } catch (Exception ignored) {
        // reporting the first failure
      }
      throw e;
    }
  }

  /** The call log outermost (it sees refusals too), then tokens. */
  private static ServerServiceDefinition intercept(ServerServiceDefinition s, CallLog log, Auth auth) {
    return ServerInterceptors.intercept(ServerInterceptors.intercept(s, auth), log);
  }

  /** Tokens crossing a network in clear text, or a network reaching a server without tokens, is refused. */
  private static void checkExposure(ServerOptions o, boolean tls) throws IOException {
    InetAddress a = InetAddress.getByName(o.host());
    if (a.isLoopbackAddress() || o.insecure()) {
      return;
    }
    if (!tls) {
      throw new IllegalArgumentException("refusing to listen on " + o.host() + " without TLS: tokens and results"
          + " would cross the network in clear text; give --tls-cert and --tls-key, or --insecure on a network you"
          + " trust");
    }
    if (o.tokens() == null) {
      throw new IllegalArgumentException("refusing to listen on " + o.host() + " without tokens: anyone who can"
          + " reach it could cancel anyone's runs; give --tokens FILE (ctrlab-server token add USER), or --insecure");
    }
  }

  /** The worker's options that every run shares: where the store, the data and the configs are. */
  private static List<String> workerArgs(ServerOptions o, Path cache) {
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

  /**
   * Takes up the runs an earlier server left (the store's lock, held since the constructor, keeps a second server
   * out), then serves: no call can reach a run before it is taken up. A server that fails to start (a port in use)
   * is closed again, its store and lock released.
   */
  public CtrlabServer start() throws IOException, SQLException {
    try {
      supervisor.start();
      server.start();
      if (web != null) {
        web.start();
      }
      if (options.metricsPort() >= 0) {
        metricsPort = metrics.serve(options.metricsHost(), options.metricsPort());
      }
    } catch (IOException | SQLException | RuntimeException e) {
      close();
      throw e;
    }
    retention.start();
    metrics.start();
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus("ctrlab.v1.Ctrlab", ServingStatus.SERVING);
    LOG.atInfo().addKeyValue("address", options.host() + ":" + server.getPort()).addKeyValue("tls",
        options.tlsCert() != null).addKeyValue("tokens", options.tokens() != null)
        .addKeyValue("slots", options.slots()).addKeyValue("launcher", options.launcher())
        .addKeyValue("store", store.dialect()).addKeyValue("metrics", metricsPort).log("serving");
    return this;
  }

  public int port() {
    return server.getPort();
  }

  /** The metrics endpoint's port, or -1 without one. */
  public int metricsPort() {
    return metricsPort;
  }

  /** The dashboard's port, or -1 without one. */
  public int httpPort() {
    return web == null ? -1 : web.port();
  }

  /** The streams each user holds open. */
  public StreamGuard streams() {
    return streams;
  }

  public ServerMetrics metrics() {
    return metrics;
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    health.enterTerminalState(); // NOT_SERVING for every service while draining
    server.shutdown();
    if (web != null) {
      web.close();
    }
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
    metrics.close();
    try {
      store.close();
    } catch (Exception ignored) {
      // closing anyway
    }
    LOG.info("stopped");
  }
}
