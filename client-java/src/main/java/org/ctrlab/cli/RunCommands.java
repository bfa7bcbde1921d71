package org.ctrlab.cli;

import static org.ctrlab.cli.Commands.*;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ctrlab.api.v1.CancelRunRequest;
import org.ctrlab.api.v1.CancelRunsRequest;
import org.ctrlab.api.v1.CancelRunsResponse;
import org.ctrlab.api.v1.DeleteRunRequest;
import org.ctrlab.api.v1.DeleteRunResponse;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.ListRunsResponse;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainResponse;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Runs: {@code ctrlab train, compare, watch, runs, show, cancel, delete}. */
final class RunCommands {
  private RunCommands() {}

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
      if (r.getQueuedSeconds() > 0) {
        o.printf("queued    %s in the cluster's queue (not counted against its wall-clock limit)%n",
            span(r.getQueuedSeconds()));
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

  /** A span of time for people: seconds under two minutes, minutes under two hours, else hours. */
  static String span(double exact) {
    double seconds = Math.rint(exact);
    return seconds < 120 ? String.format(Locale.ROOT, "%.0f s", seconds)
        : seconds < 7200 ? String.format(Locale.ROOT, "%.1f min", seconds / 60)
        : String.format(Locale.ROOT, "%.1f h", seconds / 3600);
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
}
