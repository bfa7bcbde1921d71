package org.ctrlab.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.WatchRunRequest;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * What the subcommands of {@code ctrlab} share: the root options and output ({@link Base}), a run's options, and the
 * formatting and following of runs. The commands are {@link RunCommands}, {@link AnalysisCommands},
 * {@link ServerCommands}, {@link StudyCommands} and {@link Reproduce}.
 */
final class Commands {
  private Commands() {}

  static final DateTimeFormatter TIME =
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

    @Option(names = "--max-hours", description = "End the run as FAILED this long after it first starts, time in a"
        + " cluster's queue not counted (default and upper bound: the server's --max-run-hours).")
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
}
