package org.ctrlab.server;

import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.service.Auth;
import org.ctrlab.server.service.CtrlabService;
import org.ctrlab.server.service.RunManager;
import org.ctrlab.server.store.RunStore;

/** A ctrlab server: run store, dataset registry, run queue and the gRPC service, with an orderly shutdown. */
public final class CtrlabServer implements AutoCloseable {
  /** Everything a server is started with. */
  public record Options(String host, int port, Path dataDir, Path runDir, Map<String, Path> datasets, Path configDir,
      Path tokens, int workers, int threads, boolean allowDownload) {}

  private final RunStore store;
  private final RunManager runs;
  private final Server server;
  public final String device;

  public CtrlabServer(Options o) throws IOException, SQLException {
    Configs configs = o.configDir() == null ? Configs.packaged() : Configs.from(o.configDir());
    DatasetRegistry datasets = new DatasetRegistry(o.dataDir(), configs.datasets(), o.datasets(), o.allowDownload());
    RunConfigs runConfigs = new RunConfigs(configs, datasets);
    Auth auth = o.tokens() == null ? Auth.open() : Auth.fromFile(o.tokens());
    device = Devices.describe();
    store = new RunStore(o.runDir().resolve("ctrlab.db"));
    runs = new RunManager(store, datasets, runConfigs, o.runDir(), o.workers(), o.threads(), device);
    CtrlabService service = new CtrlabService(runs, runConfigs, datasets, auth.required());
    server = NettyServerBuilder.forAddress(new InetSocketAddress(o.host(), o.port()))
        .addService(ServerInterceptors.intercept(service, auth))
        .addService(ProtoReflectionServiceV1.newInstance())
        .build();
  }

  public CtrlabServer start() throws IOException, SQLException {
    runs.start();
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
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
    runs.close();
    try {
      store.close();
    } catch (SQLException ignored) {
      // closing anyway
    }
  }
}
