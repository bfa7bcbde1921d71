package org.ctrlab.server.service;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import org.ctrlab.api.v1.CancelRunRequest;
import org.ctrlab.api.v1.CancelRunsRequest;
import org.ctrlab.api.v1.CancelRunsResponse;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.DatasetInfo;
import org.ctrlab.api.v1.DeleteRunRequest;
import org.ctrlab.api.v1.DeleteRunResponse;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.EvaluateResponse;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.GetStudyRequest;
import org.ctrlab.api.v1.InspectRequest;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.ListBackbonesRequest;
import org.ctrlab.api.v1.ListBackbonesResponse;
import org.ctrlab.api.v1.ListDatasetsRequest;
import org.ctrlab.api.v1.ListDatasetsResponse;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.ListRunsResponse;
import org.ctrlab.api.v1.ListStudiesRequest;
import org.ctrlab.api.v1.ListStudiesResponse;
import org.ctrlab.api.v1.PerturbMode;
import org.ctrlab.api.v1.PerturbRequest;
import org.ctrlab.api.v1.PerturbResponse;
import org.ctrlab.api.v1.PredictBatch;
import org.ctrlab.api.v1.PredictRequest;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.ServerInfo;
import org.ctrlab.api.v1.ServerInfoRequest;
import org.ctrlab.api.v1.Split;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.StudyRequest;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.TrainResponse;
import org.ctrlab.api.v1.WatchRunRequest;
import org.ctrlab.server.auth.Auth;
import org.ctrlab.server.auth.Caller;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DataFormatException;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.data.DatasetSpec;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.train.Cancellation;
import org.ctrlab.server.train.RunFailure;
import org.tensorflow.TensorFlow;

/** The gRPC face of ctrlab: checks requests, maps them to the parts that serve them and failures to clear statuses. */
public final class CtrlabService extends CtrlabGrpc.CtrlabImplBase {
  public static final String VERSION = "0.2.0";

  private final Runs runs;
  private final Studies studies;
  private final Analysis analysis;
  private final EventHub hub;
  private final Supervisor supervisor;
  private final RunConfigs configs;
  private final DatasetRegistry datasets;
  private final Limits limits;
  private final boolean authRequired;
  private final boolean tls;
  private final String device;

  public CtrlabService(Runs runs, Studies studies, Analysis analysis, EventHub hub, Supervisor supervisor,
      RunConfigs configs, DatasetRegistry datasets, Limits limits, boolean authRequired, boolean tls, String device) {
    this.tls = tls;
    this.runs = runs;
    this.studies = studies;
    this.analysis = analysis;
    this.hub = hub;
    this.supervisor = supervisor;
    this.configs = configs;
    this.datasets = datasets;
    this.limits = limits;
    this.authRequired = authRequired;
    this.device = device;
  }

  private static Caller caller() {
    return Auth.caller();
  }

  /** A check made in the calling thread before an analysis call takes a pool thread. */
  @FunctionalInterface
  private interface Check {
    void run() throws Exception;
  }

  /** Runs a unary call in the calling thread, turning exceptions into statuses. */
  private static <T> void unary(StreamObserver<T> out, Callable<T> body) {
    T result;
    try {
      result = body.call();
    } catch (Exception e) {
      out.onError(toStatus(e));
      return;
    }
    respond(out, result);
  }

  private static <T> void respond(StreamObserver<T> out, T result) {
    try {
      out.onNext(result);
      out.onCompleted();
    } catch (StatusRuntimeException | IllegalStateException gone) {
      // the client cancelled or went away; nothing to answer
    }
  }

  /** An analysis body: it gets the call's cancellation (client cancel, deadline, server stop). */
  @FunctionalInterface
  private interface Job<T> {
    T call(Cancellation cancel) throws Exception;
  }

  /**
   * Runs a unary analysis call on the bounded analysis pool. Checks done by {@code check} happen first, in the
   * calling thread, so a bad request costs no pool slot.
   */
  private <T> void analysisCall(StreamObserver<T> out, Check check, Job<T> body) {
    try {
      check.run();
      Context ctx = Context.current();
      Cancellation cancel = analysis.cancellation(ctx::isCancelled);
      analysis.submit(caller().user(), ctx.wrap(() -> {
        T result;
        try {
          result = body.call(cancel);
        } catch (Exception e) {
          fail(out, e);
          return;
        }
        respond(out, result);
      }));
    } catch (Exception e) {
      out.onError(toStatus(e));
    }
  }

  private void fail(StreamObserver<?> out, Exception e) {
    try {
      if (e instanceof CancellationException && analysis.stopping()) {
        out.onError(Status.UNAVAILABLE.withDescription("the server is stopping; try again when it is back")
            .asRuntimeException());
      } else {
        out.onError(toStatus(e));
      }
    } catch (RuntimeException gone) {
      // the call is already closed
    }
  }

  /**
   * Longest status description sent, as it goes on the wire (gRPC percent-encodes each byte of a character outside
   * printable ASCII as three): a message echoing a long input (a 20,000-character backbone name) would otherwise pass
   * the peers' 8 KiB metadata limit, and the caller would see a transport error, not the status.
   */
  static final int MAX_DESCRIPTION_WIRE_CHARS = 3_000;

  static StatusRuntimeException toStatus(Exception e) {
    StatusRuntimeException s = statusOf(e);
    String d = s.getStatus().getDescription();
    int cut = d == null ? -1 : wireCut(d, MAX_DESCRIPTION_WIRE_CHARS);
    if (cut < 0) {
      return s;
    }
    return s.getStatus().withDescription(d.substring(0, cut) + String.format("... (cut from %,d characters)",
        d.length())).asRuntimeException(s.getTrailers());
  }

  /** Where to cut s (at a character's boundary) to keep its wire form within max; -1 when it fits whole. */
  static int wireCut(String s, int max) {
    int wire = 0;
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      int utf8 = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      wire += c >= 0x20 && c < 0x7f && c != '%' ? 1 : 3 * utf8;
      if (wire > max) {
        return i;
      }
      i += Character.charCount(c);
    }
    return -1;
  }

  private static StatusRuntimeException statusOf(Exception e) {
    if (e instanceof StatusRuntimeException s) {
      return s;
    }
    String msg = e.getMessage() == null ? e.toString() : e.getMessage();
    Status s;
    if (e instanceof Refusal r) {
      s = Status.fromCode(r.code);
    } else if (e instanceof NotFoundException) {
      s = Status.NOT_FOUND;
    } else if (e instanceof IllegalArgumentException || e instanceof DataFormatException) {
      s = Status.INVALID_ARGUMENT;
    } else if (e instanceof DatasetRegistry.MissingException || e instanceof IllegalStateException
        || e instanceof RunFailure) {
      s = Status.FAILED_PRECONDITION;
    } else if (e instanceof CancellationException) {
      s = Status.CANCELLED;
      msg = "cancelled: the client cancelled the call or its deadline passed";
    } else if (e instanceof SQLException) {
      return Status.INTERNAL.withDescription("run store: " + msg).asRuntimeException();
    } else {
      s = Status.INTERNAL;
    }
    return s.withDescription(msg).asRuntimeException();
  }

  @Override
  public void train(TrainRequest req, StreamObserver<TrainResponse> out) {
    unary(out, () -> {
      Run r = runs.submit(req, caller().user());
      return TrainResponse.newBuilder().setRunId(r.getRunId()).setQueuePosition(runs.position(r.getRunId())).build();
    });
  }

  @Override
  public void getRun(GetRunRequest req, StreamObserver<Run> out) {
    unary(out, () -> Views.fit(runs.get(req.getRunId(), caller()), limits.maxResponseBytes()));
  }

  @Override
  public void listRuns(ListRunsRequest req, StreamObserver<ListRunsResponse> out) {
    unary(out, () -> {
      var page = runs.list(req, caller());
      return ListRunsResponse.newBuilder().addAllRuns(page.runs()).setNextPageToken(page.nextPageToken()).build();
    });
  }

  @Override
  public void cancelRun(CancelRunRequest req, StreamObserver<Run> out) {
    unary(out, () -> runs.cancel(req.getRunId(), caller()));
  }

  @Override
  public void cancelRuns(CancelRunsRequest req, StreamObserver<CancelRunsResponse> out) {
    unary(out, () -> CancelRunsResponse.newBuilder()
        .addAllRunIds(runs.cancelMatching(caller(), req.getStudyId(), req.getTag())).build());
  }

  @Override
  public void deleteRun(DeleteRunRequest req, StreamObserver<DeleteRunResponse> out) {
    unary(out, () -> {
      long freed = runs.delete(req.getRunId(), caller());
      analysis.forget(req.getRunId());
      return DeleteRunResponse.newBuilder().setBytesFreed(freed).build();
    });
  }

  @Override
  public void watchRun(WatchRunRequest req, StreamObserver<RunEvent> out) {
    ServerCallStreamObserver<RunEvent> call = (ServerCallStreamObserver<RunEvent>) out;
    try {
      runs.get(req.getRunId(), caller());
      if (req.getFromIndex() < 0) {
        throw new IllegalArgumentException("from_index must be >= 0");
      }
      Object lock = new Object();
      Runnable release = StreamGuard.releaser();
      long[] next = {req.getFromIndex()};
      Runnable stop = hub.watch(req.getRunId(), req.getFromIndex(), new EventHub.Watcher() {
        @Override
        public boolean ready() {
          if (call.isCancelled()) {
            throw new IllegalStateException("watcher gone");
          }
          return call.isReady();
        }

        @Override
        public void event(RunEvent e) {
          synchronized (lock) {
            call.onNext(e);
            if (!e.hasBatch() && !e.hasQueue()) {
              next[0] = e.getIndex() + 1;
            }
          }
        }

        @Override
        public void done() {
          synchronized (lock) {
            call.onCompleted();
          }
        }

        @Override
        public void stalled(java.time.Duration after) {
          synchronized (lock) {
            String why = "the client read nothing for " + after.toSeconds() + " s (--stream-stall-seconds): the"
                + " watch is ended to free its place; watch again from index " + next[0];
            call.onError(Status.RESOURCE_EXHAUSTED.withDescription(why).asRuntimeException());
            release.run();
          }
        }

        @Override
        public void stopping() {
          synchronized (lock) {
            call.onError(Status.UNAVAILABLE.withDescription("the server is stopping; watch again from index "
                + next[0] + " when it is back (the run resumes after a restart)").asRuntimeException());
          }
        }
      });
      call.setOnCancelHandler(stop::run);
    } catch (Exception e) {
      out.onError(toStatus(e));
    }
  }

  private static Split split(int value) {
    Split s = Split.forNumber(value);
    if (s == null) {
      throw new IllegalArgumentException("unknown split " + value + "; use TRAIN, VALID or TEST");
    }
    return s == Split.SPLIT_UNSPECIFIED ? Split.TEST : s;
  }

  @Override
  public void evaluate(EvaluateRequest req, StreamObserver<EvaluateResponse> out) {
    analysisCall(out, () -> {
      Ids.check("run_id", req.getRunId());
      runs.requireReadable(req.getRunId(), caller());
      if (req.getRankingKCount() > limits.maxRankingK()) {
        throw new IllegalArgumentException(String.format("%,d ranking_k values; at most %d (--max-ranking-k)",
            req.getRankingKCount(), limits.maxRankingK()));
      }
      for (int k : req.getRankingKList()) {
        if (k < 1 || k > 1000) {
          throw new IllegalArgumentException("ranking_k must be in [1, 1000], got " + k);
        }
      }
      if (req.getRankingNegatives() < 0 || req.getRankingNegatives() > 10_000) {
        throw new IllegalArgumentException("ranking_negatives must be in [0, 10000], got "
            + req.getRankingNegatives());
      }
      split(req.getSplitValue());
    }, cancel -> EvaluateResponse.newBuilder().setMetrics(analysis.evaluate(req.getRunId(),
        split(req.getSplitValue()), req.getRankingKList(), req.getRankingNegatives() == 0 ? 100
            : req.getRankingNegatives(), req.getRankingSeed(), cancel)).build());
  }

  @Override
  public void perturb(PerturbRequest req, StreamObserver<PerturbResponse> out) {
    analysisCall(out, () -> {
      Ids.check("run_id", req.getRunId());
      if (req.getSigmasCount() == 0) {
        throw new IllegalArgumentException("sigmas is empty; give at least one noise level, e.g. 0, 0.01, 0.05");
      }
      if (req.getSigmasCount() > limits.maxSigmas()) {
        throw new IllegalArgumentException(String.format("%,d sigmas; at most %d per call (--max-sigmas)",
            req.getSigmasCount(), limits.maxSigmas()));
      }
      for (double s : req.getSigmasList()) {
        if (!(s >= 0 && s <= 100)) {
          throw new IllegalArgumentException("every sigma must be in [0, 100], got " + s);
        }
      }
      if (PerturbMode.forNumber(req.getModeValue()) == null) {
        throw new IllegalArgumentException("unknown perturb mode " + req.getModeValue() + "; use INPUT or TABLES");
      }
      split(req.getSplitValue());
      runs.requireReadable(req.getRunId(), caller());
    }, cancel -> PerturbResponse.newBuilder().addAllResults(analysis.perturb(req.getRunId(), req.getSigmasList(),
        req.getNoiseSeed(), req.getMode() == PerturbMode.TABLES ? PerturbMode.TABLES : PerturbMode.INPUT,
        split(req.getSplitValue()), cancel)).build());
  }

  @Override
  public void inspect(InspectRequest req, StreamObserver<InspectResponse> out) {
    analysisCall(out, () -> {
      Ids.check("run_id", req.getRunId());
      if (req.getLipschitzRows() < 0 || req.getLipschitzRows() > 1_000_000) {
        throw new IllegalArgumentException("lipschitz_rows must be in [0, 1000000], got " + req.getLipschitzRows());
      }
      runs.requireReadable(req.getRunId(), caller());
    }, cancel -> Views.fitInspect(analysis.inspect(req.getRunId(), req.getPerStep(),
        !req.getLipschitz() ? 0 : req.getLipschitzRows() == 0 ? 10_000 : req.getLipschitzRows(), cancel),
        limits.maxResponseBytes()));
  }

  @Override
  public void predict(PredictRequest req, StreamObserver<PredictBatch> out) {
    ServerCallStreamObserver<PredictBatch> call = (ServerCallStreamObserver<PredictBatch>) out;
    try {
      Ids.check("run_id", req.getRunId());
      if (req.getLimit() < 0) {
        throw new IllegalArgumentException("limit must be >= 0");
      }
      Split split = split(req.getSplitValue());
      runs.requireReadable(req.getRunId(), caller());
      Context ctx = Context.current();
      Cancellation cancel = analysis.cancellation(() -> ctx.isCancelled() || call.isCancelled());
      Object lock = new Object();
      Runnable release = StreamGuard.releaser();
      PredictStream stream = new PredictStream(PredictStream.of(analysis), caller().user(), req.getRunId(), split,
          req.getLimit(), cancel, new PredictStream.Call() {
            @Override
            public boolean ready() {
              return call.isReady() && !call.isCancelled();
            }

            @Override
            public void send(PredictBatch batch) {
              synchronized (lock) {
                call.onNext(batch);
              }
            }

            @Override
            public void complete() {
              synchronized (lock) {
                call.onCompleted();
              }
            }

            @Override
            public void fail(Exception e) {
              if (!call.isCancelled()) {
                synchronized (lock) {
                  CtrlabService.this.fail(out, e);
                }
              }
            }

            @Override
            public void abandon(String why) {
              fail(Refusal.exhausted(why)); // logged, and read by the client if it ever reads again
              release.run();
            }
          });
      call.setOnReadyHandler(stream::onReady);
      call.setOnCancelHandler(stream::onCancel);
      stream.start();
    } catch (Exception e) {
      out.onError(toStatus(e));
    }
  }

  @Override
  public void startStudy(StudyRequest req, StreamObserver<Study> out) {
    unary(out, () -> studies.start(req, caller().user()));
  }

  @Override
  public void getStudy(GetStudyRequest req, StreamObserver<Study> out) {
    unary(out, () -> studies.get(req.getStudyId(), caller()));
  }

  @Override
  public void listStudies(ListStudiesRequest req, StreamObserver<ListStudiesResponse> out) {
    unary(out, () -> ListStudiesResponse.newBuilder().addAllStudies(studies.list(req.getLimit(), caller(),
        limits.maxResponseBytes() - 64 * 1024)).build());
  }

  @Override
  public void listBackbones(ListBackbonesRequest req, StreamObserver<ListBackbonesResponse> out) {
    unary(out, () -> ListBackbonesResponse.newBuilder().addAllBackbones(configs.backbones())
        .addAllTraining(configs.trainingSpecs()).build());
  }

  @Override
  public void listDatasets(ListDatasetsRequest req, StreamObserver<ListDatasetsResponse> out) {
    unary(out, () -> {
      ListDatasetsResponse.Builder b = ListDatasetsResponse.newBuilder();
      for (DatasetSpec s : datasets.specs()) {
        // Where the files are on the server is the operator's business: admins see it.
        DatasetInfo.Builder d = DatasetInfo.newBuilder().setName(s.name).setDescription(s.description)
            .setAvailable(datasets.available(s.name))
            .setSource(caller().admin() ? datasets.dir(s.name).toString() : s.generated ? "generated" : "server");
        datasets.cached(s.name).ifPresent((Dataset ds) -> d.setInteractions(ds.rows)
            .setUsers(ds.userVocab() - 1).setItems(ds.itemVocab() - 1)
            .addAllFields(ds.fields.stream().map(f -> f.name()).toList()));
        b.addDatasets(d);
      }
      return b.build();
    });
  }

  /** Queued runs per user: everyone's, or under --visibility own only the caller's (admins: everyone's). */
  private java.util.Map<String, Integer> visibleQueues() throws SQLException {
    java.util.Map<String, Integer> all = runs.queuedByUser();
    if (runs.visibility() == Visibility.ALL || caller().admin()) {
      return all;
    }
    Integer mine = all.get(caller().user());
    return mine == null ? java.util.Map.of() : java.util.Map.of(caller().user(), mine);
  }

  @Override
  public void getServerInfo(ServerInfoRequest req, StreamObserver<ServerInfo> out) {
    unary(out, () -> {
      List<String> queue = supervisor.queueOrder();
      return ServerInfo.newBuilder().setVersion(VERSION).setDevice(device)
          .setTensorflowVersion(TensorFlow.version()).setQueueLength(queue.size())
          .setWorkers(supervisor.settings().slots()).setRunning(supervisor.busySlots())
          .setMaxQueuedPerUser(limits.maxQueuedPerUser()).setAuthRequired(authRequired).setUser(caller().user())
          .setAdmin(caller().admin()).setVisibility(runs.visibility().name().toLowerCase(java.util.Locale.ROOT))
          .putAllQueuedByUser(visibleQueues()).putAllRunsByState(runs.runsByState()).setTls(tls)
          .setOnednn(org.ctrlab.server.Devices.oneDnn()).setBf16(org.ctrlab.server.Devices.bf16()).build();
    });
  }
}
