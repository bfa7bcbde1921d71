package org.ctrlab.server.tools;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.WatchRunRequest;
import org.ctrlab.server.CtrlabServer;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.train.RunExecutor;
import org.ctrlab.server.train.TrainListener;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What running a training run as its own worker process costs: the same run trained in this process and through a
 * server on loopback (submitted over gRPC, trained by a worker process), alternately, in one session. Prints the
 * seconds per epoch of both (epoch 1 left out: it also warms up), their ratio, and the time from submitting the run
 * to the worker's first training step.
 */
@Command(name = "worker-cost", mixinStandardHelpOptions = true,
    description = "Seconds per epoch of a run in a worker process against the same run in this process, and the"
        + " time from submit to the worker's first step.",
    footer = {"", "Example:",
        "  ctrlab-server worker-cost --data-dir ../shared/data --dataset ml-1m --backbone WideDeep --epochs 4"})
public final class WorkerCost implements Callable<Integer> {
  @Mixin
  RunOptions options = new RunOptions();

  @Option(names = "--head", description = "Head (default: ${DEFAULT-VALUE}).")
  Head head = Head.BINARY;

  @Option(names = "--epochs", description = "Epochs per run (default: ${DEFAULT-VALUE}; the first is left out).")
  int epochs = 4;

  @Option(names = "--rounds", description = "Pairs of runs, the order flipped every round (default: ${DEFAULT-VALUE}).")
  int rounds = 2;

  @Option(names = "--watch", description = "Watch each worker's run while it trains, as 'ctrlab train --watch' does"
      + " (default: nobody watches; its events are read when it has ended).")
  boolean watch;

  static TrainRequest request(ResolvedConfig c) {
    return TrainRequest.newBuilder().setDataset(c.getDataset()).setBackbone(c.getBackbone()).setHead(c.getHead())
        .setAggregation(c.getAggregation()).setRatingWeight(c.getRatingWeight())
        .putAllHyperparameters(c.getHyperparametersMap()).setEmbeddingSize(c.getEmbeddingSize())
        .setLearningRate(c.getLearningRate()).setWeightDecay(c.getWeightDecay()).setBatchSize(c.getBatchSize())
        .setMaxEpochs(c.getMaxEpochs()).setPatience(c.getPatience()).setSeed(c.getSeed())
        .setEvalBatchSize(c.getEvalBatchSize()).setName("worker-cost").build();
  }

  /** Mean training-pass seconds of epochs 2..N. */
  static double steady(List<EpochResult> epochs) {
    return epochs.subList(1, epochs.size()).stream().mapToDouble(EpochResult::getTrainSeconds).average().orElse(0);
  }

  /**
   * Wall-clock seconds per epoch over epochs 2..N: from the end of epoch 1 to the end of epoch N, divided by N - 1.
   * That is everything an epoch costs: training, validation and, in a worker, its checkpoint and store commit.
   */
  static double wall(List<Long> epochEndsMs) {
    int n = epochEndsMs.size();
    return n < 2 ? Double.NaN : (epochEndsMs.get(n - 1) - epochEndsMs.get(0)) / 1e3 / (n - 1);
  }

  @Override
  public Integer call() throws Exception {
    if (epochs < 2) {
      throw new IllegalArgumentException("--epochs must be at least 2 (the first is left out)");
    }
    RunOptions.Loaded in = options.load();
    Dataset ds = in.dataset();
    ResolvedConfig c = options.resolve(in.configs(), ds.name, options.backbones.get(0), head, epochs, null)
        .toBuilder().setPatience(epochs).build();
    Path runDir = Files.createTempDirectory("ctrlab-worker-cost");
    Map<String, Path> where = Map.of(ds.name, options.dataDir.resolve(ds.name).toAbsolutePath());
    CtrlabServer server = new CtrlabServer(new org.ctrlab.server.ServerOptions().port(0).dataDir(options.dataDir)
        .runDir(runDir).datasets(where).threads(options.threads).allowDownload(false)).start();
    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    CtrlabGrpc.CtrlabBlockingStub stub = CtrlabGrpc.newBlockingStub(ch);
    System.out.printf(Locale.ROOT, "%s %s, %d epochs per run, %d threads, worker runs %s; s/epoch over epochs 2..%d:"
        + " wall clock (training, validation, checkpoint) and the training pass alone%n", c.getBackbone(),
        c.getHead(), epochs, options.threads, watch ? "watched live" : "not watched", epochs);
    System.out.printf(Locale.ROOT, "%-6s %-11s %12s %12s %14s%n", "round", "where", "wall s/epoch", "train s/epoch",
        "submit->step s");
    double inSum = 0;
    double workerSum = 0;
    double inTrain = 0;
    double workerTrain = 0;
    List<Double> toFirstStep = new ArrayList<>();
    try {
      for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
          boolean inProcess = (k == 0) == (r % 2 == 0);
          if (inProcess) {
            List<EpochResult> log = new ArrayList<>();
            List<Long> ends = new ArrayList<>();
            try (CtrModel m = new CtrModel(RunExecutor.modelConfig(c, options.threads), ds)) {
              RunExecutor.train(m, ds, c, new TrainListener() {
                @Override
                public void epoch(EpochResult e, double[][] norms) {
                  log.add(e);
                  ends.add(System.currentTimeMillis());
                }
              });
            }
            double s = wall(ends);
            inSum += s;
            inTrain += steady(log);
            System.out.printf(Locale.ROOT, "%-6d %-11s %12.3f %12.3f %14s%n", r + 1, "in-process", s, steady(log),
                "-");
          } else {
            String id = stub.train(request(c)).getRunId();
            // By default nobody watches while it trains (a watcher's cost is not the worker's); its stored events,
            // read afterwards, say when each epoch ended. With --watch, the stream below follows it live.
            while (!watch && !Supervisor.isFinal(stub.getRun(GetRunRequest.newBuilder()
                .setRunId(id).build()).getState())) {
              Thread.sleep(1000);
            }
            double first = Double.NaN;
            List<Long> ends = new ArrayList<>();
            var it = stub.watchRun(WatchRunRequest.newBuilder().setRunId(id).build());
            while (it.hasNext()) {
              RunEvent e = it.next();
              if (e.hasLog() && e.getLog().startsWith("first training step") && Double.isNaN(first)) {
                first = e.getUnixMs();
              }
              if (e.hasEpoch()) {
                ends.add(e.getUnixMs()); // stored after the epoch's state file is on disk, in its commit
              }
            }
            Run run = stub.getRun(GetRunRequest.newBuilder().setRunId(id).build());
            if (run.getState() != RunState.SUCCEEDED) {
              throw new IllegalStateException("run " + id + " " + run.getState() + ": " + run.getMessage());
            }
            double s = wall(ends);
            double step = (first - run.getCreatedUnixMs()) / 1e3;
            workerSum += s;
            workerTrain += steady(run.getEpochsList());
            toFirstStep.add(step);
            System.out.printf(Locale.ROOT, "%-6d %-11s %12.3f %12.3f %14.2f%n", r + 1, "worker", s,
                steady(run.getEpochsList()), step);
          }
        }
      }
    } finally {
      ch.shutdownNow();
      server.close();
    }
    System.out.printf(Locale.ROOT, "worker / in-process wall s/epoch: %.3f over %d rounds (training pass alone: %.3f);"
        + " submit to first step %.2f s (mean)%n", workerSum / inSum, rounds, workerTrain / inTrain,
        toFirstStep.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN));
    return 0;
  }
}
