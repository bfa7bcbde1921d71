package org.ctrlab.server.tools;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.train.RunExecutor;
import org.ctrlab.server.train.TrainListener;
import org.ctrlab.server.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains backbones × heads in this process, without the server, and prints a table: test AUC, LogLoss, seconds
 * per epoch, epochs, and the RATING/BINARY time ratio measured in the same process.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Train backbones with both heads in-process and print test metrics and seconds per epoch.",
    footer = {"", "Example:", "  ctrlab-server bench --data-dir ../shared/data --dataset ml-1m --backbone DCNV2"})
public final class Bench implements Callable<Integer> {
  @Option(names = "--data-dir", description = "Folder holding one sub-folder per dataset (default: ${DEFAULT-VALUE}).")
  Path dataDir = Path.of("data");

  @Option(names = "--dataset", description = "Dataset name (default: ${DEFAULT-VALUE}).")
  String dataset = "synthetic";

  @Option(names = "--backbone", split = ",", description = "Backbones, comma-separated (default: DCNV2).")
  List<String> backbones = List.of("DCNV2");

  @Option(names = "--head", split = ",", description = "Heads (default: BINARY,RATING).")
  List<Head> heads = List.of(Head.BINARY, Head.RATING);

  @Option(names = "--epochs", description = "Upper bound on epochs (default: the config's).")
  Integer epochs;

  @Option(names = "--seed", description = "Seed (default: the config's).")
  Long seed;

  @Option(names = "--rating-weight", description = "lambda_r for the RATING head (default: the config's).")
  Double ratingWeight;

  @Option(names = "--threads", description = "TensorFlow threads (default: all cores).")
  int threads = Runtime.getRuntime().availableProcessors();

  @Option(names = "--set", description = "Backbone hyperparameter NAME=V or NAME=V1,V2 (repeatable).")
  Map<String, String> set = Map.of();

  @Option(names = "--verbose", description = "Print every epoch.")
  boolean verbose;

  @Option(names = "--profile", description = "Print the time per TensorFlow op type of one traced training step.")
  boolean profile;

  @Override
  public Integer call() {
    Configs configs = Configs.packaged();
    DatasetRegistry reg = new DatasetRegistry(dataDir, configs.datasets(), Map.of(), false);
    RunConfigs rc = new RunConfigs(configs, reg);
    long t0 = System.nanoTime();
    Dataset ds = reg.load(dataset);
    System.out.printf(Locale.ROOT, "%s (loaded in %.1f s)%n", ds.describe(), (System.nanoTime() - t0) / 1e9);
    System.out.printf(Locale.ROOT, "device %s, TensorFlow threads %d, oneDNN CPU kernels %s%n",
        org.ctrlab.server.Devices.describe(), threads, org.ctrlab.server.Devices.oneDnn() ? "on" : "off");
    System.out.printf(Locale.ROOT, "%-9s %-7s %8s %8s %8s %7s %6s %6s%n", "backbone", "head", "testAUC", "logloss",
        "s/epoch", "ratio", "epochs", "best");
    System.out.println("(s/epoch: mean training-pass seconds of epochs 2.. (epoch 1 if only one); ratio: RATING over"
        + " BINARY in this process)");
    for (String bb : backbones) {
      double binarySeconds = Double.NaN;
      for (Head h : heads) {
        ResolvedConfig c = resolve(rc, dataset, bb, h, epochs, seed, ratingWeight, set);
        List<EpochResult> log = new ArrayList<>();
        try (CtrModel m = new CtrModel(RunExecutor.modelConfig(c, threads), ds)) {
          if (profile) {
            profile(m, ds, c);
          }
          Trainer.Outcome o = RunExecutor.train(m, ds, c, new TrainListener() {
            @Override
            public void epoch(EpochResult r, double[][] norms) {
              log.add(r);
              if (verbose) {
                System.out.printf(Locale.ROOT, "  epoch %3d loss %.4f valid AUC %.4f logloss %.4f %.2f s%n",
                    r.getEpoch(), r.getTrainLoss(), r.getValidAuc(), r.getValidLogloss(), r.getTrainSeconds());
              }
            }
          });
          // Steady state: the first epoch also pays for graph warm-up, so it is left out when there are more.
          double sec = log.size() > 1 ? log.subList(1, log.size()).stream()
              .mapToDouble(EpochResult::getTrainSeconds).average().orElse(0) : o.secondsPerEpoch();
          if (h == Head.BINARY) {
            binarySeconds = sec;
          }
          System.out.printf(Locale.ROOT, "%-9s %-7s %8.4f %8.4f %8.2f %7s %6d %6d%n", bb, h, o.test().auc(),
              o.test().logloss(), sec, h == Head.BINARY || Double.isNaN(binarySeconds) ? "1.000"
                  : String.format(Locale.ROOT, "%.3f", sec / binarySeconds), o.epochs().size(), o.bestEpoch());
        }
      }
    }
    return 0;
  }

  private static void profile(CtrModel m, Dataset ds, ResolvedConfig c) {
    int[] rows = new int[c.getBatchSize()];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = i % ds.rows;
    }
    try (var feeder = new org.ctrlab.server.model.BatchFeeder(ds, rows.length)) {
      Map<String, Double> t = null;
      for (int k = 1; k <= 5; k++) { // warm up, then keep the last
        feeder.fill(rows, 0, rows.length);
        t = m.profileStep(feeder, 1e-4f, k);
      }
      double total = t.values().stream().mapToDouble(Double::doubleValue).sum();
      System.out.printf(Locale.ROOT, "op time of one step (summed over threads): %.1f ms%n", total);
      t.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue(), a.getValue())).limit(25)
          .forEach(e -> System.out.printf(Locale.ROOT, "  %-32s %8.2f ms%n", e.getKey(), e.getValue()));
    }
  }

  /** The run config for one backbone × head: the packaged defaults with the command line's overrides. */
  static ResolvedConfig resolve(RunConfigs rc, String dataset, String backbone, Head head, Integer epochs, Long seed,
      Double ratingWeight, Map<String, String> set) {
    TrainRequest.Builder req = TrainRequest.newBuilder().setDataset(dataset).setBackbone(backbone).setHead(head);
    if (epochs != null) {
      req.setMaxEpochs(epochs);
    }
    if (seed != null) {
      req.setSeed(seed);
    }
    if (ratingWeight != null) {
      req.setRatingWeight(ratingWeight);
    }
    set.forEach((k, v) -> req.putHyperparameters(k, parse(v)));
    return rc.resolve(req.build());
  }

  private static ParamValue parse(String v) {
    if (v.contains(",") || v.startsWith("[")) {
      NumberList.Builder b = NumberList.newBuilder();
      for (String x : v.replace("[", "").replace("]", "").split(",")) {
        b.addValues(Double.parseDouble(x.trim()));
      }
      return ParamValue.newBuilder().setList(b).build();
    }
    return ParamValue.newBuilder().setNumber(Double.parseDouble(v)).build();
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new Bench()).execute(args));
  }
}
