package org.ctrlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.GetStudyRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.InspectRequest;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.Metrics;
import org.ctrlab.api.v1.NormSummary;
import org.ctrlab.api.v1.PerturbRequest;
import org.ctrlab.api.v1.PerturbResult;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.StudyRequest;
import org.ctrlab.api.v1.StudyRow;
import org.ctrlab.api.v1.TrainRequest;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ctrlab reproduce}: reruns the paper's evidence on a server and writes a report folder. The server does the
 * training and the experiments; this command queues them as studies, waits, collects and writes Markdown, CSV and
 * PNG. Every run early-stops (no fixed epoch budget): --quick uses fewer backbones and seeds, never fewer epochs.
 * The grid and the paper's numbers come from configs/reproduce.yaml; the studies it starts are recorded in the report
 * folder, so that if this command dies while it waits, {@code --resume DIR} rebuilds the report from them.
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
    description = "Reproduce the paper's tables and figures on the server and write a report folder.",
    footer = {"", "Examples:", "  ctrlab reproduce --dataset ml-1m --quick        # WideDeep, one seed",
        "  ctrlab reproduce --dataset ml-1m --out report-ml1m   # all seven backbones, seeds 2020-2024",
        "  ctrlab reproduce --resume report-ml1m                # the report again, from the same studies"})
final class Reproduce extends Commands.Base {
  @Option(names = "--dataset", description = "Dataset (default: ${DEFAULT-VALUE}).")
  String dataset = "ml-1m";

  @Option(names = "--out", description = "Report folder (default: reproduce-DATASET).")
  Path out;

  @Option(names = "--config", description = "The reproduction plan and the paper's numbers (default: the packaged"
      + " configs/reproduce.yaml).")
  Path config;

  @Option(names = "--quick", description = "The config's quick grid: WideDeep, one seed, lambda_r 0.1/0.5/0.9 (about"
      + " 30 min on 2 cores).")
  boolean quick;

  @Option(names = "--resume", paramLabel = "DIR", description = "Rebuild the report in DIR from the studies the"
      + " reproduction that wrote it started (waiting for runs still going; nothing is trained again).")
  Path resume;

  @Option(names = "--studies", split = ",", paramLabel = "MAIN,LAMBDA",
      description = "Build the report from these two studies (the grid, and the lambda_r sweep) instead of starting"
          + " new ones.")
  List<String> studies;

  @Option(names = "--backbones", split = ",", description = "Backbones of Tables 1-3 (default: the config's).")
  List<String> backbones;

  @Option(names = "--seeds", split = ",", description = "Seeds (default: the config's, 2020-2024; --quick: 2020).")
  List<Long> seeds;

  @Option(names = "--sigmas", split = ",", description = "Noise levels of Figure 3 (default: the config's).")
  List<Double> sigmas;

  @Option(names = "--lambdas", split = ",", description = "lambda_r values of Figure 4 (default: the config's).")
  List<Double> lambdas;

  @Option(names = "--dry-run", description = "Print how many runs it would queue and their time on this server, per"
      + " backbone, from the runs it has finished; queue nothing.")
  boolean dryRun;

  @Option(names = "--max-epochs", hidden = true, description = "Upper bound on epochs (tests only).")
  Integer maxEpochs;

  private ReproducePlan.Config cfg;

  private Study study(String id) {
    return root.blocking().getStudy(GetStudyRequest.newBuilder().setStudyId(id).build());
  }

  /** What every run of the reproduction is trained with beyond its study's grid. */
  private static TrainRequest.Builder base(Integer maxEpochs) {
    TrainRequest.Builder base = TrainRequest.newBuilder().addTags("reproduce");
    if (maxEpochs != null) {
      base.setMaxEpochs(maxEpochs);
    }
    return base;
  }

  private Study startLambdaStudy(ReproducePlan plan) {
    return root.blocking().startStudy(lambdaStudy(plan).build());
  }

  private static StudyRequest.Builder lambdaStudy(ReproducePlan plan) {
    return StudyRequest.newBuilder().setName("reproduce " + plan.dataset() + " lambda").setDataset(plan.dataset())
        .addAllBackbones(plan.figure3()).addHeads(Head.RATING).addAllRatingWeights(plan.lambdas())
        .addAllSeeds(plan.seeds()).setBase(base(plan.maxEpochs()));
  }

  private static StudyRequest.Builder mainStudy(ReproducePlan plan) {
    return StudyRequest.newBuilder().setName("reproduce " + plan.dataset()).setDataset(plan.dataset())
        .addAllBackbones(plan.backbones()).addAllSeeds(plan.seeds()).setBase(base(plan.maxEpochs()));
  }

  @Override
  Integer run() throws Exception {
    PrintWriter o = out();
    long t0 = System.nanoTime();
    ReproducePlan plan;
    Study main;
    Study lambdaStudy;
    Path dir;
    if (resume != null) {
      ReproducePlan.Resumed r;
      try {
        r = ReproducePlan.load(resume);
      } catch (java.io.IOException e) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      cfg = ReproducePlan.Config.forResume(config, resume);
      if (!r.server().isEmpty() && !r.server().equals(root.server)) {
        o.printf("note: this reproduction was started against %s; asking %s (--server %s asks that one)%n",
            r.server(), root.server, r.server());
      }
      plan = r.plan();
      dir = resume;
      main = study(r.mainStudy());
      if (r.lambdaStudy().isEmpty()) {
        // The command that started it stopped between its two studies: start the second now, as it would have.
        lambdaStudy = startLambdaStudy(plan);
        plan.save(dir, main.getStudyId(), lambdaStudy.getStudyId(), root.server, cfg);
        o.printf("queued the lambda_r study %s (%d runs), which the first command had not started%n",
            lambdaStudy.getStudyId(), lambdaStudy.getRunIdsCount());
      } else {
        lambdaStudy = study(r.lambdaStudy());
      }
      o.printf("rebuilding the report of studies %s and %s in %s%n", main.getStudyId(), lambdaStudy.getStudyId(),
          dir);
    } else if (studies != null) {
      cfg = ReproducePlan.Config.load(config);
      if (studies.size() != 2) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--studies takes MAIN,LAMBDA");
      }
      main = study(studies.get(0));
      lambdaStudy = study(studies.get(1));
      plan = ReproducePlan.ofStudies(cfg, main, lambdaStudy);
      dir = out != null ? out : Path.of("reproduce-" + plan.dataset());
    } else {
      cfg = ReproducePlan.Config.load(config);
      plan = ReproducePlan.of(cfg, dataset, quick, backbones, seeds, lambdas, sigmas, maxEpochs);
      if (dryRun) {
        Estimates.print(root, o, List.of(root.blocking().startStudy(mainStudy(plan).setDryRun(true).build()),
            root.blocking().startStudy(lambdaStudy(plan).setDryRun(true).build())));
        return 0;
      }
      dir = out != null ? out : Path.of("reproduce-" + dataset);
      Files.createDirectories(dir);
      main = root.blocking().startStudy(mainStudy(plan).build());
      plan.save(dir, main.getStudyId(), "", root.server, cfg); // recorded at once: a resume finds it
      lambdaStudy = startLambdaStudy(plan);
      plan.save(dir, main.getStudyId(), lambdaStudy.getStudyId(), root.server, cfg);
      o.printf("queued study %s (%d runs) and %s (%d runs), recorded in %s; waiting (if this stops, 'ctrlab reproduce"
          + " --resume %s' goes on)...%n", main.getStudyId(), main.getRunIdsCount(), lambdaStudy.getStudyId(),
          lambdaStudy.getRunIdsCount(), dir.resolve(ReproducePlan.RECORD), dir);
    }
    Files.createDirectories(dir);
    o.flush();
    List<Run> mainRuns = waitAll(main.getRunIdsList(), o);
    List<Run> lamRuns = waitAll(lambdaStudy.getRunIdsList(), o);
    Study agg = study(main.getStudyId());
    Study lagg = study(lambdaStudy.getStudyId());
    dataset = plan.dataset();
    List<String> bbs = plan.backbones();

    StringBuilder md = new StringBuilder();
    md.append("# Reproduction report: ").append(dataset).append("\n\n");
    md.append(String.format(Locale.ROOT, "Produced by `ctrlab reproduce --dataset %s%s%s` against %s; backbones %s, "
        + "seeds %s, %s. Studies %s and %s (`ctrlab reproduce --resume %s` rebuilds this report from them). "
        + "This build took %.0f min.%n%n",
        dataset, plan.quick() ? " --quick" : "", plan.maxEpochs() == null ? "" : " --max-epochs " + plan.maxEpochs(),
        root.server, bbs, plan.seeds(), plan.maxEpochs() == null ? "every run early-stopped on validation AUC"
            : "runs capped at " + plan.maxEpochs() + " epochs (a smoke test, not a reproduction)",
        main.getStudyId(), lambdaStudy.getStudyId(), dir, (System.nanoTime() - t0) / 6e10));
    table1(md, agg, bbs);
    table2(md, mainRuns, bbs, dir);
    table3(md, agg, mainRuns, bbs);
    figure2(md, mainRuns, plan.figure2(), dir);
    figure3(md, mainRuns, plan.figure3(), plan.sigmas(), dir);
    figure4(md, agg, lagg, plan.figure3(), plan.lambdas(), dir);
    Files.writeString(dir.resolve("README.md"), md.toString());
    o.println("wrote " + dir.resolve("README.md"));
    return 0;
  }

  /**
   * Waits for each run to end. A server that is restarting or unreachable is waited for (the runs go on, or resume,
   * without this command), saying so once.
   */
  private List<Run> waitAll(List<String> ids, PrintWriter o) throws InterruptedException {
    List<Run> out = new ArrayList<>();
    for (String id : ids) {
      Run r;
      boolean told = false;
      while (true) {
        try {
          r = root.blocking().withWaitForReady().withDeadlineAfter(60, java.util.concurrent.TimeUnit.SECONDS)
              .getRun(GetRunRequest.newBuilder().setRunId(id).build());
        } catch (io.grpc.StatusRuntimeException e) {
          var code = e.getStatus().getCode();
          if (code != io.grpc.Status.Code.UNAVAILABLE && code != io.grpc.Status.Code.DEADLINE_EXCEEDED) {
            throw e;
          }
          if (!told) {
            o.printf("  the server is unavailable (%s); waiting for it%n", code);
            o.flush();
            told = true;
          }
          Thread.sleep(5000);
          continue;
        }
        if (r.getState() == RunState.SUCCEEDED || r.getState() == RunState.FAILED
            || r.getState() == RunState.CANCELLED) {
          break;
        }
        Thread.sleep(2000);
      }
      out.add(r);
      o.printf(Locale.ROOT, "  %s %s/%s seed %d: %s%s%n", id, r.getResolved().getBackbone(),
          r.getResolved().getHead(), r.getResolved().getSeed(), r.getState(), r.getState() == RunState.SUCCEEDED
              ? String.format(Locale.ROOT, " test AUC %.4f", r.getTest().getAuc()) : " " + Safe.text(r.getMessage()));
      o.flush();
    }
    return out;
  }

  private static String pm(double mean, double std, double scale) {
    return String.format(Locale.ROOT, "%.2f ± %.2f", mean * scale, std * scale);
  }

  private static StudyRow row(Study s, String bb, Head h) {
    return s.getRowsList().stream().filter(r -> r.getBackbone().equals(bb) && r.getHead() == h).findFirst()
        .orElse(null);
  }

  private void table1(StringBuilder md, Study agg, List<String> bbs) {
    md.append("## Table 1: test AUC and LogLoss (×100), mean ± std over seeds\n\n");
    md.append("| backbone | AUC Original | AUC Smooth (λr) | Δ% | LogLoss Original | LogLoss Smooth | paper AUC "
        + "Original → Smooth |\n|---|---|---|---|---|---|---|\n");
    for (String bb : bbs) {
      StudyRow b = row(agg, bb, Head.BINARY);
      StudyRow r = row(agg, bb, Head.RATING);
      if (b == null || r == null) {
        continue;
      }
      double[] p = cfg.paper(dataset, bb);
      md.append(String.format(Locale.ROOT, "| %s | %s | %s (%.1f) | %+.2f | %s | %s | %s |%n", bb,
          pm(b.getAucMean(), b.getAucStd(), 100), pm(r.getAucMean(), r.getAucStd(), 100), r.getRatingWeight(),
          100 * (r.getAucMean() - b.getAucMean()) / b.getAucMean(), pm(b.getLoglossMean(), b.getLoglossStd(), 100),
          pm(r.getLoglossMean(), r.getLoglossStd(), 100),
          p == null ? "-" : String.format(Locale.ROOT, "%.2f → %.2f", p[0], p[1])));
    }
    md.append("\n");
    if (!agg.getComparisonsList().isEmpty()) {
      md.append("Paired RATING − BINARY test AUC (same seed), 95% interval:\n\n| backbone | λr | pairs | ΔAUC | "
          + "interval |\n|---|---|---|---|---|\n");
      agg.getComparisonsList().forEach(c -> md.append(String.format(Locale.ROOT, "| %s | %.1f | %d | %+.4f | %s |%n",
          c.getBackbone(), c.getRatingWeight(), c.getPairs(), c.getDeltaAucMean(), Double.isNaN(c.getCi95Low())
              ? "-" : String.format(Locale.ROOT, "[%+.4f, %+.4f]", c.getCi95Low(), c.getCi95High()))));
      md.append("\n");
    }
  }

  private void table2(StringBuilder md, List<Run> runs, List<String> bbs, Path dir) throws IOException {
    md.append("## Table 2: ranking, 100 sampled negatives per test positive (×100, mean over seeds)\n\n");
    md.append("| backbone | head | NDCG@10 | NDCG@20 | Recall@10 | Recall@20 |\n|---|---|---|---|---|---|\n");
    StringBuilder csv = new StringBuilder("backbone,head,seed,ndcg@10,ndcg@20,recall@10,recall@20\n");
    for (String bb : bbs) {
      for (Head h : List.of(Head.BINARY, Head.RATING)) {
        double[] sum = new double[4];
        int n = 0;
        for (Run r : runs) {
          if (!r.getResolved().getBackbone().equals(bb) || r.getResolved().getHead() != h
              || r.getState() != RunState.SUCCEEDED) {
            continue;
          }
          Metrics m = root.blocking().evaluate(EvaluateRequest.newBuilder().setRunId(r.getRunId()).addRankingK(10)
              .addRankingK(20).build()).getMetrics();
          double[] v = {m.getRankingOrThrow("ndcg@10"), m.getRankingOrThrow("ndcg@20"),
              m.getRankingOrThrow("recall@10"), m.getRankingOrThrow("recall@20")};
          csv.append(String.format(Locale.ROOT, "%s,%s,%d,%.6f,%.6f,%.6f,%.6f%n", bb, h, r.getResolved().getSeed(),
              v[0], v[1], v[2], v[3]));
          for (int i = 0; i < 4; i++) {
            sum[i] += v[i];
          }
          n++;
        }
        if (n > 0) {
          md.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.2f | %.2f | %.2f |%n", bb, h, 100 * sum[0] / n,
              100 * sum[1] / n, 100 * sum[2] / n, 100 * sum[3] / n));
        }
      }
    }
    Files.writeString(dir.resolve("table2_ranking.csv"), csv);
    md.append("\n");
  }

  private void table3(StringBuilder md, Study agg, List<Run> runs, List<String> bbs) {
    md.append("## Table 3: time (seconds, mean over seeds, on ").append(runs.isEmpty() ? "?" : runs.get(0)
        .getDevice()).append(")\n\n| backbone | head | per epoch | whole training | one evaluation | epochs |\n"
        + "|---|---|---|---|---|---|\n");
    for (String bb : bbs) {
      for (Head h : List.of(Head.BINARY, Head.RATING)) {
        List<Run> rs = runs.stream().filter(r -> r.getResolved().getBackbone().equals(bb)
            && r.getResolved().getHead() == h && r.getState() == RunState.SUCCEEDED).toList();
        if (rs.isEmpty()) {
          continue;
        }
        double epoch = rs.stream().mapToDouble(Run::getSecondsPerEpoch).average().orElse(0);
        double total = rs.stream().mapToDouble(Run::getTotalSeconds).average().orElse(0);
        double eval = rs.stream().flatMap(r -> r.getEpochsList().stream()).mapToDouble(e -> e.getEvalSeconds())
            .average().orElse(0);
        double epochs = rs.stream().mapToInt(Run::getEpochsCount).average().orElse(0);
        md.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.0f | %.2f | %.1f |%n", bb, h, epoch, total, eval,
            epochs));
      }
    }
    md.append("\n");
  }

  private void figure2(StringBuilder md, List<Run> runs, List<String> bbs, Path dir) throws IOException {
    md.append("## Figure 2: gradient norms during training, weight norms after\n\n");
    StringBuilder csv = new StringBuilder("backbone,head,seed,epoch,group,grad_mean,grad_max\n");
    List<Chart<?, ?>> charts = new ArrayList<>();
    CategoryChart weights = new CategoryChartBuilder().width(520).height(360).title("weight norms (best checkpoint)")
        .xAxisTitle("backbone").yAxisTitle("L2 norm, user/item rows").build();
    Map<Head, List<Double>> wv = new LinkedHashMap<>();
    for (String bb : bbs) {
      XYChart c = new XYChartBuilder().width(520).height(360).title(bb + ": user/item embedding gradient")
          .xAxisTitle("epoch").yAxisTitle("mean L2 norm per step").build();
      for (Head h : List.of(Head.BINARY, Head.RATING)) {
        Run r = runs.stream().filter(x -> x.getResolved().getBackbone().equals(bb) && x.getResolved().getHead() == h
            && x.getState() == RunState.SUCCEEDED).findFirst().orElse(null);
        if (r == null) {
          continue;
        }
        InspectResponse in = root.blocking().inspect(InspectRequest.newBuilder().setRunId(r.getRunId()).build());
        List<Double> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (var e : in.getEpochsList()) {
          for (NormSummary g : e.getGradientList()) {
            csv.append(String.format(Locale.ROOT, "%s,%s,%d,%d,%s,%.6g,%.6g%n", bb, h, r.getResolved().getSeed(),
                e.getEpoch(), g.getGroup(), g.getMean(), g.getMax()));
            if (g.getGroup().equals("user_item")) {
              xs.add((double) e.getEpoch());
              ys.add(g.getMean());
            }
          }
        }
        if (!xs.isEmpty()) {
          c.addSeries(h.name(), xs, ys);
        }
        wv.computeIfAbsent(h, k -> new ArrayList<>()).add(in.getWeightNormsOrDefault("user_item", 0));
      }
      charts.add(c);
    }
    for (Map.Entry<Head, List<Double>> e : wv.entrySet()) {
      if (e.getValue().size() == bbs.size()) {
        weights.addSeries(e.getKey().name(), bbs, e.getValue());
      }
    }
    charts.add(weights);
    Files.writeString(dir.resolve("figure2_norms.csv"), csv);
    save(charts, dir.resolve("figure2_norms"));
    md.append("![Figure 2](figure2_norms.png)\n\nData: `figure2_norms.csv` (first seed's runs).\n\n");
  }

  private void figure3(StringBuilder md, List<Run> runs, List<String> bbs, List<Double> sg, Path dir)
      throws IOException {
    md.append("## Figure 3: test AUC and LogLoss under Gaussian noise on the field embeddings\n\n");
    StringBuilder csv = new StringBuilder("backbone,head,seed,sigma,auc,logloss\n");
    List<Chart<?, ?>> charts = new ArrayList<>();
    md.append("| backbone | head |");
    sg.forEach(s -> md.append(" σ=").append(s).append(" |"));
    md.append("\n|---|---|").append("---|".repeat(sg.size())).append("\n");
    for (String bb : bbs) {
      XYChart auc = new XYChartBuilder().width(520).height(360).title(bb + ": test AUC").xAxisTitle("sigma")
          .yAxisTitle("AUC").build();
      XYChart ll = new XYChartBuilder().width(520).height(360).title(bb + ": test LogLoss").xAxisTitle("sigma")
          .yAxisTitle("LogLoss").build();
      for (Head h : List.of(Head.BINARY, Head.RATING)) {
        double[] a = new double[sg.size()];
        double[] l = new double[sg.size()];
        int n = 0;
        for (Run r : runs) {
          if (!r.getResolved().getBackbone().equals(bb) || r.getResolved().getHead() != h
              || r.getState() != RunState.SUCCEEDED) {
            continue;
          }
          List<PerturbResult> res = root.blocking().perturb(PerturbRequest.newBuilder().setRunId(r.getRunId())
              .addAllSigmas(sg).setNoiseSeed(r.getResolved().getSeed()).build()).getResultsList();
          for (int i = 0; i < res.size(); i++) {
            a[i] += res.get(i).getMetrics().getAuc();
            l[i] += res.get(i).getMetrics().getLogloss();
            csv.append(String.format(Locale.ROOT, "%s,%s,%d,%s,%.6f,%.6f%n", bb, h, r.getResolved().getSeed(),
                sg.get(i), res.get(i).getMetrics().getAuc(), res.get(i).getMetrics().getLogloss()));
          }
          n++;
        }
        if (n == 0) {
          continue;
        }
        List<Double> am = new ArrayList<>();
        List<Double> lm = new ArrayList<>();
        md.append("| ").append(bb).append(" | ").append(h).append(" |");
        for (int i = 0; i < sg.size(); i++) {
          am.add(a[i] / n);
          lm.add(l[i] / n);
          md.append(String.format(Locale.ROOT, " %.4f / %.4f |", a[i] / n, l[i] / n));
        }
        md.append("\n");
        auc.addSeries(h.name(), sg, am);
        ll.addSeries(h.name(), sg, lm);
      }
      charts.add(auc);
      charts.add(ll);
    }
    Files.writeString(dir.resolve("figure3_perturbation.csv"), csv);
    save(charts, dir.resolve("figure3_perturbation"));
    md.append("\nCells are AUC / LogLoss, mean over seeds; the noise seed is the run's seed, so both heads see the "
        + "same noise.\n\n![Figure 3](figure3_perturbation.png)\n\n");
  }

  private void figure4(StringBuilder md, Study agg, Study lagg, List<String> bbs, List<Double> lams, Path dir)
      throws IOException {
    md.append("## Figure 4: test AUC against λr (RATING head), BINARY as reference\n\n| backbone | BINARY |");
    lams.forEach(l -> md.append(" λr=").append(l).append(" |"));
    md.append("\n|---|---|").append("---|".repeat(lams.size())).append("\n");
    StringBuilder csv = new StringBuilder("backbone,rating_weight,auc_mean,auc_std\n");
    List<Chart<?, ?>> charts = new ArrayList<>();
    for (String bb : bbs) {
      StudyRow b = row(agg, bb, Head.BINARY);
      XYChart c = new XYChartBuilder().width(520).height(360).title(bb + ": test AUC vs lambda_r")
          .xAxisTitle("lambda_r").yAxisTitle("AUC").build();
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      md.append("| ").append(bb).append(" | ").append(b == null ? "-" : String.format(Locale.ROOT, "%.4f",
          b.getAucMean())).append(" |");
      for (double l : lams) {
        StudyRow r = lagg.getRowsList().stream().filter(x -> x.getBackbone().equals(bb)
            && Math.abs(x.getRatingWeight() - l) < 1e-9).findFirst().orElse(null);
        md.append(r == null || r.getFinished() == 0 ? " - |" : String.format(Locale.ROOT, " %.4f |", r.getAucMean()));
        if (r != null && r.getFinished() > 0) {
          xs.add(l);
          ys.add(r.getAucMean());
          csv.append(String.format(Locale.ROOT, "%s,%s,%.6f,%.6f%n", bb, l, r.getAucMean(), r.getAucStd()));
        }
      }
      md.append("\n");
      if (!xs.isEmpty()) {
        c.addSeries("RATING", xs, ys);
        if (b != null) {
          c.addSeries("BINARY", List.of(xs.get(0), xs.get(xs.size() - 1)), List.of(b.getAucMean(), b.getAucMean()));
        }
      }
      charts.add(c);
    }
    Files.writeString(dir.resolve("figure4_lambda.csv"), csv);
    save(charts, dir.resolve("figure4_lambda"));
    md.append("\n![Figure 4](figure4_lambda.png)\n");
  }

  private static void save(List<Chart<?, ?>> charts, Path file) throws IOException {
    List<Chart<?, ?>> drawable = charts.stream().filter(c -> !c.getSeriesMap().isEmpty()).toList();
    if (drawable.isEmpty()) {
      return;
    }
    int cols = Math.min(2, drawable.size());
    int rows = (drawable.size() + cols - 1) / cols;
    BitmapEncoder.saveBitmap(drawable, rows, cols, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}
