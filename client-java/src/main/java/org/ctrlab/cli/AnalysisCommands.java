package org.ctrlab.cli;

import static org.ctrlab.cli.Commands.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ctrlab.api.v1.EpochNorms;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.EvaluateResponse;
import org.ctrlab.api.v1.InspectRequest;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.NormSummary;
import org.ctrlab.api.v1.Split;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** A finished run's analysis: {@code ctrlab evaluate, perturb, inspect}. */
final class AnalysisCommands {
  private AnalysisCommands() {}

  @Command(name = "evaluate", mixinStandardHelpOptions = true,
      description = "AUC and LogLoss of a finished run's best checkpoint.",
      footer = {"", "Example:", "  ctrlab evaluate 3f2a9c81d0e4 --split VALID"})
  static final class Evaluate extends Base {
    @Parameters(paramLabel = "RUN_ID", arity = "1..*")
    List<String> runIds;

    @Option(names = "--split", description = "TRAIN, VALID or TEST (default: ${DEFAULT-VALUE}).")
    Split split = Split.TEST;

    @Option(names = "--ranking-k", split = ",", description = "Also NDCG@K and Recall@K for these K, e.g. 10,20.")
    List<Integer> ks = List.of();

    @Override
    Integer run() {
      List<String> header = new ArrayList<>(List.of("run", "split", "AUC", "LogLoss", "rows"));
      for (int k : ks) {
        header.add("NDCG@" + k);
        header.add("Recall@" + k);
      }
      Table t = new Table(header.toArray(new String[0]));
      List<EvaluateResponse> all = new ArrayList<>();
      for (String id : runIds) {
        EvaluateResponse r = root.blocking().evaluate(EvaluateRequest.newBuilder().setRunId(id).setSplit(split)
            .addAllRankingK(ks).build());
        all.add(r);
        List<Object> row = new ArrayList<>(List.of(id, split, fmt(r.getMetrics().getAuc()),
            fmt(r.getMetrics().getLogloss()), String.format(Locale.ROOT, "%,d", r.getMetrics().getRows())));
        for (int k : ks) {
          row.add(fmt(r.getMetrics().getRankingOrDefault("ndcg@" + k, Double.NaN)));
          row.add(fmt(r.getMetrics().getRankingOrDefault("recall@" + k, Double.NaN)));
        }
        t.row(row.toArray());
      }
      if (root.json) {
        all.forEach(r -> root.printJson(out(), r));
      } else {
        t.print(out());
      }
      return 0;
    }
  }

  @Command(name = "perturb", mixinStandardHelpOptions = true,
      description = "Test AUC and LogLoss of finished runs under Gaussian noise on the embeddings, per sigma.",
      footer = {"", "Example:", "  ctrlab perturb RUN_BINARY RUN_RATING --sigmas 0,0.01,0.03,0.05,0.07,0.09"})
  static final class Perturb extends Base {
    @Parameters(paramLabel = "RUN_ID", arity = "1..*")
    List<String> runIds;

    @Option(names = "--sigmas", split = ",", required = true, description = "Noise levels, e.g. 0,0.01,0.05.")
    List<Double> sigmas;

    @Option(names = "--noise-seed", description = "Seed of the noise (default: ${DEFAULT-VALUE}).")
    long seed = 2020;

    @Option(names = "--mode", description = "INPUT (fresh noise on every batch's embeddings, default) or TABLES.")
    org.ctrlab.api.v1.PerturbMode mode = org.ctrlab.api.v1.PerturbMode.INPUT;

    @Override
    Integer run() {
      Table t = new Table("run", "sigma", "AUC", "LogLoss");
      for (String id : runIds) {
        var r = root.blocking().perturb(org.ctrlab.api.v1.PerturbRequest.newBuilder().setRunId(id)
            .addAllSigmas(sigmas).setNoiseSeed(seed).setMode(mode).build());
        if (root.json) {
          root.printJson(out(), r);
          continue;
        }
        for (var row : r.getResultsList()) {
          t.row(id, String.valueOf(row.getSigma()), fmt(row.getMetrics().getAuc()),
              fmt(row.getMetrics().getLogloss()));
        }
      }
      if (!root.json) {
        t.print(out());
      }
      return 0;
    }
  }

  @Command(name = "inspect", mixinStandardHelpOptions = true,
      description = "Gradient norms per epoch and weight norms of a finished run.",
      footer = {"", "Example:", "  ctrlab inspect 3f2a9c81d0e4"})
  static final class Inspect extends Base {
    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Option(names = "--per-step", description = "Include every training step's norms (JSON output).")
    boolean perStep;

    @Option(names = "--lipschitz", description = "Also estimate ||dp/dE|| on test rows (mean, median, p95, max).")
    boolean lipschitz;

    @Override
    Integer run() {
      InspectResponse r = root.blocking().inspect(InspectRequest.newBuilder().setRunId(runId).setPerStep(perStep)
          .setLipschitz(lipschitz).build());
      if (root.json) {
        root.printJson(out(), r);
        return 0;
      }
      Table t = new Table("epoch", "grad embedding mean", "max", "grad user_item mean", "max", "grad other mean",
          "max");
      for (EpochNorms e : r.getEpochsList()) {
        List<Object> row = new ArrayList<>();
        row.add(e.getEpoch());
        for (NormSummary s : e.getGradientList()) {
          row.add(fmt(s.getMean()));
          row.add(fmt(s.getMax()));
        }
        t.row(row.toArray());
      }
      t.print(out());
      out().println();
      r.getWeightNormsMap().forEach((g, v) -> out().printf(Locale.ROOT, "weight norm %-10s %.4f%n", g, v));
      if (r.hasLipschitz()) {
        var l = r.getLipschitz();
        out().printf(Locale.ROOT, "||dp/dE|| over %d test rows: mean %.5f  median %.5f  p95 %.5f  max %.5f%n",
            l.getRows(), l.getMean(), l.getMedian(), l.getP95(), l.getMax());
      }
      return 0;
    }
  }
}
