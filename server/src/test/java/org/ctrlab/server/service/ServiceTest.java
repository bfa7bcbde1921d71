package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.CancelRunRequest;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.InspectRequest;
import org.ctrlab.api.v1.InspectResponse;
import org.ctrlab.api.v1.ListBackbonesRequest;
import org.ctrlab.api.v1.ListDatasetsRequest;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.Metrics;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.PerturbRequest;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.ServerInfoRequest;
import org.ctrlab.api.v1.Split;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.WatchRunRequest;
import org.ctrlab.server.auth.Auth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServiceTest {
  @TempDir
  Path tmp;

  static List<RunEvent> watch(Fixture f, String id, long from) {
    List<RunEvent> out = new ArrayList<>();
    f.stub.watchRun(WatchRunRequest.newBuilder().setRunId(id).setFromIndex(from).build())
        .forEachRemaining(e -> {
          if (!e.hasBatch() && !e.hasQueue()) { // live only, not part of the numbered history
            out.add(e);
          }
        });
    return out;
  }

  static Status.Code code(Runnable call) {
    return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
  }

  static String message(Runnable call) {
    return assertThrows(StatusRuntimeException.class, call::run).getStatus().getDescription();
  }

  @Test
  void trainWatchGetAndEvaluateBothHeads() throws Exception {
    try (Fixture f = new Fixture(tmp)) {
      for (Head head : List.of(Head.BINARY, Head.RATING)) {
        String id = f.stub.train(Fixture.quick().setHead(head).build()).getRunId();
        List<RunEvent> events = watch(f, id, 0);
        List<RunState> states = events.stream().filter(RunEvent::hasState).map(e -> e.getState().getState())
            .toList();
        assertEquals(List.of(RunState.QUEUED, RunState.RUNNING, RunState.SUCCEEDED), states);
        assertEquals(2, events.stream().filter(RunEvent::hasEpoch).count());
        for (int i = 0; i < events.size(); i++) {
          assertEquals(i, events.get(i).getIndex());
        }
        Run run = f.stub.getRun(GetRunRequest.newBuilder().setRunId(id).build());
        assertEquals(RunState.SUCCEEDED, run.getState());
        assertEquals(head, run.getResolved().getHead());
        assertEquals(0.7, run.getResolved().getRatingWeight(), 1e-12); // the default lambda_r
        assertEquals(2, run.getEpochsCount());
        assertTrue(run.getTest().getAuc() > 0.5 && run.getTest().getRows() > 1000, run.getTest().toString());
        Metrics test = f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(id).build()).getMetrics();
        assertEquals(run.getTest().getAuc(), test.getAuc(), 1e-6);
        assertEquals(run.getTest().getLogloss(), test.getLogloss(), 1e-6);
        Metrics valid = f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(id).setSplit(Split.VALID).build())
            .getMetrics();
        assertEquals(run.getValid().getAuc(), valid.getAuc(), 1e-6);
        InspectResponse in = f.stub.inspect(InspectRequest.newBuilder().setRunId(id).setPerStep(true).build());
        assertEquals(2, in.getEpochsCount());
        assertEquals(3, in.getEpochs(0).getGradientCount());
        assertTrue(in.getStepsCount() > 0);
        assertTrue(in.getWeightNormsOrThrow("user_item") > 0);
      }
    }
  }

  @Test
  void watchResumesFromAnIndexWithoutLosingOrRepeatingEvents() throws Exception {
    try (Fixture f = new Fixture(tmp)) {
      String id = f.stub.train(Fixture.quick().build()).getRunId();
      List<RunEvent> all = watch(f, id, 0);
      for (int k : new int[] {1, 3, all.size() - 1, all.size()}) {
        List<RunEvent> tail = watch(f, id, k);
        assertEquals(all.subList(k, all.size()), tail, "resuming from " + k);
      }
    }
  }

  @Test
  void badRequestsGetClearStatusesAndStoreNothing() throws Exception {
    Path bad = tmp.resolve("bad-ml1m");
    Files.createDirectories(bad);
    Files.writeString(bad.resolve("ratings.dat"), "1::10::5\n1::20::3\n1::30\n", StandardCharsets.UTF_8);
    try (Fixture f = new Fixture(tmp, null, Map.of("ml-1m", bad))) {
      String ok = f.stub.train(Fixture.quick().build()).getRunId();
      watch(f, ok, 0);
      Run before = f.stub.getRun(GetRunRequest.newBuilder().setRunId(ok).build());

      assertTrue(message(() -> f.stub.train(Fixture.quick().setBackbone("DeepFM").build()))
          .startsWith("unknown backbone 'DeepFM'"));
      assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> f.stub.train(Fixture.quick().setBackbone("X").build())));
      assertEquals("rating_weight must be in [0, 1], got -0.1",
          message(() -> f.stub.train(Fixture.quick().setRatingWeight(-0.1).build())));
      assertEquals("rating_weight must be in [0, 1], got 1.5",
          message(() -> f.stub.train(Fixture.quick().setRatingWeight(1.5).build())));
      assertTrue(message(() -> f.stub.train(Fixture.quick().setDataset("netflix").build()))
          .startsWith("unknown dataset 'netflix'"));
      assertTrue(message(() -> f.stub.train(Fixture.quick().putHyperparameters("depth",
          ParamValue.newBuilder().setNumber(3).build()).build())).startsWith("unknown hyperparameter 'depth'"));
      assertEquals("DCNV2 hyperparameter mlp_hidden_size must be in [1, 8192], got 0",
          message(() -> f.stub.train(Fixture.quick().putHyperparameters("mlp_hidden_size", ParamValue.newBuilder()
              .setList(NumberList.newBuilder().addValues(64).addValues(0)).build()).build())));
      assertEquals("ratings.dat line 3: expected 3 or 4 fields separated by '::', found 2",
          message(() -> f.stub.train(Fixture.quick().setDataset("ml-1m").build())));
      assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> f.stub.train(Fixture.quick().setDataset("ml-1m")
          .build())));

      String unknown = "0123456789ab";
      for (Runnable call : List.<Runnable>of(
          () -> f.stub.getRun(GetRunRequest.newBuilder().setRunId(unknown).build()),
          () -> f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(unknown).build()),
          () -> f.stub.cancelRun(CancelRunRequest.newBuilder().setRunId(unknown).build()),
          () -> f.stub.inspect(InspectRequest.newBuilder().setRunId(unknown).build()),
          () -> watch(f, unknown, 0))) {
        assertEquals(Status.Code.NOT_FOUND, code(call));
      }
      assertEquals("no run with id '0123456789ab'",
          message(() -> f.stub.getRun(GetRunRequest.newBuilder().setRunId(unknown).build())));
      // A malformed id is refused for its form, and not echoed back in full.
      String huge = "x".repeat(100_000);
      for (Runnable call : List.<Runnable>of(
          () -> f.stub.getRun(GetRunRequest.newBuilder().setRunId(huge).build()),
          () -> f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(huge).build()),
          () -> f.stub.cancelRun(CancelRunRequest.newBuilder().setRunId(huge).build()),
          () -> watch(f, huge, 0))) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().length() < 200, e.getStatus().getDescription());
        assertTrue(e.getStatus().getDescription().contains("100,000 characters"), e.getStatus().getDescription());
      }
      // A message that echoes a long input is cut, so that it still arrives as the status it is (over the wire, a
      // description past the peer's 8 KiB metadata limit comes back as a transport error instead).
      StatusRuntimeException longName = assertThrows(StatusRuntimeException.class,
          () -> f.stub.train(Fixture.quick().setBackbone("A".repeat(20_000)).build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, longName.getStatus().getCode());
      String d = longName.getStatus().getDescription();
      assertTrue(d.startsWith("unknown backbone 'AAA") && d.length() < 3_100 && d.endsWith("characters)"), d);
      // Characters outside ASCII take up to 12 bytes each on the wire: the cut counts those, not characters.
      StatusRuntimeException wide = assertThrows(StatusRuntimeException.class,
          () -> f.stub.train(Fixture.quick().setBackbone("\uD83D\uDE00".repeat(5_000)).build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, wide.getStatus().getCode());
      assertTrue(wide.getStatus().getDescription().endsWith("characters)"), wide.getStatus().getDescription());
      assertTrue(message(() -> f.stub.perturb(PerturbRequest.newBuilder().setRunId(ok).build()))
          .startsWith("sigmas is empty"));
      assertEquals("unknown split 9; use TRAIN, VALID or TEST", message(() -> f.stub.evaluate(
          EvaluateRequest.newBuilder().setRunId(ok).setSplitValue(9).build())));

      List<Run> after = f.stub.listRuns(ListRunsRequest.getDefaultInstance()).getRunsList();
      assertEquals(List.of(before), after);
    }
  }

  @Test
  void historySurvivesARestart() throws Exception {
    Run done;
    String queuedId;
    try (Fixture f = new Fixture(tmp)) {
      String id = f.stub.train(Fixture.quick().addTags("restart").setName("first").build()).getRunId();
      watch(f, id, 0);
      done = f.stub.getRun(GetRunRequest.newBuilder().setRunId(id).build());
    }
    try (Fixture f = new Fixture(tmp)) {
      assertEquals(done, f.stub.getRun(GetRunRequest.newBuilder().setRunId(done.getRunId()).build()));
      assertEquals(List.of(done), f.stub.listRuns(ListRunsRequest.newBuilder().setTag("restart").build())
          .getRunsList());
      assertEquals(done.getTest().getAuc(), f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(done.getRunId())
          .build()).getMetrics().getAuc(), 1e-6);
      assertTrue(f.stub.listRuns(ListRunsRequest.newBuilder().setTag("other").build()).getRunsList().isEmpty());
    }
  }

  @Test
  void aQueuedRunCanBeCancelled() throws Exception {
    try (Fixture f = new Fixture(tmp)) {
      String first = f.stub.train(Fixture.quick().setMaxEpochs(3).build()).getRunId();
      String second = f.stub.train(Fixture.quick().build()).getRunId();
      Run c = f.stub.cancelRun(CancelRunRequest.newBuilder().setRunId(second).build());
      assertEquals(RunState.CANCELLED, c.getState());
      watch(f, first, 0);
      assertEquals(RunState.SUCCEEDED, f.stub.getRun(GetRunRequest.newBuilder().setRunId(first).build()).getState());
      assertEquals(RunState.CANCELLED, f.stub.getRun(GetRunRequest.newBuilder().setRunId(second).build()).getState());
      assertEquals(List.of(RunState.CANCELLED), f.stub.listRuns(ListRunsRequest.newBuilder()
          .addStates(RunState.CANCELLED).build()).getRunsList().stream().map(Run::getState).toList());
    }
  }

  @Test
  void tokensIdentifyUsersAndAMissingTokenIsRefused() throws Exception {
    Path tokens = tmp.resolve("tokens.txt");
    Files.writeString(tokens, "# user token\nalice s3cret-a\nbob s3cret-b\n");
    try (Fixture f = new Fixture(tmp, tokens, Map.of())) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> f.stub.getServerInfo(ServerInfoRequest.getDefaultInstance()));
      assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
      assertTrue(e.getStatus().getDescription().contains("authorization: Bearer"));
      Metadata wrong = new Metadata();
      wrong.put(Auth.AUTHORIZATION, "Bearer nope");
      assertEquals(Status.Code.UNAUTHENTICATED, code(() -> f.stub.withInterceptors(
          MetadataUtils.newAttachHeadersInterceptor(wrong)).getServerInfo(ServerInfoRequest.getDefaultInstance())));
      Metadata bob = new Metadata();
      bob.put(Auth.AUTHORIZATION, "Bearer s3cret-b");
      var asBob = f.stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bob));
      assertEquals("bob", asBob.getServerInfo(ServerInfoRequest.getDefaultInstance()).getUser());
      String id = asBob.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      assertEquals("bob", asBob.getRun(GetRunRequest.newBuilder().setRunId(id).build()).getOwner());
      asBob.cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
    }
  }

  @Test
  void catalogListsBackbonesWithRangesAndDatasets() throws Exception {
    try (Fixture f = new Fixture(tmp)) {
      var b = f.stub.listBackbones(ListBackbonesRequest.getDefaultInstance());
      var dcn = b.getBackbonesList().stream().filter(x -> x.getName().equals("DCNV2")).findFirst().orElseThrow();
      var mlp = dcn.getHyperparametersList().stream().filter(p -> p.getName().equals("mlp_hidden_size"))
          .findFirst().orElseThrow();
      assertTrue(mlp.getIsList());
      assertEquals(List.of(256.0, 256.0, 256.0), mlp.getDefaultValue().getList().getValuesList());
      // A backbone's own training defaults (configs/models), beside the shared ones (configs/training.yaml).
      var wide = b.getBackbonesList().stream().filter(x -> x.getName().equals("WideDeep")).findFirst().orElseThrow();
      var lr = wide.getTrainingList().stream().filter(p -> p.getName().equals("learning_rate")).findFirst()
          .orElseThrow();
      assertEquals(0.005, lr.getDefaultValue().getNumber(), 1e-12);
      assertEquals(1e-7, lr.getMin(), 1e-20);
      assertEquals(0.001, b.getTrainingList().stream().filter(p -> p.getName().equals("learning_rate")).findFirst()
          .orElseThrow().getDefaultValue().getNumber(), 1e-12);
      var xdeep = b.getBackbonesList().stream().filter(x -> x.getName().equals("xDeepFM")).findFirst().orElseThrow();
      assertEquals(List.of("learning_rate", "eval_batch_size"),
          xdeep.getTrainingList().stream().map(p -> p.getName()).toList());
      var d = f.stub.listDatasets(ListDatasetsRequest.getDefaultInstance());
      assertTrue(d.getDatasetsList().stream().anyMatch(x -> x.getName().equals("synthetic") && x.getAvailable()));
    }
  }
}
