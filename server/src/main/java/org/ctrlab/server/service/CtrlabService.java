package org.ctrlab.server.service;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.sql.SQLException;
import java.util.concurrent.Callable;
import org.ctrlab.api.v1.CancelRunRequest;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.DatasetInfo;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.EvaluateResponse;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.InspectRequest;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.ListBackbonesRequest;
import org.ctrlab.api.v1.ListBackbonesResponse;
import org.ctrlab.api.v1.ListDatasetsRequest;
import org.ctrlab.api.v1.ListDatasetsResponse;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.ListRunsResponse;
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
import org.ctrlab.api.v1.GetStudyRequest;
import org.ctrlab.api.v1.ListStudiesRequest;
import org.ctrlab.api.v1.ListStudiesResponse;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.TrainResponse;
import org.ctrlab.api.v1.WatchRunRequest;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DataFormatException;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.data.DatasetSpec;
import org.tensorflow.TensorFlow;

/** The gRPC face of ctrlab: maps requests to the {@link RunManager} and failures to clear status codes. */
public final class CtrlabService extends CtrlabGrpc.CtrlabImplBase {
  public static final String VERSION = "0.1.0";

  private final RunManager runs;
  private final RunConfigs configs;
  private final DatasetRegistry datasets;
  private final boolean authRequired;

  public CtrlabService(RunManager runs, RunConfigs configs, DatasetRegistry datasets, boolean authRequired) {
    this.runs = runs;
    this.configs = configs;
    this.datasets = datasets;
    this.authRequired = authRequired;
  }

  private static String user() {
    String u = Auth.USER.get();
    return u == null ? "local" : u;
  }

  /** Runs a unary call, turning exceptions into statuses. */
  private static <T> void unary(StreamObserver<T> out, Callable<T> body) {
    T result;
    try {
      result = body.call();
    } catch (Exception e) {
      out.onError(toStatus(e));
      return;
    }
    try {
      out.onNext(result);
      out.onCompleted();
    } catch (StatusRuntimeException | IllegalStateException gone) {
      // the client cancelled or went away; nothing to answer
    }
  }

  static StatusRuntimeException toStatus(Exception e) {
    if (e instanceof StatusRuntimeException s) {
      return s;
    }
    String msg = e.getMessage() == null ? e.toString() : e.getMessage();
    Status s;
    if (e instanceof NotFoundException) {
      s = Status.NOT_FOUND;
    } else if (e instanceof IllegalArgumentException || e instanceof DataFormatException) {
      s = Status.INVALID_ARGUMENT;
    } else if (e instanceof DatasetRegistry.MissingException || e instanceof IllegalStateException) {
      s = Status.FAILED_PRECONDITION;
    } else if (e instanceof SQLException) {
      s = Status.INTERNAL.withDescription("run store: " + msg);
      return s.asRuntimeException();
    } else {
      s = Status.INTERNAL;
    }
    return s.withDescription(msg).asRuntimeException();
  }

  private static void requireId(String id) {
    if (id.isEmpty()) {
      throw new IllegalArgumentException("run_id is required");
    }
  }

  @Override
  public void train(TrainRequest req, StreamObserver<TrainResponse> out) {
    unary(out, () -> {
      Run r = runs.submit(req, user());
      return TrainResponse.newBuilder().setRunId(r.getRunId()).setQueuePosition(runs.position(r.getRunId())).build();
    });
  }

  @Override
  public void getRun(GetRunRequest req, StreamObserver<Run> out) {
    unary(out, () -> {
      requireId(req.getRunId());
      return runs.get(req.getRunId());
    });
  }

  @Override
  public void listRuns(ListRunsRequest req, StreamObserver<ListRunsResponse> out) {
    unary(out, () -> {
      if (req.getLimit() < 0) {
        throw new IllegalArgumentException("limit must be >= 0");
      }
      return ListRunsResponse.newBuilder().addAllRuns(runs.list(req)).build();
    });
  }

  @Override
  public void cancelRun(CancelRunRequest req, StreamObserver<Run> out) {
    unary(out, () -> {
      requireId(req.getRunId());
      return runs.cancel(req.getRunId(), user());
    });
  }

  @Override
  public void watchRun(WatchRunRequest req, StreamObserver<RunEvent> out) {
    ServerCallStreamObserver<RunEvent> call = (ServerCallStreamObserver<RunEvent>) out;
    try {
      requireId(req.getRunId());
      if (req.getFromIndex() < 0) {
        throw new IllegalArgumentException("from_index must be >= 0");
      }
      Object lock = new Object();
      Runnable stop = runs.watch(req.getRunId(), req.getFromIndex(), new RunManager.Watcher() {
        @Override
        public void event(RunEvent e) {
          synchronized (lock) {
            if (call.isCancelled()) {
              throw new IllegalStateException("watcher gone");
            }
            call.onNext(e);
          }
        }

        @Override
        public void done() {
          synchronized (lock) {
            if (!call.isCancelled()) {
              call.onCompleted();
            }
          }
        }
      });
      call.setOnCancelHandler(stop);
    } catch (Exception e) {
      out.onError(toStatus(e));
    }
  }

  @Override
  public void evaluate(EvaluateRequest req, StreamObserver<EvaluateResponse> out) {
    unary(out, () -> {
      requireId(req.getRunId());
      for (int k : req.getRankingKList()) {
        if (k < 1 || k > 1000) {
          throw new IllegalArgumentException("ranking_k must be in [1, 1000], got " + k);
        }
      }
      if (req.getRankingNegatives() < 0 || req.getRankingNegatives() > 10_000) {
        throw new IllegalArgumentException("ranking_negatives must be in [0, 10000], got "
            + req.getRankingNegatives());
      }
      int negatives = req.getRankingNegatives() == 0 ? 100 : req.getRankingNegatives();
      return EvaluateResponse.newBuilder().setMetrics(runs.evaluate(req.getRunId(), split(req.getSplitValue()),
          req.getRankingKList(), negatives, req.getRankingSeed())).build();
    });
  }

  private static Split split(int value) {
    Split s = Split.forNumber(value);
    if (s == null) {
      throw new IllegalArgumentException("unknown split " + value + "; use TRAIN, VALID or TEST");
    }
    return s == Split.SPLIT_UNSPECIFIED ? Split.TEST : s;
  }

  @Override
  public void perturb(PerturbRequest req, StreamObserver<PerturbResponse> out) {
    unary(out, () -> {
      requireId(req.getRunId());
      if (req.getSigmasCount() == 0) {
        throw new IllegalArgumentException("sigmas is empty; give at least one noise level, e.g. 0, 0.01, 0.05");
      }
      for (double s : req.getSigmasList()) {
        if (!(s >= 0 && s <= 100)) {
          throw new IllegalArgumentException("every sigma must be in [0, 100], got " + s);
        }
      }
      PerturbMode mode = PerturbMode.forNumber(req.getModeValue());
      if (mode == null) {
        throw new IllegalArgumentException("unknown perturb mode " + req.getModeValue() + "; use INPUT or TABLES");
      }
      return PerturbResponse.newBuilder().addAllResults(runs.perturb(req.getRunId(), req.getSigmasList(),
          req.getNoiseSeed(), mode == PerturbMode.TABLES ? PerturbMode.TABLES : PerturbMode.INPUT,
          split(req.getSplitValue()))).build();
    });
  }

  @Override
  public void predict(PredictRequest req, StreamObserver<PredictBatch> out) {
    try {
      requireId(req.getRunId());
      if (req.getLimit() < 0) {
        throw new IllegalArgumentException("limit must be >= 0");
      }
      ServerCallStreamObserver<PredictBatch> call = (ServerCallStreamObserver<PredictBatch>) out;
      runs.predict(req.getRunId(), split(req.getSplitValue()), req.getLimit(), 2048, b -> {
        if (call.isCancelled()) {
          throw Status.CANCELLED.withDescription("client went away").asRuntimeException();
        }
        call.onNext(b);
      });
      out.onCompleted();
    } catch (Exception e) {
      if (!((ServerCallStreamObserver<PredictBatch>) out).isCancelled()) {
        out.onError(toStatus(e));
      }
    }
  }

  @Override
  public void inspect(InspectRequest req, StreamObserver<InspectResponse> out) {
    unary(out, () -> {
      requireId(req.getRunId());
      if (req.getLipschitzRows() < 0) {
        throw new IllegalArgumentException("lipschitz_rows must be >= 0");
      }
      InspectResponse r = runs.inspect(req.getRunId(), req.getPerStep());
      if (req.getLipschitz()) {
        int rows = req.getLipschitzRows() == 0 ? 10_000 : req.getLipschitzRows();
        r = r.toBuilder().setLipschitz(runs.lipschitz(req.getRunId(), rows)).build();
      }
      return r;
    });
  }

  @Override
  public void startStudy(StudyRequest req, StreamObserver<Study> out) {
    unary(out, () -> runs.startStudy(req, user()));
  }

  @Override
  public void getStudy(GetStudyRequest req, StreamObserver<Study> out) {
    unary(out, () -> {
      if (req.getStudyId().isEmpty()) {
        throw new IllegalArgumentException("study_id is required");
      }
      return runs.study(req.getStudyId());
    });
  }

  @Override
  public void listStudies(ListStudiesRequest req, StreamObserver<ListStudiesResponse> out) {
    unary(out, () -> ListStudiesResponse.newBuilder().addAllStudies(runs.studies(req.getLimit())).build());
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
        DatasetInfo.Builder d = DatasetInfo.newBuilder().setName(s.name).setDescription(s.description)
            .setAvailable(datasets.available(s.name)).setSource(datasets.dir(s.name).toString());
        datasets.cached(s.name).ifPresent((Dataset ds) -> d.setInteractions(ds.rows)
            .setUsers(ds.userVocab() - 1).setItems(ds.itemVocab() - 1)
            .addAllFields(ds.fields.stream().map(f -> f.name()).toList()));
        b.addDatasets(d);
      }
      return b.build();
    });
  }

  @Override
  public void getServerInfo(ServerInfoRequest req, StreamObserver<ServerInfo> out) {
    unary(out, () -> ServerInfo.newBuilder().setVersion(VERSION).setDevice(runs.device())
        .setTensorflowVersion(TensorFlow.version()).setQueueLength(runs.queueLength()).setWorkers(runs.workers())
        .setAuthRequired(authRequired).setUser(user()).setOnednn(org.ctrlab.server.Devices.oneDnn()).build());
  }
}
