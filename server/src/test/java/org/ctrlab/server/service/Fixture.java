package org.ctrlab.server.service;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.TestData;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.store.RunStore;

/** A ctrlab service on an in-process channel over a temporary data and run directory. */
final class Fixture implements AutoCloseable {
  final Path root;
  final RunStore store;
  final RunManager runs;
  final Server server;
  final ManagedChannel channel;
  final CtrlabGrpc.CtrlabBlockingStub stub;

  Fixture(Path root, Auth auth, Map<String, Path> overrides) throws Exception {
    this.root = root;
    Path data = root.resolve("data");
    if (!Files.exists(data.resolve("synthetic"))) {
      TestData.small().write(data.resolve("synthetic"));
    }
    Configs configs = Configs.packaged();
    DatasetRegistry datasets = new DatasetRegistry(data, configs.datasets(), overrides, false);
    RunConfigs rc = new RunConfigs(configs, datasets);
    store = new RunStore(root.resolve("runs").resolve("ctrlab.db"));
    runs = new RunManager(store, datasets, rc, root.resolve("runs"), 1, 2, "/device:CPU:0 (test)");
    runs.start();
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new CtrlabService(runs, rc, datasets, auth.required()), auth))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    stub = CtrlabGrpc.newBlockingStub(channel);
  }

  Fixture(Path root) throws Exception {
    this(root, Auth.open(), Map.of());
  }

  /** A quick run: a small DCNV2 for two epochs. */
  static TrainRequest.Builder quick() {
    return TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2").setMaxEpochs(2).setBatchSize(1024)
        .setEmbeddingSize(8).putHyperparameters("mlp_hidden_size", ParamValue.newBuilder()
            .setList(NumberList.newBuilder().addValues(16)).build());
  }

  @Override
  public void close() throws Exception {
    channel.shutdownNow();
    server.shutdownNow();
    server.awaitTermination(5, TimeUnit.SECONDS);
    runs.close();
    store.close();
  }
}
