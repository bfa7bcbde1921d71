package org.ctrlab.server.service;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.CtrlabServer;
import org.ctrlab.server.ServerOptions;
import org.ctrlab.server.TestData;

/** A real ctrlab server on a loopback port over a temporary data and run directory, with a channel to it. */
public final class Fixture implements AutoCloseable {
  public final Path root;
  public final CtrlabServer server;
  public final ManagedChannel channel;
  public final CtrlabGrpc.CtrlabBlockingStub stub;

  public Fixture(Path root, Path tokens, Map<String, Path> overrides, UnaryOperator<ServerOptions> tweak)
      throws Exception {
    this.root = root;
    Path data = root.resolve("data");
    if (!Files.exists(data.resolve("synthetic"))) {
      TestData.small().write(data.resolve("synthetic"));
    }
    server = new CtrlabServer(tweak.apply(new ServerOptions().port(0).dataDir(data).runDir(root.resolve("runs"))
        .datasets(overrides).tokens(tokens).threads(2).allowDownload(false)
        .workerJvmOptions(TestData.WORKER_JVM))).start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    stub = CtrlabGrpc.newBlockingStub(channel);
  }

  Fixture(Path root, Path tokens, Map<String, Path> overrides) throws Exception {
    this(root, tokens, overrides, o -> o);
  }

  Fixture(Path root) throws Exception {
    this(root, null, Map.of());
  }

  /** A quick run: a small DCNV2 for two epochs. */
  public static TrainRequest.Builder quick() {
    return TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2").setMaxEpochs(2).setBatchSize(1024)
        .setEmbeddingSize(8).putHyperparameters("mlp_hidden_size", ParamValue.newBuilder()
            .setList(NumberList.newBuilder().addValues(16)).build());
  }

  @Override
  public void close() throws Exception {
    channel.shutdownNow();
    channel.awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }
}
