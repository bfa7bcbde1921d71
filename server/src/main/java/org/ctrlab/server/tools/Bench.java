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
import org.ctrlab.server.data.DataSplit;
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
 * Trains backbones × heads in this process, without the server, and prints a table (or, with --json, a JSON
 * document): test AUC, LogLoss, seconds per epoch against the floor of the model's own matrix products timed in the
 * same process on the same threads, the test split's evaluation time, epochs, and the RATING/BINARY time ratio.
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

  @Option(names = "--verbose", description = "Print every epoch (and, with --profile, the slowest ops by name).")
  boolean verbose;

  @Option(names = "--profile", description = "Print the time per TensorFlow op type of a traced training step and"
      + " evaluation batch.")
  boolean profile;

  @Option(names = "--eval-batch-size", description = "Rows per evaluation batch (default: the config's).")
  Integer evalBatchSize;

  @Option(names = "--bf16", description = "Train in bfloat16 with float32 master weights (where the CPU has it).")
  boolean bf16;

  @Option(names = "--json", description = "Print the results as one JSON document instead of a table.")
  boolean json;

  @Option(names = "--towers", description = "Row ranges a training step is split into, each on one thread"
      + " (default: the model's choice: the threads on a CPU when TF_OVERRIDE_GLOBAL_THREADPOOL is set, else 1;"
      + " 1 on a GPU or for a backbone with BatchNorm).")
  int towers;

  @Option(names = "--floor-steps", description = "Timed passes over the model's matrix products per round, five"
      + " rounds, for its floor (default: ${DEFAULT-VALUE}).")
  int floorSteps = 20;

  /** One backbone and head, measured: its epoch against the floor of its own matrix products, and its evaluation. */
  record Row(String backbone, String head, double testAuc, double testLogloss, double secondsPerEpoch,
      double floorSecondsPerEpoch, double floorRatio, double evalSeconds, double evalFloorSeconds,
      double ratingOverBinary, int epochs, int bestEpoch, int products, double gflopPerStep, int towers) {}

  @Override
  public Integer call() {
    if (bf16 && org.ctrlab.server.Devices.bf16().isEmpty()) {
      System.err.println("bench: --bf16: " + org.ctrlab.server.Devices.noBf16Reason());
      return 2;
    }
    RunOptions.Loaded in = options.load();
    RunConfigs rc = in.configs();
    Dataset ds = in.dataset();
    if (!json) {
      System.out.printf(Locale.ROOT, "%-9s %-7s %8s %8s %8s %8s %6s %7s %7s %6s %6s %5s %6s%n", "backbone", "head",
          "testAUC", "logloss", "s/epoch", "floor", "xfloor", "eval s", "floor", "R/B", "epochs", "best", "towers");
      System.out.println("(s/epoch: mean training-pass seconds of epochs 2.. (epoch 1 if only one); floor: the same"
          + " epoch's matrix products alone, forward and gradients, read off this model's graph and timed on the same"
          + " threads; xfloor: s/epoch over floor; eval s: the test split's evaluation, best of 3, and the floor of its"
          + " products; R/B: RATING over BINARY s/epoch in this process; towers: row ranges a step runs in at once)");
    }
    List<Row> rows = new ArrayList<>();
    for (String bb : options.backbones) {
      double binarySeconds = Double.NaN;
      for (Head h : heads) {
        ResolvedConfig.Builder cb = options.resolve(rc, ds.name, bb, h, epochs, seed).toBuilder().setBf16(bf16);
        if (evalBatchSize != null) {
          cb.setEvalBatchSize(evalBatchSize);
        }
        ResolvedConfig c = cb.build();
        List<EpochResult> log = new ArrayList<>();
        try (CtrModel m = new CtrModel(RunExecutor.modelConfig(c, options.threads).withTowers(towers), ds)) {
          if (profile) {
            profile(m, ds, c, verbose);
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
          DataSplit split = DataSplit.of(ds.rows, c.getSeed());
          List<CtrModel.Product> products = products(m, ds, split.train, c.getBatchSize(), true);
          double floorMs = ProductFloor.millis(products, options.threads, floorSteps);
          double floor = floorMs / 1000 * split.train.length / c.getBatchSize();
          double evalFloor = ProductFloor.millis(products(m, ds, split.test, c.getEvalBatchSize(), false),
              options.threads, floorSteps) / 1000 * split.test.length / c.getEvalBatchSize();
          double eval = Double.MAX_VALUE;
          for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            Trainer.evaluate(m, ds, split.test, c.getEvalBatchSize());
            eval = Math.min(eval, (System.nanoTime() - t0) / 1e9);
          }
          Row row = new Row(bb, h.name(), o.test().auc(), o.test().logloss(), sec, floor, sec / floor, eval,
              evalFloor, h == Head.BINARY || Double.isNaN(binarySeconds) ? 1 : sec / binarySeconds,
              o.epochs().size(), o.bestEpoch(), products.size(), products.stream().mapToDouble(CtrModel.Product::flops).sum() / 1e9,
              m.towers());
          rows.add(row);
          if (!json) {
            System.out.printf(Locale.ROOT, "%-9s %-7s %8.4f %8.4f %8.2f %8.2f %6.2f %7.3f %7.3f %6.3f %6d %5d %6d%n",
                bb, h, row.testAuc(), row.testLogloss(), sec, floor, row.floorRatio(), eval, evalFloor,
                row.ratingOverBinary(), row.epochs(), row.bestEpoch(), row.towers());
            if (verbose) {
              System.out.printf(Locale.ROOT, "  %d matrix products, %.2f GFLOP per step:%n", products.size(),
                  row.gflopPerStep());
              products.forEach(p -> System.out.printf(Locale.ROOT, "    %-12s %s%d x %d x %d%s%s%n", p.type(),
                  p.batch() > 1 ? p.batch() + " x " : "", p.m(), p.k(), p.n(), p.transposeA() ? " A'" : "",
                  p.transposeB() ? " B'" : ""));
            }
          }
        }
      }
    }
    if (json) {
      java.util.Map<String, Object> doc = new java.util.LinkedHashMap<>();
      doc.put("device", org.ctrlab.server.Devices.describe());
      doc.put("threads", options.threads);
      doc.put("onednn", org.ctrlab.server.Devices.oneDnn());
      doc.put("bf16", bf16);
      doc.put("dataset", ds.name);
      doc.put("results", rows);
      System.out.println(new com.google.gson.GsonBuilder().setPrettyPrinting()
          .setFieldNamingPolicy(com.google.gson.FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES).create().toJson(doc));
    }
    return 0;
  }

  /** The model's matrix products on one batch of the split's first rows: of a training step, or of evaluation. */
  private static List<CtrModel.Product> products(CtrModel m, Dataset ds, int[] split, int batch, boolean train) {
    int[] rows = java.util.Arrays.copyOf(split, Math.min(batch, split.length));
    var feeder = new org.ctrlab.server.model.BatchFeeder(ds, rows.length);
    try {
      feeder.fill(rows, 0, rows.length);
      return train ? m.trainProducts(feeder) : m.evalProducts(feeder);
    } finally {
      feeder.close();
    }
  }

  private static void profile(CtrModel m, Dataset ds, ResolvedConfig c, boolean byName) {
    int[] rows = new int[Math.max(c.getBatchSize(), c.getEvalBatchSize())];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = i % ds.rows;
    }
    printProfile("a training step", c.getBatchSize(), traceMean(ds, rows, c.getBatchSize(),
        (feeder, k) -> m.profileStep(feeder, 1e-4f, k)), byName);
    printProfile("an evaluation batch", c.getEvalBatchSize(), traceMean(ds, rows, c.getEvalBatchSize(),
        (feeder, k) -> m.profilePredict(feeder)), byName);
  }

  /** Passes to warm up before tracing, and traced passes averaged: one pass's trace varies by tens of per cent. */
  private static final int WARM_PASSES = 5;
  private static final int TRACED_PASSES = 20;

  private static Map<String, Double> traceMean(Dataset ds, int[] rows, int batch,
      java.util.function.BiFunction<org.ctrlab.server.model.BatchFeeder, Integer, Map<String, Double>> pass) {
    int warm = WARM_PASSES;
    int kept = TRACED_PASSES;
    Map<String, Double> t = new java.util.HashMap<>();
    try (var feeder = new org.ctrlab.server.model.BatchFeeder(ds, batch)) {
      for (int k = 1; k <= warm + kept; k++) {
        feeder.fill(rows, 0, batch);
        Map<String, Double> one = pass.apply(feeder, k);
        if (k > warm) {
          one.forEach((op, ms) -> t.merge(op, ms / kept, Double::sum));
        }
      }
    }
    return t;
  }

  /** Op time per op type, and with byName the slowest ops by "type name" too; perOp as traceMean gives it. */
  private static void printProfile(String what, int rows, Map<String, Double> perOp, boolean byName) {
    Map<String, Double> t = CtrModel.byType(perOp);
    double total = t.values().stream().mapToDouble(Double::doubleValue).sum();
    System.out.printf(Locale.ROOT, "op time of %s of %,d rows (summed over threads, mean of %d traced): %.1f ms%n",
        what, rows, TRACED_PASSES, total);
    t.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue(), a.getValue())).limit(25)
        .forEach(e -> System.out.printf(Locale.ROOT, "  %-32s %8.2f ms%n", e.getKey(), e.getValue()));
    if (byName) {
      System.out.printf(Locale.ROOT, "slowest ops of %s by name:%n", what);
      perOp.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue(), a.getValue())).limit(40)
          .forEach(e -> System.out.printf(Locale.ROOT, "  %8.2f ms  %s%n", e.getValue(), e.getKey()));
    }
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new Bench()).execute(args));
  }
}
