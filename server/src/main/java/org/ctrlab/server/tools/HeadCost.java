package org.ctrlab.server.tools;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.model.BatchFeeder;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.train.RunExecutor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What the RATING head costs over BINARY per training step, measured without the drift between processes: both
 * models live in one process and train on the same batches in alternating blocks of steps, the order flipped every
 * round (BINARY first, then RATING first, ...), so a slow stretch of the machine hits both alike. Prints each
 * head's milliseconds per step and the ratio of total times with a bootstrap 95% interval over rounds.
 */
@Command(name = "head-cost", mixinStandardHelpOptions = true,
    description = "RATING/BINARY time per training step, both heads in one process on interleaved blocks of steps.",
    footer = {"", "Example:",
        "  ctrlab-server head-cost --data-dir ../shared/data --dataset ml-1m --backbone WideDeep,DCNV2"})
public final class HeadCost implements Callable<Integer> {
  @Mixin
  RunOptions options = new RunOptions();

  @Option(names = "--rounds", description = "Rounds; each trains a block with each head (default: ${DEFAULT-VALUE}).")
  int rounds = 20;

  @Option(names = "--steps", description = "Training steps per block (default: ${DEFAULT-VALUE}).")
  int steps = 10;

  @Option(names = "--warmup", description = "Untimed steps per head first (default: ${DEFAULT-VALUE}).")
  int warmup = 5;

  @Option(names = "--profile", paramLabel = "STEPS",
      description = "After timing, trace this many steps per head (alternating) and print where RATING's op time "
          + "differs from BINARY's, by op type and by op name (gradient ops are numbered per graph, so their names "
          + "need not match across the heads) (default: 0, no tracing).")
  int profile = 0;

  /** One backbone's measurement: nanoseconds per block of each head, by round. */
  public record Result(String backbone, long[] binaryNanos, long[] ratingNanos, int stepsPerBlock, Profile profile) {
    public double msPerStep(long[] nanos) {
      return Arrays.stream(nanos).sum() / 1e6 / ((double) nanos.length * stepsPerBlock);
    }

    /** Total RATING time over total BINARY time. */
    public double ratio() {
      return ratio(ratingNanos, binaryNanos, null);
    }

    /** The 2.5th and 97.5th percentiles of the ratio over rounds resampled with replacement. */
    public double[] interval95() {
      SplittableRandom rng = new SplittableRandom(42);
      double[] r = new double[2000];
      int[] pick = new int[binaryNanos.length];
      for (int b = 0; b < r.length; b++) {
        for (int i = 0; i < pick.length; i++) {
          pick[i] = rng.nextInt(pick.length);
        }
        r[b] = ratio(ratingNanos, binaryNanos, pick);
      }
      Arrays.sort(r);
      return new double[] {r[(int) (0.025 * r.length)], r[(int) (0.975 * r.length) - 1]};
    }

    private static double ratio(long[] num, long[] den, int[] pick) {
      double n = 0;
      double d = 0;
      for (int i = 0; i < num.length; i++) {
        int k = pick == null ? i : pick[i];
        n += num[k];
        d += den[k];
      }
      return n / d;
    }
  }

  @Override
  public Integer call() {
    if (rounds < 1 || steps < 1 || warmup < 0 || profile < 0) {
      System.err.println("head-cost: --rounds and --steps must be at least 1, --warmup and --profile at least 0");
      return 2;
    }
    RunOptions.Loaded in = options.load();
    RunConfigs rc = in.configs();
    Dataset ds = in.dataset();
    System.out.printf(Locale.ROOT, "%d rounds of %d steps per head, %d warm-up steps%n", rounds, steps, warmup);
    System.out.printf(Locale.ROOT, "%-9s %12s %12s %8s %17s%n", "backbone", "BINARY ms", "RATING ms", "ratio",
        "95% interval");
    for (String bb : options.backbones) {
      Result r = measure(rc, ds, bb);
      double[] ci = r.interval95();
      System.out.printf(Locale.ROOT, "%-9s %12.2f %12.2f %8.3f    [%.3f, %.3f]%n", bb, r.msPerStep(r.binaryNanos()),
          r.msPerStep(r.ratingNanos()), r.ratio(), ci[0], ci[1]);
      if (r.profile() != null) {
        printProfile(r.profile());
      }
    }
    return 0;
  }

  /** Trains a BINARY and a RATING model of one backbone on interleaved blocks of the same batches. */
  public Result measure(RunConfigs rc, Dataset ds, String backbone) {
    ResolvedConfig cb = options.resolve(rc, ds.name, backbone, Head.BINARY, null, null);
    ResolvedConfig cr = options.resolve(rc, ds.name, backbone, Head.RATING, null, null);
    int[] order = DataSplit.of(ds.rows, cb.getSeed()).train;
    int batch = cb.getBatchSize();
    long[] binary = new long[rounds];
    long[] rating = new long[rounds];
    Profile prof = null;
    try (CtrModel mb = new CtrModel(RunExecutor.modelConfig(cb, options.threads), ds);
        CtrModel mr = new CtrModel(RunExecutor.modelConfig(cr, options.threads), ds);
        BatchFeeder feeder = new BatchFeeder(ds, batch)) {
      Blocks b = new Blocks(feeder, order, batch, (float) cb.getLearningRate());
      b.run(mb, 0, warmup);
      b.run(mr, 0, warmup);
      for (int i = 0; i < rounds; i++) {
        if (i % 2 == 0) {
          binary[i] = b.run(mb, i * steps, steps);
          rating[i] = b.run(mr, i * steps, steps);
        } else {
          rating[i] = b.run(mr, i * steps, steps);
          binary[i] = b.run(mb, i * steps, steps);
        }
      }
      if (profile > 0) {
        Map<String, Double> pb = new java.util.HashMap<>();
        Map<String, Double> pr = new java.util.HashMap<>();
        for (int i = 0; i < profile; i++) {
          int first = (rounds + i) * steps;
          b.trace(mb, first, pb);
          b.trace(mr, first, pr);
        }
        pb.replaceAll((k, v) -> v / profile);
        pr.replaceAll((k, v) -> v / profile);
        prof = new Profile(pb, pr);
      }
    }
    return new Result(backbone, binary, rating, steps, prof);
  }

  /** Mean traced milliseconds per op ("type name") of one step, for each head. */
  public record Profile(Map<String, Double> binary, Map<String, Double> rating) {
    /** RATING minus BINARY op time per key of keyOf (ops of one head only count against the other as 0). */
    public Map<String, double[]> diff(java.util.function.Function<String, String> keyOf) {
      Map<String, double[]> out = new java.util.HashMap<>();
      binary.forEach((k, v) -> out.computeIfAbsent(keyOf.apply(k), x -> new double[2])[0] += v);
      rating.forEach((k, v) -> out.computeIfAbsent(keyOf.apply(k), x -> new double[2])[1] += v);
      return out;
    }
  }

  private static void printProfile(Profile p) {
    double tb = p.binary().values().stream().mapToDouble(Double::doubleValue).sum();
    double tr = p.rating().values().stream().mapToDouble(Double::doubleValue).sum();
    System.out.printf(Locale.ROOT, "  traced op time per step (summed over threads): BINARY %.2f ms, RATING %.2f ms%n",
        tb, tr);
    printTop("op type", p.diff(k -> k.substring(0, k.indexOf(' '))));
    printTop("op", p.diff(k -> k));
  }

  private static void printTop(String what, Map<String, double[]> d) {
    System.out.printf(Locale.ROOT, "  largest RATING - BINARY differences by %s (ms): BINARY, RATING, difference%n",
        what);
    d.entrySet().stream()
        .sorted((a, b) -> Double.compare(Math.abs(b.getValue()[1] - b.getValue()[0]),
            Math.abs(a.getValue()[1] - a.getValue()[0])))
        .limit(15)
        .forEach(e -> System.out.printf(Locale.ROOT, "    %-60s %8.3f %8.3f %+8.3f%n", e.getKey(), e.getValue()[0],
            e.getValue()[1], e.getValue()[1] - e.getValue()[0]));
  }

  /** Trains a model on consecutive batches of the training split; only the steps are timed. */
  private static final class Blocks {
    private final BatchFeeder feeder;
    private final int[] order;
    private final int batch;
    private final int batches;
    private final float learningRate;
    private final float[] out = new float[CtrModel.STEP_OUTPUTS];
    private final Map<CtrModel, Integer> stepOf = new java.util.IdentityHashMap<>();

    Blocks(BatchFeeder feeder, int[] order, int batch, float learningRate) {
      this.feeder = feeder;
      this.order = order;
      this.batch = batch;
      this.batches = Math.max(1, order.length / batch);
      this.learningRate = learningRate;
    }

    /** One traced step on batch first, its per-op milliseconds added into sum. */
    void trace(CtrModel m, int first, Map<String, Double> sum) {
      int b = first % batches;
      feeder.fill(order, b * batch, Math.min(order.length, (b + 1) * batch));
      int step = stepOf.merge(m, 1, Integer::sum);
      m.profileStep(feeder, learningRate, step).forEach((k, v) -> sum.merge(k, v, Double::sum));
    }

    /** Nanoseconds in trainStep for batches first..first+n (the trainer fills batches on another thread). */
    long run(CtrModel m, int first, int n) {
      long t = 0;
      for (int k = 0; k < n; k++) {
        int b = (first + k) % batches;
        feeder.fill(order, b * batch, Math.min(order.length, (b + 1) * batch));
        int step = stepOf.merge(m, 1, Integer::sum);
        long t0 = System.nanoTime();
        m.trainStep(feeder, learningRate, step, out);
        t += System.nanoTime() - t0;
      }
      return t;
    }
  }
}
