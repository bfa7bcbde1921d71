package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.CancelRunRequest;
import org.ctrlab.api.v1.CancelRunsRequest;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.DeleteRunRequest;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.InspectRequest;
import org.ctrlab.api.v1.ListDatasetsRequest;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.PerturbRequest;
import org.ctrlab.api.v1.PredictRequest;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.ServerInfoRequest;
import org.ctrlab.api.v1.WatchRunRequest;
import org.ctrlab.server.auth.TokenFile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who may do what, over a real server on loopback with tokens made by 'ctrlab-server token add'. */
class SecurityTest {
  @TempDir
  Path tmp;

  Path tokens;
  String alice;
  String bob;
  String ops;

  @BeforeEach
  void tokens() throws Exception {
    tokens = tmp.resolve("tokens.txt");
    alice = TokenFile.add(tokens, "alice", false);
    bob = TokenFile.add(tokens, "bob", false);
    ops = TokenFile.add(tokens, "ops", true);
  }

  static CtrlabGrpc.CtrlabBlockingStub as(Fixture f, String token) {
    Metadata m = new Metadata();
    m.put(org.ctrlab.server.auth.Auth.AUTHORIZATION, "Bearer " + token);
    return f.stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }

  static StatusRuntimeException refused(Status.Code code, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    return e;
  }

  @Test
  void onlyTheOwnerOrAnAdminCancelsOrDeletesARun() throws Exception {
    try (Fixture f = new Fixture(tmp, tokens, Map.of())) {
      String id = as(f, alice).train(Fixture.quick().setMaxEpochs(100).build()).getRunId();
      JobsServiceTest.awaitState(as(f, alice), id, RunState.RUNNING);
      StatusRuntimeException e = refused(Status.Code.PERMISSION_DENIED,
          () -> as(f, bob).cancelRun(CancelRunRequest.newBuilder().setRunId(id).build()));
      assertEquals("run " + id + " belongs to alice; only alice or an admin can cancel it",
          e.getStatus().getDescription());
      assertEquals(RunState.RUNNING, as(f, bob).getRun(GetRunRequest.newBuilder().setRunId(id).build()).getState(),
          "bob reads it (visibility all) but his cancel did nothing");
      refused(Status.Code.PERMISSION_DENIED, () -> as(f, bob).deleteRun(DeleteRunRequest.newBuilder().setRunId(id)
          .build()));
      Run c = as(f, ops).cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
      assertEquals(RunState.CANCELLED, c.getState());
      assertEquals("ops", c.getCancelledBy());
      assertTrue(c.getMessage().startsWith("cancelled by ops in epoch "), c.getMessage());
      // bob's tag-wide cancel touches only his own runs; another's study is refused.
      String tagged = as(f, alice).train(Fixture.quick().setMaxEpochs(50).addTags("shared-tag").build()).getRunId();
      assertEquals(0, as(f, bob).cancelRuns(CancelRunsRequest.newBuilder().setTag("shared-tag").build())
          .getRunIdsCount());
      assertTrue(List.of(RunState.QUEUED, RunState.RUNNING).contains(as(f, bob).getRun(GetRunRequest.newBuilder()
          .setRunId(tagged).build()).getState()), "bob's call left alice's run alone");
      assertEquals(List.of(tagged), as(f, alice).cancelRuns(CancelRunsRequest.newBuilder().setTag("shared-tag")
          .build()).getRunIdsList(), "alice's own tag-wide cancel takes it");
      var st = as(f, alice).startStudy(org.ctrlab.api.v1.StudyRequest.newBuilder().setName("s")
          .setDataset("synthetic").addBackbones("DCNV2").setBase(Fixture.quick().setMaxEpochs(50)).build());
      refused(Status.Code.PERMISSION_DENIED, () -> as(f, bob).cancelRuns(CancelRunsRequest.newBuilder()
          .setStudyId(st.getStudyId()).build()));
      assertEquals(2, as(f, ops).cancelRuns(CancelRunsRequest.newBuilder().setStudyId(st.getStudyId()).build())
          .getRunIdsCount(), "an admin cancels anyone's study");
      as(f, ops).deleteRun(DeleteRunRequest.newBuilder().setRunId(id).build());
    }
  }

  @Test
  void withVisibilityOwnEveryReadIsChecked() throws Exception {
    try (Fixture f = new Fixture(tmp, tokens, Map.of(), o -> o.visibility(Visibility.OWN))) {
      String id = as(f, alice).train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      JobsServiceTest.awaitState(as(f, alice), id, RunState.SUCCEEDED);
      var b = as(f, bob);
      for (Runnable call : List.<Runnable>of(
          () -> b.getRun(GetRunRequest.newBuilder().setRunId(id).build()),
          () -> b.watchRun(WatchRunRequest.newBuilder().setRunId(id).build()).hasNext(),
          () -> b.evaluate(EvaluateRequest.newBuilder().setRunId(id).build()),
          () -> b.perturb(PerturbRequest.newBuilder().setRunId(id).addSigmas(0).build()),
          () -> b.inspect(InspectRequest.newBuilder().setRunId(id).build()),
          () -> b.predict(PredictRequest.newBuilder().setRunId(id).build()).hasNext(),
          () -> b.listRuns(ListRunsRequest.newBuilder().setOwner("alice").build()))) {
        StatusRuntimeException e = refused(Status.Code.PERMISSION_DENIED, call);
        assertTrue(e.getStatus().getDescription().contains("--visibility own"), e.getStatus().getDescription());
        assertFalse(e.getStatus().getDescription().contains("alice"), "who owns a run is private under own: "
            + e.getStatus().getDescription());
      }
      for (Runnable call : List.<Runnable>of(
          () -> b.cancelRun(CancelRunRequest.newBuilder().setRunId(id).build()),
          () -> b.deleteRun(DeleteRunRequest.newBuilder().setRunId(id).build()))) {
        StatusRuntimeException e = refused(Status.Code.PERMISSION_DENIED, call);
        assertFalse(e.getStatus().getDescription().contains("alice"), e.getStatus().getDescription());
      }
      assertEquals(0, b.listRuns(ListRunsRequest.getDefaultInstance()).getRunsCount(), "bob lists his own: none");
      assertEquals(1, as(f, alice).listRuns(ListRunsRequest.getDefaultInstance()).getRunsCount());
      assertEquals(1, as(f, ops).listRuns(ListRunsRequest.getDefaultInstance()).getRunsCount(), "admins read all");
      as(f, ops).evaluate(EvaluateRequest.newBuilder().setRunId(id).build());
      assertEquals("own", b.getServerInfo(ServerInfoRequest.getDefaultInstance()).getVisibility());
      var st = as(f, alice).startStudy(org.ctrlab.api.v1.StudyRequest.newBuilder().setName("s")
          .setDataset("synthetic").addBackbones("DCNV2").setBase(Fixture.quick().setMaxEpochs(50)).build());
      StatusRuntimeException e = refused(Status.Code.PERMISSION_DENIED, () -> b.getStudy(
          org.ctrlab.api.v1.GetStudyRequest.newBuilder().setStudyId(st.getStudyId()).build()));
      assertTrue(e.getStatus().getDescription().contains("--visibility own"), e.getStatus().getDescription());
      assertEquals(0, b.listStudies(org.ctrlab.api.v1.ListStudiesRequest.getDefaultInstance()).getStudiesCount());
      assertEquals(1, as(f, alice).listStudies(org.ctrlab.api.v1.ListStudiesRequest.getDefaultInstance())
          .getStudiesCount());
      // Bob's newer study does not crowd alice's out of her page of one.
      var bobs = b.startStudy(org.ctrlab.api.v1.StudyRequest.newBuilder().setName("t").setDataset("synthetic")
          .addBackbones("DCNV2").setBase(Fixture.quick().setMaxEpochs(50)).build());
      assertEquals(List.of(st.getStudyId()), as(f, alice).listStudies(org.ctrlab.api.v1.ListStudiesRequest
          .newBuilder().setLimit(1).build()).getStudiesList().stream().map(org.ctrlab.api.v1.Study::getStudyId)
          .toList());
      b.cancelRuns(CancelRunsRequest.newBuilder().setStudyId(bobs.getStudyId()).build());
      // A study's name is bounded as a run's is.
      StatusRuntimeException longName = refused(Status.Code.INVALID_ARGUMENT, () -> b.startStudy(
          org.ctrlab.api.v1.StudyRequest.newBuilder().setName("n".repeat(100_000)).setDataset("synthetic")
              .addBackbones("DCNV2").setBase(Fixture.quick().setName("r")).build()));
      assertTrue(longName.getStatus().getDescription().contains("--max-name-length"),
          longName.getStatus().getDescription());
      // The queue at a glance: bob sees only his own line, alice hers, an admin everyone's.
      assertEquals(Map.of(), b.getServerInfo(ServerInfoRequest.getDefaultInstance()).getQueuedByUserMap());
      assertEquals(java.util.Set.of("alice"), as(f, ops).getServerInfo(ServerInfoRequest.getDefaultInstance())
          .getQueuedByUserMap().keySet(), "one slot: at least one of the two study runs waits");
      as(f, alice).cancelRuns(CancelRunsRequest.newBuilder().setStudyId(st.getStudyId()).build());
    }
  }

  @Test
  void reflectionNeedsATokenTheHealthCheckDoesNot() throws Exception {
    try (Fixture f = new Fixture(tmp, tokens, Map.of())) {
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(f.channel)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus());
      assertEquals(Status.Code.UNAUTHENTICATED, reflect(f, null).getCode());
      assertEquals(Status.Code.OK, reflect(f, alice).getCode());
      // Datasets: where the files are is for admins.
      var plain = as(f, alice).listDatasets(ListDatasetsRequest.getDefaultInstance());
      assertTrue(plain.getDatasetsList().stream().allMatch(d -> !d.getSource().contains("/")), plain.toString());
      var admin = as(f, ops).listDatasets(ListDatasetsRequest.getDefaultInstance());
      assertTrue(admin.getDatasetsList().stream().anyMatch(d -> d.getSource().contains(tmp.toString())));
    }
  }

  /** Lists services by reflection; returns how the call ended. */
  static Status reflect(Fixture f, String token) throws Exception {
    var stub = ServerReflectionGrpc.newStub(f.channel);
    if (token != null) {
      Metadata m = new Metadata();
      m.put(org.ctrlab.server.auth.Auth.AUTHORIZATION, "Bearer " + token);
      stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
    }
    CompletableFuture<Status> done = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> req = stub.serverReflectionInfo(new StreamObserver<>() {
      @Override
      public void onNext(ServerReflectionResponse r) {
        if (r.hasListServicesResponse()) {
          assertTrue(r.getListServicesResponse().getServiceList().stream()
              .anyMatch(s -> s.getName().equals("ctrlab.v1.Ctrlab")));
        }
      }

      @Override
      public void onError(Throwable t) {
        done.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        done.complete(Status.OK);
      }
    });
    req.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    req.onCompleted();
    return done.get(10, TimeUnit.SECONDS);
  }

  @Test
  void tokensAddedOrRevokedTakeEffectWithoutARestart() throws Exception {
    try (Fixture f = new Fixture(tmp, tokens, Map.of())) {
      assertEquals("bob", as(f, bob).getServerInfo(ServerInfoRequest.getDefaultInstance()).getUser());
      assertEquals(0, token("revoke", "bob"));
      assertEquals(1, token("revoke", "bob"), "no user bob any more");
      String carol = TokenFile.add(tokens, "carol", false);
      Thread.sleep(1200);
      StatusRuntimeException e = refused(Status.Code.UNAUTHENTICATED,
          () -> as(f, bob).getServerInfo(ServerInfoRequest.getDefaultInstance()));
      assertEquals("unknown or revoked token", e.getStatus().getDescription());
      assertTrue(!e.getStatus().getDescription().contains(bob));
      assertEquals("carol", as(f, carol).getServerInfo(ServerInfoRequest.getDefaultInstance()).getUser());
      assertEquals("alice", as(f, alice).getServerInfo(ServerInfoRequest.getDefaultInstance()).getUser());
      java.io.PrintStream out = System.out;
      java.io.ByteArrayOutputStream listed = new java.io.ByteArrayOutputStream();
      System.setOut(new java.io.PrintStream(listed, true, java.nio.charset.StandardCharsets.UTF_8));
      try {
        assertEquals(0, token("list"));
      } finally {
        System.setOut(out);
      }
      assertEquals(List.of("alice", "ops  admin", "carol"), listed.toString(java.nio.charset.StandardCharsets.UTF_8)
          .lines().toList());
      // Revoking the last users leaves a file with nobody in it: every token is refused, none kept from before.
      for (String u : List.of("alice", "ops", "carol")) {
        assertEquals(0, token("revoke", u));
      }
      Thread.sleep(1200);
      refused(Status.Code.UNAUTHENTICATED, () -> as(f, alice).getServerInfo(ServerInfoRequest.getDefaultInstance()));
      String dave = TokenFile.add(tokens, "dave", false);
      Thread.sleep(1200);
      assertEquals("dave", as(f, dave).getServerInfo(ServerInfoRequest.getDefaultInstance()).getUser());
      // A removed token file refuses everyone too (fail closed), until it is back.
      java.nio.file.Files.delete(tokens);
      Thread.sleep(1200);
      refused(Status.Code.UNAUTHENTICATED, () -> as(f, dave).getServerInfo(ServerInfoRequest.getDefaultInstance()));
    }
  }

  /** Runs 'ctrlab-server token ARGS --file tokens' and returns its exit code. */
  int token(String... args) {
    List<String> a = new java.util.ArrayList<>(List.of(args));
    a.addAll(List.of("--file", tokens.toString()));
    return new picocli.CommandLine(new org.ctrlab.server.auth.TokenCommand()).execute(a.toArray(String[]::new));
  }
}
