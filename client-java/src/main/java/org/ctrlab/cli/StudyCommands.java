package org.ctrlab.cli;

import java.util.List;
import java.util.Locale;
import org.ctrlab.api.v1.GetStudyRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ListStudiesRequest;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.StudyComparison;
import org.ctrlab.api.v1.StudyRequest;
import org.ctrlab.api.v1.StudyRow;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ctrlab study}: grids of runs with aggregated results. */
@Command(name = "study", mixinStandardHelpOptions = true,
    description = "Run a grid (backbones x heads x lambda_r x seeds) as one study and aggregate it.",
    subcommands = {StudyCommands.Start.class, StudyCommands.Show.class, StudyCommands.ListAll.class},
    footer = {"", "Example:",
        "  ctrlab study start --name dcn-heads --dataset ml-1m --backbone DCNV2 --seeds 2020,2021,2022 --watch"})
final class StudyCommands {
  private StudyCommands() {}

  /** The options of a study grid; each run's other settings come from RunOptions-like flags. */
  @Command(name = "start", mixinStandardHelpOptions = true, description = "Queue a study.",
      footer = {"", "Example:", "  ctrlab study start --name lam --dataset synthetic --backbone DCNV2 "
          + "--head RATING --lambda 0.1,0.3,0.5,0.7,0.9 --seeds 1,2,3"})
  static final class Start extends Commands.Base {
    @Option(names = "--name", required = true)
    String name;

    @Option(names = "--backbone", split = ",", required = true, description = "Backbones, comma-separated.")
    List<String> backbones;

    @Option(names = "--head", split = ",", description = "Heads (default: BINARY,RATING).")
    List<Head> heads = List.of();

    @Option(names = {"--lambda", "--rating-weight"}, split = ",",
        description = "lambda_r values for RATING runs (default: the paper's per model, else 0.7).")
    List<Double> lambdas = List.of();

    @Option(names = "--seeds", split = ",", description = "Seeds (default: 2020).")
    List<Long> seeds = List.of();

    @Option(names = "--dataset", required = true)
    String dataset;

    @Option(names = "--epochs", description = "Upper bound on epochs (default: early stopping only).")
    Integer epochs;

    @Option(names = {"-w", "--watch"}, description = "Wait for every run, then print the aggregate.")
    boolean watch;

    @Option(names = "--dry-run", description = "Print how many runs it would queue and their time on this server,"
        + " per backbone, from the runs it has finished; queue nothing.")
    boolean dryRun;

    @Override
    Integer run() {
      var base = org.ctrlab.api.v1.TrainRequest.newBuilder();
      if (epochs != null) {
        base.setMaxEpochs(epochs);
      }
      Study s = root.blocking().startStudy(StudyRequest.newBuilder().setName(name).setDataset(dataset)
          .addAllBackbones(backbones).addAllHeads(heads).addAllRatingWeights(lambdas).addAllSeeds(seeds)
          .setBase(base).setDryRun(dryRun).build());
      if (dryRun) {
        if (root.json) {
          root.printJson(out(), s);
        } else {
          Estimates.print(root, out(), List.of(s));
        }
        return 0;
      }
      if (!watch) {
        if (root.json) {
          root.printJson(out(), s);
        } else {
          out().println(s.getStudyId() + "  (" + s.getRunIdsCount() + " runs queued)");
        }
        return 0;
      }
      for (String id : s.getRunIdsList()) {
        if (!root.json) {
          out().println("run " + id);
        }
        Commands.follow(root, id, out(), root.json);
      }
      return Show.print(root, out(), s.getStudyId());
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "A study's aggregate.",
      footer = {"", "Example:", "  ctrlab study show 5c1d2e3f4a5b"})
  static final class Show extends Commands.Base {
    @Parameters(paramLabel = "STUDY_ID")
    String id;

    @Override
    Integer run() {
      return print(root, out(), id);
    }

    static int print(Ctrlab root, java.io.PrintWriter out, String id) {
      Study s = root.blocking().getStudy(GetStudyRequest.newBuilder().setStudyId(id).build());
      if (root.json) {
        root.printJson(out, s);
        return 0;
      }
      out.printf("study %s \"%s\" on %s: %d runs%s%n", s.getStudyId(), Safe.text(s.getName()),
          s.getRequest().getDataset(),
          s.getRunIdsCount(), s.getFinished() ? "" : " (some still running)");
      Table t = new Table("backbone", "head", "lambda_r", "runs", "done", "test AUC", "+-", "LogLoss", "+-",
          "s/epoch", "epochs");
      for (StudyRow r : s.getRowsList()) {
        t.row(r.getBackbone(), r.getHead(), r.getHead() == Head.RATING ? String.valueOf(r.getRatingWeight()) : "-",
            r.getRuns(), r.getFinished(), Commands.fmt(r.getAucMean()), Commands.fmt(r.getAucStd()),
            Commands.fmt(r.getLoglossMean()), Commands.fmt(r.getLoglossStd()),
            String.format(Locale.ROOT, "%.2f", r.getSecondsPerEpoch()),
            String.format(Locale.ROOT, "%.1f", r.getEpochsMean()));
      }
      t.print(out);
      if (s.getComparisonsCount() > 0) {
        out.println();
        Table c = new Table("backbone", "lambda_r", "pairs", "RATING - BINARY AUC", "95% interval");
        for (StudyComparison x : s.getComparisonsList()) {
          c.row(x.getBackbone(), String.valueOf(x.getRatingWeight()), x.getPairs(),
              String.format(Locale.ROOT, "%+.4f", x.getDeltaAucMean()), Double.isNaN(x.getCi95Low()) ? "-"
                  : String.format(Locale.ROOT, "[%+.4f, %+.4f]", x.getCi95Low(), x.getCi95High()));
        }
        c.print(out);
      }
      return 0;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "Studies, newest first.",
      footer = {"", "Example:", "  ctrlab study list"})
  static final class ListAll extends Commands.Base {
    @Override
    Integer run() {
      var r = root.blocking().listStudies(ListStudiesRequest.getDefaultInstance());
      if (root.json) {
        root.printJson(out(), r);
        return 0;
      }
      Table t = new Table("study", "name", "dataset", "runs", "owner");
      for (Study s : r.getStudiesList()) {
        t.row(s.getStudyId(), s.getName(), s.getRequest().getDataset(), s.getRunIdsCount(), s.getOwner());
      }
      t.print(out());
      return 0;
    }
  }
}
