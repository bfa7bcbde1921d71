package org.ctrlab.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.BackboneInfo;
import org.ctrlab.api.v1.CancelRunRequest;
import org.ctrlab.api.v1.CancelRunsRequest;
import org.ctrlab.api.v1.CancelRunsResponse;
import org.ctrlab.api.v1.DatasetInfo;
import org.ctrlab.api.v1.DeleteRunRequest;
import org.ctrlab.api.v1.DeleteRunResponse;
import org.ctrlab.api.v1.EpochNorms;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.EvaluateResponse;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.InspectRequest;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.ListBackbonesRequest;
import org.ctrlab.api.v1.ListBackbonesResponse;
import org.ctrlab.api.v1.ListDatasetsRequest;
import org.ctrlab.api.v1.ListDatasetsResponse;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.ListRunsResponse;
import org.ctrlab.api.v1.NormSummary;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamSpec;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.ServerInfo;
import org.ctrlab.api.v1.ServerInfoRequest;
import org.ctrlab.api.v1.Split;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.TrainResponse;
import org.ctrlab.api.v1.WatchRunRequest;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** The subcommands of {@code ctrlab}. */
final class Commands {
  private Commands() {}

  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneId.systemDefault());

  /** Shared plumbing: the root command (server, token, --json) and the output stream. */
  abstract static class Base implements Callable<Integer> {
    Ctrlab root;

    @Spec
    CommandSpec spec;

    /** Finds the top-level command (server, token, --json), however deep this subcommand is, then runs. */
    @Override
    public final Integer call() throws Exception {
      CommandSpec top = spec;
      while (top.parent() != null) {
        top = top.parent();
      }
      root = (Ctrlab) top.userObject();
      return run();
    }

    abstract Integer run() throws Exception;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    PrintWriter err() {
      return spec.commandLine().getErr();
    }
  }

  /** The options that describe a training run. */
  static final class RunOptions {
    @Option(names = "--dataset", required = true, description = "Dataset name (see 'ctrlab datasets').")
    String dataset;

    @Option(names = "--backbone", required = true, description = "Backbone name (see 'ctrlab backbones').")
    String backbone;

    @Option(names = "--aggregation", description = "RATING head: LOGIT_SUM (default) or PROB_SUM.")
    Aggregation aggregation;

    @Option(names = {"--rating-weight", "--lambda"}, description = "lambda_r in [0, 1] (default 0.7).")
    Double ratingWeight;

    @Option(names = "--set", description = "Backbone hyperparameter NAME=VALUE, lists as 256,256,256 (repeatable).")
    Map<String, String> hyper = Map.of();

    @Option(names = "--lr", description = "Learning rate.")
    Double learningRate;

    @Option(names = "--weight-decay", description = "AdamW decoupled weight decay.")
    Double weightDecay;

    @Option(names = "--batch-size", description = "Training batch size.")
    Integer batchSize;

    @Option(names = "--epochs", description = "Upper bound on epochs.")
    Integer epochs;

    @Option(names = "--patience", description = "Early-stopping patience.")
    Integer patience;

    @Option(names = "--max-hours", description = "End the run as FAILED this long after it first starts (default and"
        + " upper bound: the server's --max-run-hours).")
    Double maxHours;

    @Option(names = "--seed", description = "Seed of the split, initialisation and shuffling.")
    Long seed;

    @Option(names = "--bf16", description = "Train in bfloat16 with float32 master weights, where the server's"
        + " hardware has it ('ctrlab info' says; docs/results.md gives its speed and AUC).")
    boolean bf16;

    @Option(names = "--embedding-size", description = "Embedding size d.")
    Integer embeddingSize;

    @Option(names = "--name", description = "A name shown in listings.")
    String name;

    @Option(names = "--tag", description = "A label for filtering runs (repeatable).")
    List<String> tags = List.of();

    TrainRequest request(Head head) {
      TrainRequest.Builder b = TrainRequest.newBuilder().setDataset(dataset).setBackbone(backbone).setHead(head);
      if (aggregation != null) {
        b.setAggregation(aggregation);
      }
      if (ratingWeight != null) {
        b.setRatingWeight(ratingWeight);
      }
      if (learningRate != null) {
        b.setLearningRate(learningRate);
      }
      if (weightDecay != null) {
        b.setWeightDecay(weightDecay);
      }
      if (batchSize != null) {
        b.setBatchSize(batchSize);
      }
      if (epochs != null) {
        b.setMaxEpochs(epochs);
      }
      if (maxHours != null) {
        b.setMaxHours(maxHours);
      }
      if (patience != null) {
        b.setPatience(patience);
      }
      if (seed != null) {
        b.setSeed(seed);
      }
      if (embeddingSize != null) {
        b.setEmbeddingSize(embeddingSize);
      }
      if (name != null) {
        b.setName(name);
      }
      b.setBf16(bf16);
      b.addAllTags(tags);
      hyper.forEach((k, v) -> b.putHyperparameters(k, parseValue(v)));
      return b.build();
    }
  }

  static ParamValue parseValue(String v) {
    String t = v.strip();
    if (t.equalsIgnoreCase("true") || t.equalsIgnoreCase("false")) {
      return ParamValue.newBuilder().setFlag(Boolean.parseBoolean(t)).build();
    }
    try {
      if (t.contains(",") || t.startsWith("[")) {
        NumberList.Builder nl = NumberList.newBuilder();
        for (String x : t.replace("[", "").replace("]", "").split(",")) {
          if (!x.isBlank()) {
            nl.addValues(Double.parseDouble(x.strip()));
          }
        }
        return ParamValue.newBuilder().setList(nl).build();
      }
      return ParamValue.newBuilder().setNumber(Double.parseDouble(t)).build();
    } catch (NumberFormatException e) {
      return ParamValue.newBuilder().setText(t).build();
    }
  }

  static String fmt(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.4f", v);
  }

  static String value(ParamValue v) {
    return switch (v.getKindCase()) {
      case NUMBER -> v.getNumber() == Math.rint(v.getNumber()) ? String.valueOf((long) v.getNumber())
          : String.valueOf(v.getNumber());
      case LIST -> v.getList().getValuesList().stream()
          .map(d -> d == Math.rint(d) ? String.valueOf(d.longValue()) : String.valueOf(d)).toList().toString();
      case TEXT -> v.getText();
      case FLAG -> String.valueOf(v.getFlag());
      default -> "";
    };
  }

  /**
   * Follows a run's events until it ends, printing a live progress bar and one line per epoch; reconnects from the
   * last event seen if the stream drops. Returns the final run record.
   */
  static Run follow(Ctrlab root, String runId, PrintWriter out, boolean quiet) {
    long next = 0;
    int retries = 0;
    boolean tty = System.console() != null;
    long epochStart = System.nanoTime();
    while (true) {
      try {
        Iterator<RunEvent> it = root.blocking().watchRun(
            WatchRunRequest.newBuilder().setRunId(runId).setFromIndex(next).build());
        while (it.hasNext()) {
          RunEvent e = it.next();
          retries = 0;
          if (e.hasBatch()) {
            if (tty && !quiet) {
              var b = e.getBatch();
              double elapsed = (System.nanoTime() - epochStart) / 1e9;
              double eta = b.getBatch() == 0 ? 0 : elapsed / b.getBatch() * (b.getBatches() - b.getBatch());
              int width = 30;
              int done = b.getBatches() == 0 ? 0 : width * b.getBatch() / b.getBatches();
              out.printf(Locale.ROOT, "\repoch %3d [%s%s] %d/%d  ETA %.0fs ", b.getEpoch(), "#".repeat(done),
                  ".".repeat(width - done), b.getBatch(), b.getBatches(), eta);
              out.flush();
            }
            continue;
          }
          if (e.hasQueue()) {
            if (!quiet) {
              var q = e.getQueue();
              out.printf(Locale.ROOT, "%squeued: %s (%d queued, %d running)%s", tty ? "\r" : "",
                  q.getPosition() == 0 ? "starts next" : q.getPosition() + " run" + (q.getPosition() == 1 ? "" : "s")
                      + " ahead", q.getQueued(), q.getRunning(), tty ? "   " : "\n");
              out.flush();
            }
            continue;
          }
          next = e.getIndex() + 1;
          if (quiet) {
            continue;
          }
          if (e.hasEpoch()) {
            EpochResult r = e.getEpoch();
            out.printf(Locale.ROOT, "%sepoch %3d  %s  valid AUC %.4f  LogLoss %.4f  %5.1f s%s%n",
                tty ? "\r" : "", r.getEpoch(), losses(r), r.getValidAuc(), r.getValidLogloss(),
                r.getTrainSeconds(), r.getBest() ? "  *" : "");
            epochStart = System.nanoTime();
          } else if (e.hasLog()) {
            out.println((tty ? "\r" : "") + Safe.lines(e.getLog()));
          } else if (e.hasState()) {
            out.println((tty ? "\r" : "") + "[" + e.getState().getState() + "] " + Safe.lines(e.getState().getMessage()));
            if (e.getState().getState() == RunState.RUNNING) {
              epochStart = System.nanoTime();
            }
          }
          out.flush();
        }
        return root.blocking().getRun(GetRunRequest.newBuilder().setRunId(runId).build());
      } catch (StatusRuntimeException ex) {
        if (ex.getStatus().getCode() != Status.Code.UNAVAILABLE || ++retries > 30) {
          throw ex;
        }
        try {
          Thread.sleep(Math.min(5000, 200L * retries));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw ex;
        }
      }
    }
  }

  /** An epoch's data losses, then the regulariser apart: "BCE 0.5210  CE 1.1875  reg 412.1". */
  static String losses(EpochResult r) {
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "BCE %.4f", r.getBceLoss()));
    if (r.hasCeLoss()) {
      b.append(String.format(Locale.ROOT, "  CE %.4f", r.getCeLoss()));
    }
    if (r.hasRegularizer()) {
      b.append(String.format(Locale.ROOT, "  reg %.4g", r.getRegularizer()));
    }
    return b.toString();
  }

  static int exitFor(Run r) {
    return r.getState() == RunState.SUCCEEDED ? 0 : Ctrlab.EXIT_RUN_FAILED;
  }

  @Command(name = "train", mixinStandardHelpOptions = true, description = "Queue a training run.",
      footer = {"", "Examples:",
          "  ctrlab train --dataset ml-1m --backbone DCNV2 --head RATING --lambda 0.5 --watch",
          "  ctrlab train --dataset synthetic --backbone DCNV2 --set mlp_hidden_size=64,64 --epochs 20"})
  static final class Train extends Base {
    @Mixin
    RunOptions run;

    @Option(names = "--head", description = "BINARY (default) or RATING.")
    Head head = Head.BINARY;

    @Option(names = {"-w", "--watch"}, description = "Follow the run until it ends.")
    boolean watch;

    @Override
    Integer run() {
      TrainResponse r = root.blocking().train(run.request(head));
      if (!watch) {
        if (root.json) {
          root.printJson(out(), r);
        } else {
          out().println(r.getRunId() + (r.getQueuePosition() > 0 ? "  (queued, position " + r.getQueuePosition()
              + ")" : ""));
        }
        return 0;
      }
      if (!root.json) {
        out().println("run " + r.getRunId());
      }
      Run done = follow(root, r.getRunId(), out(), root.json);
      if (root.json) {
        root.printJson(out(), done);
      } else {
        printSummary(out(), done);
      }
      return exitFor(done);
    }
  }

  static void printSummary(PrintWriter out, Run r) {
    if (r.getState() == RunState.SUCCEEDED) {
      out.printf(Locale.ROOT, "%s %s/%s on %s: test AUC %s  LogLoss %s  (best epoch %d of %d, %.2f s/epoch)%n",
          r.getRunId(), r.getResolved().getBackbone(), r.getResolved().getHead(), r.getResolved().getDataset(),
          fmt(r.getTest().getAuc()), fmt(r.getTest().getLogloss()), r.getBestEpoch(), r.getEpochsCount(),
          r.getSecondsPerEpoch());
    } else {
      out.println(r.getRunId() + " " + r.getState() + ": " + Safe.lines(r.getMessage()));
    }
  }

  @Command(name = "compare", mixinStandardHelpOptions = true,
      description = "Train one backbone with the BINARY and the RATING head on the same seed and compare them.",
      footer = {"", "Example:", "  ctrlab compare --dataset synthetic --backbone DCNV2"})
  static final class Compare extends Base {
    @Mixin
    RunOptions run;

    @Override
    Integer run() {
      List<String> ids = new ArrayList<>();
      for (Head h : List.of(Head.BINARY, Head.RATING)) {
        ids.add(root.blocking().train(run.request(h)).getRunId());
      }
      List<Run> done = new ArrayList<>();
      for (String id : ids) {
        if (!root.json) {
          out().println("run " + id);
        }
        done.add(follow(root, id, out(), root.json));
      }
      if (root.json) {
        out().println("[");
        for (int i = 0; i < done.size(); i++) {
          root.printJson(out(), done.get(i));
          if (i + 1 < done.size()) {
            out().println(",");
          }
        }
        out().println("]");
      } else {
        Table t = new Table("run", "head", "lambda_r", "test AUC", "test LogLoss", "best epoch", "epochs", "s/epoch");
        for (Run r : done) {
          t.row(r.getRunId(), r.getResolved().getHead(), r.getResolved().getHead() == Head.RATING
              ? String.valueOf(r.getResolved().getRatingWeight()) : "-", fmt(r.getTest().getAuc()),
              fmt(r.getTest().getLogloss()), r.getBestEpoch(), r.getEpochsCount(),
              String.format(Locale.ROOT, "%.2f", r.getSecondsPerEpoch()));
        }
        out().println();
        t.print(out());
        if (done.stream().allMatch(r -> r.getState() == RunState.SUCCEEDED)) {
          out().printf(Locale.ROOT, "RATING - BINARY test AUC: %+.4f%n",
              done.get(1).getTest().getAuc() - done.get(0).getTest().getAuc());
        }
      }
      return done.stream().allMatch(r -> r.getState() == RunState.SUCCEEDED) ? 0 : Ctrlab.EXIT_RUN_FAILED;
    }
  }

  @Command(name = "watch", mixinStandardHelpOptions = true,
      description = "Follow a run's progress (replays what already happened).",
      footer = {"", "Example:", "  ctrlab watch 3f2a9c81d0e4"})
  static final class Watch extends Base {
    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Override
    Integer run() {
      Run done = follow(root, runId, out(), root.json);
      if (root.json) {
        root.printJson(out(), done);
      } else {
        printSummary(out(), done);
      }
      return exitFor(done);
    }
  }

  @Command(name = "runs", mixinStandardHelpOptions = true, description = "List runs, newest first.",
      footer = {"", "Example:", "  ctrlab runs --state SUCCEEDED --backbone DCNV2 --limit 20"})
  static final class Runs extends Base {
    @Option(names = "--state", description = "Only runs in this state (repeatable).")
    List<RunState> states = List.of();

    @Option(names = "--backbone")
    String backbone;

    @Option(names = "--dataset")
    String dataset;

    @Option(names = "--tag")
    String tag;

    @Option(names = "--owner")
    String owner;

    @Option(names = "--limit", description = "At most this many (default: ${DEFAULT-VALUE}; 0 for all).")
    int limit = 50;

    @Override
    Integer run() {
      ListRunsRequest.Builder b = ListRunsRequest.newBuilder().addAllStates(states);
      if (backbone != null) {
        b.setBackbone(backbone);
      }
      if (dataset != null) {
        b.setDataset(dataset);
      }
      if (tag != null) {
        b.setTag(tag);
      }
      if (owner != null) {
        b.setOwner(owner);
      }
      // Pages of at most 100 runs (and 1 MB) each, until the limit.
      ListRunsResponse.Builder all = ListRunsResponse.newBuilder();
      String token = "";
      do {
        int want = limit == 0 ? 100 : Math.min(100, limit - all.getRunsCount());
        ListRunsResponse page = root.blocking().listRuns(b.setLimit(want).setPageToken(token).build());
        all.addAllRuns(page.getRunsList());
        token = page.getNextPageToken();
      } while (!token.isEmpty() && (limit == 0 || all.getRunsCount() < limit));
      ListRunsResponse resp = all.setNextPageToken(token).build();
      if (root.json) {
        root.printJson(out(), resp);
        return 0;
      }
      Table t = new Table("run", "state", "dataset", "backbone", "head", "lambda_r", "test AUC", "epochs", "owner",
          "created", "name");
      for (Run r : resp.getRunsList()) {
        var c = r.getResolved();
        t.row(r.getRunId(), r.getState(), c.getDataset(), c.getBackbone(), c.getHead(),
            c.getHead() == Head.RATING ? String.valueOf(c.getRatingWeight()) : "-",
            r.getState() == RunState.SUCCEEDED ? fmt(r.getTest().getAuc())
                : r.getState() == RunState.QUEUED ? "#" + r.getQueuePosition() : "-", r.getEpochsCount(), r.getOwner(),
            TIME.format(Instant.ofEpochMilli(r.getCreatedUnixMs())), r.getRequest().getName());
      }
      if (t.isEmpty()) {
        out().println("no runs");
      } else {
        t.print(out());
      }
      return 0;
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one run with its epochs.",
      footer = {"", "Example:", "  ctrlab show 3f2a9c81d0e4"})
  static final class Show extends Base {
    @Parameters(paramLabel = "RUN_ID")
    String runId;

    @Override
    Integer run() {
      Run r = root.blocking().getRun(GetRunRequest.newBuilder().setRunId(runId).build());
      if (root.json) {
        root.printJson(out(), r);
        return 0;
      }
      var c = r.getResolved();
      PrintWriter o = out();
      o.printf("run       %s (%s)%n", r.getRunId(), r.getState());
      if (!r.getRequest().getName().isEmpty() || r.getRequest().getTagsCount() > 0) {
        o.printf("name      %s%s%n", Safe.text(r.getRequest().getName()), r.getRequest().getTagsCount() == 0 ? ""
            : "  tags " + Safe.text(String.join(", ", r.getRequest().getTagsList())));
      }
      if (!r.getMessage().isEmpty()) {
        o.printf("message   %s%n", Safe.lines(r.getMessage()));
      }
      if (r.getState() == RunState.QUEUED) {
        o.printf("queue     %s%n", r.getQueuePosition() == 0 ? "starts next"
            : r.getQueuePosition() + " queued run(s) start before it");
      }
      o.printf("owner     %s, device %s%n", r.getOwner(), r.getDevice());
      if (r.getAttempt() > 0) {
        o.printf("worker    %s, attempt %d%s%n", r.getWorker().isEmpty() ? "-" : r.getWorker(), r.getAttempt(),
            r.getCrashes() > 0 ? " (" + r.getCrashes() + " crashed in a row)" : "");
        if (!r.getJobId().isEmpty()) {
          o.printf("job       %s (cluster job id)%s%n", r.getJobId(),
              r.getState() == RunState.RUNNING && !r.getJobStateBytes().isEmpty()
                  ? ", " + Safe.text(r.getJobState()) : "");
        }
      }
      if (!r.getCancelledBy().isEmpty()) {
        o.printf("cancelled by %s%n", r.getCancelledBy());
      }
      if (r.getFilesRetiredUnixMs() > 0) {
        o.printf("files     removed %s by the retention policy (record kept)%n",
            TIME.format(Instant.ofEpochMilli(r.getFilesRetiredUnixMs())));
      }
      o.printf(Locale.ROOT, "model     %s, head %s%s, d=%d, %,d parameters%n", c.getBackbone(), c.getHead(),
          c.getHead() == Head.RATING ? " (" + c.getAggregation() + ", lambda_r " + c.getRatingWeight() + ")" : "",
          c.getEmbeddingSize(), r.getParameters());
      o.printf(Locale.ROOT, "training  %s, lr %g, wd %g, batch %d, max epochs %d, patience %d, seed %d%n",
          c.getDataset(), c.getLearningRate(), c.getWeightDecay(), c.getBatchSize(), c.getMaxEpochs(),
          c.getPatience(), c.getSeed());
      StringBuilder hp = new StringBuilder();
      c.getHyperparametersMap().forEach((k, v) -> hp.append(hp.length() == 0 ? "" : ", ").append(k).append('=')
          .append(value(v)));
      o.printf("params    %s%n", hp);
      if (r.getState() == RunState.SUCCEEDED) {
        o.printf(Locale.ROOT, "valid     AUC %s  LogLoss %s%n", fmt(r.getValid().getAuc()),
            fmt(r.getValid().getLogloss()));
        o.printf(Locale.ROOT, "test      AUC %s  LogLoss %s  (best epoch %d, %.2f s/epoch, %.0f s in all)%n",
            fmt(r.getTest().getAuc()), fmt(r.getTest().getLogloss()), r.getBestEpoch(), r.getSecondsPerEpoch(),
            r.getTotalSeconds());
      }
      if (r.getEpochsCount() > 0) {
        Table t = new Table("epoch", "BCE", "CE", "reg", "objective", "valid AUC", "valid LogLoss", "train s", "eval s",
            "best");
        for (EpochResult e : r.getEpochsList()) {
          t.row(e.getEpoch(), fmt(e.getBceLoss()), e.hasCeLoss() ? fmt(e.getCeLoss()) : "-",
              e.hasRegularizer() ? String.format(Locale.ROOT, "%.4g", e.getRegularizer()) : "-",
              fmt(e.getTrainLoss()), fmt(e.getValidAuc()), fmt(e.getValidLogloss()),
              String.format(Locale.ROOT, "%.2f", e.getTrainSeconds()),
              String.format(Locale.ROOT, "%.2f", e.getEvalSeconds()), e.getBest() ? "*" : "");
        }
        o.println();
        t.print(o);
      }
      return 0;
    }
  }

  @Command(name = "cancel", mixinStandardHelpOptions = true,
      description = "Cancel queued or running runs: by id, or all of yours in a study or with a tag.",
      footer = {"", "Examples:", "  ctrlab cancel 3f2a9c81d0e4", "  ctrlab cancel --study 9c1e0a7b2d44",
          "  ctrlab cancel --tag sweep-3"})
  static final class Cancel extends Base {
    @Parameters(paramLabel = "RUN_ID", arity = "0..*")
    List<String> runIds = List.of();

    @Option(names = "--study", description = "Every queued or running run of yours in this study.")
    String study;

    @Option(names = "--tag", description = "Every queued or running run of yours with this tag.")
    String tag;

    @Override
    Integer run() {
      if (runIds.isEmpty() == (study == null && tag == null)) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "give RUN_IDs, or --study or --tag");
      }
      if (study != null || tag != null) {
        CancelRunsRequest.Builder b = CancelRunsRequest.newBuilder();
        if (study != null) {
          b.setStudyId(study);
        }
        if (tag != null) {
          b.setTag(tag);
        }
        CancelRunsResponse resp = root.blocking().cancelRuns(b.build());
        if (root.json) {
          root.printJson(out(), resp);
        } else {
          out().println("cancelled " + resp.getRunIdsCount() + " run" + (resp.getRunIdsCount() == 1 ? "" : "s")
              + (resp.getRunIdsCount() == 0 ? "" : ": " + String.join(" ", resp.getRunIdsList())));
        }
        return 0;
      }
      for (String id : runIds) {
        Run r = root.blocking().cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
        if (root.json) {
          root.printJson(out(), r);
        } else {
          out().println(r.getRunId() + " " + r.getState() + (r.getMessage().isEmpty() ? "" : ": "
              + Safe.lines(r.getMessage())));
        }
      }
      return 0;
    }
  }

  @Command(name = "delete", mixinStandardHelpOptions = true,
      description = "Delete finished runs of yours with everything stored for them (record, events, checkpoints).",
      footer = {"", "Example:", "  ctrlab delete 3f2a9c81d0e4"})
  static final class Delete extends Base {
    @Parameters(paramLabel = "RUN_ID", arity = "1..*")
    List<String> runIds;

    @Override
    Integer run() {
      for (String id : runIds) {
        DeleteRunResponse r = root.blocking().deleteRun(DeleteRunRequest.newBuilder().setRunId(id).build());
        if (root.json) {
          root.printJson(out(), r);
        } else {
          out().printf(Locale.ROOT, "%s deleted (%,d bytes of files)%n", id, r.getBytesFreed());
        }
      }
      return 0;
    }
  }

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

  @Command(name = "backbones", mixinStandardHelpOptions = true,
      description = "Backbones with their hyperparameters, defaults and ranges.",
      footer = {"", "Example:", "  ctrlab backbones"})
  static final class Backbones extends Base {
    @Override
    Integer run() {
      ListBackbonesResponse r = root.blocking().listBackbones(ListBackbonesRequest.getDefaultInstance());
      if (root.json) {
        root.printJson(out(), r);
        return 0;
      }
      for (BackboneInfo b : r.getBackbonesList()) {
        out().println(b.getName() + ": " + Safe.text(b.getDescription()));
        Table t = new Table("  hyperparameter", "default", "range", "description");
        for (ParamSpec p : b.getHyperparametersList()) {
          t.row("  " + p.getName(), value(p.getDefaultValue()), range(p), p.getDescription());
        }
        for (ParamSpec p : b.getTrainingList()) {
          t.row("  " + p.getName() + " (training)", value(p.getDefaultValue()), range(p),
              "this backbone's default for: " + p.getDescription());
        }
        t.print(out());
        out().println();
      }
      Table t = new Table("training (shared defaults)", "default", "range", "description");
      for (ParamSpec p : r.getTrainingList()) {
        t.row(p.getName(), value(p.getDefaultValue()), range(p), p.getDescription());
      }
      t.print(out());
      return 0;
    }

    private static String range(ParamSpec p) {
      if (p.getChoicesCount() > 0) {
        return String.join("|", p.getChoicesList());
      }
      return "[" + num(p.getMin()) + ", " + num(p.getMax()) + "]";
    }

    private static String num(double v) {
      if (Math.abs(v) > 1e12) {
        return v > 0 ? "inf" : "-inf";
      }
      return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
  }

  @Command(name = "datasets", mixinStandardHelpOptions = true, description = "Datasets the server knows.",
      footer = {"", "Example:", "  ctrlab datasets"})
  static final class Datasets extends Base {
    @Override
    Integer run() {
      ListDatasetsResponse r = root.blocking().listDatasets(ListDatasetsRequest.getDefaultInstance());
      if (root.json) {
        root.printJson(out(), r);
        return 0;
      }
      Table t = new Table("dataset", "available", "interactions", "users", "items", "source", "description");
      for (DatasetInfo d : r.getDatasetsList()) {
        t.row(d.getName(), d.getAvailable() ? "yes" : "no",
            d.getInteractions() == 0 ? "-" : String.format(Locale.ROOT, "%,d", d.getInteractions()),
            d.getUsers() == 0 ? "-" : String.format(Locale.ROOT, "%,d", d.getUsers()),
            d.getItems() == 0 ? "-" : String.format(Locale.ROOT, "%,d", d.getItems()), d.getSource(),
            d.getDescription());
      }
      t.print(out());
      return 0;
    }
  }

  @Command(name = "info", mixinStandardHelpOptions = true, description = "Server version, device and queue.",
      footer = {"", "Example:", "  ctrlab --server gpu-box:50051 info"})
  static final class Info extends Base {
    @Override
    Integer run() {
      ServerInfo i = root.blocking().getServerInfo(ServerInfoRequest.getDefaultInstance());
      if (root.json) {
        root.printJson(out(), i);
        return 0;
      }
      out().printf("server      %s (ctrlab %s, TensorFlow %s)%n", root.server, i.getVersion(),
          i.getTensorflowVersion());
      out().printf("device      %s%s%n", i.getDevice(), i.getOnednn() ? ", oneDNN CPU kernels" : "");
      out().printf("bf16        %s%n", i.getBf16().isEmpty() ? "no (runs train in float32)" : "yes, " + i.getBf16()
          + " (train --bf16)");
      out().printf("slots       %d of %d busy%n", i.getRunning(), i.getWorkers());
      StringBuilder q = new StringBuilder();
      i.getQueuedByUserMap().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
          .forEach(e -> q.append(q.length() == 0 ? " (" : ", ").append(Safe.text(e.getKey())).append(' ')
              .append(e.getValue()));
      out().printf("queue       %d waiting%s, at most %d queued per user%n", i.getQueueLength(),
          q.length() == 0 ? "" : q + ")", i.getMaxQueuedPerUser());
      StringBuilder st = new StringBuilder();
      for (String name : List.of("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")) {
        st.append(st.length() == 0 ? "" : ", ").append(i.getRunsByStateOrDefault(name, 0)).append(' ')
            .append(name.toLowerCase(Locale.ROOT));
      }
      out().printf("runs        %s%n", st);
      out().printf("you         %s%s%s; runs visible: %s; %s%n", i.getUser(), i.getAdmin() ? " (admin)" : "",
          i.getAuthRequired() ? ", token required" : "", i.getVisibility().equals("own") ? "your own" : "everyone's",
          i.getTls() ? "TLS" : "plaintext");
      return 0;
    }
  }
}
