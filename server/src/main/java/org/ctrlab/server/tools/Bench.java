package org.ctrlab.server.tools;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.train.RunExecutor;
import org.ctrlab.server.train.TrainListener;
import org.ctrlab.server.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Trains backbones × heads in this process, without the server, and prints a table: test AUC, LogLoss, seconds
 * per epoch, epochs, and the RATING/BINARY time ratio measured in the same process.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Train backbones with both heads in-process and print test metrics and seconds per epoch.",
    footer = {"", "Example:", "  ctrlab-server bench --data-dir ../shared/data --dataset ml-1m --backbone DCNV2"})
public final class Bench implements Callable<Integer> {
  @Mixin
  RunOptions options = new RunOptions();

  @Option(names = "--head", split = ",", description = "Heads (default: BINARY,RATING).")
  List<Head> heads = List.of(Head.BINARY, Head.RATING);

  @Option(names = "--epochs", description = "Upper bound on epochs (default: the config's).")
  Integer epochs;

  @Option(names = "--seed", description = "Seed (default: the config's).")
  Long seed;

  @Option(names = "--verbose", description = "Print every epoch.")
  boolean verbose;

  @Option(names = "--profile", description = "Print the time per TensorFlow op type of one traced training step.")
  boolean profile;

  @Override
  public Integer call() {
    RunOptions.Loaded in = options.load();
    RunConfigs rc = in.configs();
    Dataset ds = in.dataset();
    System.out.printf(Locale.ROOT, "%-9s %-7s %8s %8s %8s %7s %6s %6s%n", "backbone", "head", "testAUC", "logloss",
        "s/epoch", "ratio", "epochs", "best");
    System.out.println("(s/epoch: mean training-pass seconds of epochs 2.. (epoch 1 if only one); ratio: RATING over"
        + " BINARY in this process)");
    for (String bb : options.backbones) {
      double binarySeconds = Double.NaN;
      for (Head h : heads) {
        ResolvedConfig c = options.resolve(rc, ds.name, bb, h, epochs, seed);
        List<EpochResult> log = new ArrayList<>();
        try (CtrModel m = new CtrModel(RunExecutor.modelConfig(c, options.threads), ds)) {
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
        t = CtrModel.byType(m.profileStep(feeder, 1e-4f, k));
      }
      double total = t.values().stream().mapToDouble(Double::doubleValue).sum();
      System.out.printf(Locale.ROOT, "op time of one step (summed over threads): %.1f ms%n", total);
      t.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue(), a.getValue())).limit(25)
          .forEach(e -> System.out.printf(Locale.ROOT, "  %-32s %8.2f ms%n", e.getKey(), e.getValue()));
    }
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new Bench()).execute(args));
  }
}
