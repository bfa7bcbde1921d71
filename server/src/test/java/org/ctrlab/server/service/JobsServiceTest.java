package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ctrlab.api.v1.CancelRunRequest;
import org.ctrlab.api.v1.CancelRunsRequest;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.StudyRequest;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.WatchRunRequest;
import org.ctrlab.server.TestData;
import org.ctrlab.server.auth.Auth;
import org.ctrlab.server.jobs.Supervisor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The queue as several users see it, and runs whose workers crash or are cancelled at any stage. */
class JobsServiceTest {
  @TempDir
  Path tmp;

  Path tokens() throws Exception {
    Path t = tmp.resolve("tokens.txt");
    Files.writeString(t, "alice token-a\nbob token-b\n");
    return t;
  }

  static CtrlabGrpc.CtrlabBlockingStub as(Fixture f, String user) {
    Metadata m = new Metadata();
    m.put(Auth.AUTHORIZATION, "Bearer token-" + user.charAt(0));
    return f.stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }

  static Run get(Fixture f, String id) {
    return as(f, "alice").getRun(GetRunRequest.newBuilder().setRunId(id).build());
  }

  static Run awaitState(Fixture f, String id, RunState... states) throws InterruptedException {
    return awaitState(as(f, "alice"), id, states);
  }

  static Run awaitState(CtrlabGrpc.CtrlabBlockingStub stub, String id, RunState... states)
      throws InterruptedException {
    List<RunState> want = List.of(states);
    long deadline = System.currentTimeMillis() + 120_000;
    Run r = null;
    while (System.currentTimeMillis() < deadline) {
      r = stub.getRun(GetRunRequest.newBuilder().setRunId(id).build());
      if (want.contains(r.getState())) {
        return r;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("run " + id + " is " + r.getState() + ", not " + want);
  }

  static Run awaitEnd(Fixture f, String id) throws InterruptedException {
    return awaitState(f, id, RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED);
  }

  static TrainRequest oneEpoch(String name) {
    return Fixture.quick().setMaxEpochs(1).setName(name).addTags("fair").build();
  }

  @Test
  void ownersAreServedInTurnsWithExactQueuePositions() throws Exception {
    try (Fixture f = new Fixture(tmp, tokens(), Map.of())) {
      String a1 = as(f, "alice").train(oneEpoch("a1")).getRunId();
      awaitState(f, a1, RunState.RUNNING);
      List<String> alice = new ArrayList<>();
      for (int i = 2; i <= 4; i++) {
        alice.add(as(f, "alice").train(oneEpoch("a" + i)).getRunId());
      }
      var bobResponse = as(f, "bob").train(oneEpoch("b1"));
      String b1 = bobResponse.getRunId();
      assertEquals(0, bobResponse.getQueuePosition(), "bob's single run is next, whatever alice queued");
      assertEquals(List.of(1, 2, 3), alice.stream().map(id -> get(f, id).getQueuePosition()).toList());
      // WatchRun tells a queued run where it stands.
      RunEvent q;
      try (io.grpc.Context.CancellableContext watch = io.grpc.Context.current().withCancellation()) {
        q = watch.call(() -> {
          Iterator<RunEvent> w = as(f, "bob").withDeadlineAfter(30, TimeUnit.SECONDS)
              .watchRun(WatchRunRequest.newBuilder().setRunId(alice.get(2)).build());
          while (w.hasNext()) {
            RunEvent e = w.next();
            if (e.hasQueue()) {
              return e;
            }
          }
          return null;
        });
      } // the watch is left before its end: cancelled, so its unread messages are released

      assertEquals(3, q.getQueue().getPosition());
      assertEquals(4, q.getQueue().getQueued());
      for (String id : alice) {
        awaitEnd(f, id);
      }
      List<String> byStart = new ArrayList<>(List.of(a1, b1, alice.get(0), alice.get(1), alice.get(2)));
      List<String> actual = new ArrayList<>(byStart);
      actual.sort((x, y) -> Long.compare(get(f, x).getStartedUnixMs(), get(f, y).getStartedUnixMs()));
      assertEquals(byStart, actual, "a1 was running; then bob's, then alice's in order");
    }
  }

  @Test
  void aPerUserCapRefusesWholeStudiesAndCancellingByTagOrStudyIsOneCall() throws Exception {
    try (Fixture f = new Fixture(tmp, tokens(), Map.of(),
        o -> o.limits(Limits.DEFAULTS.withMaxQueuedPerUser(4)))) {
      String running = as(f, "alice").train(Fixture.quick().setMaxEpochs(50).addTags("mine").build()).getRunId();
      awaitState(f, running, RunState.RUNNING);
      for (int i = 0; i < 4; i++) {
        as(f, "alice").train(Fixture.quick().addTags("mine").build());
      }
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> as(f, "alice").train(Fixture.quick().build()));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
      assertTrue(e.getStatus().getDescription().contains("at most 4 queued runs per user"),
          e.getStatus().getDescription());
      // bob is not held back by alice's queue.
      String bobs = as(f, "bob").train(Fixture.quick().addTags("mine").build()).getRunId();
      // A study counts its whole grid: two runs would pass bob's cap of 4 with his 1 and 4 more.
      StudyRequest grid = StudyRequest.newBuilder().setName("grid").setDataset("synthetic").addBackbones("DCNV2")
          .addSeeds(1).addSeeds(2).setBase(Fixture.quick()).build();
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, assertThrows(StatusRuntimeException.class,
          () -> as(f, "bob").startStudy(grid.toBuilder().addSeeds(3).build())).getStatus().getCode());
      assertEquals(1, as(f, "bob").listRuns(ListRunsRequest.newBuilder().setOwner("bob").build()).getRunsCount(),
          "a refused study queues nothing");
      var study = as(f, "bob").startStudy(grid.toBuilder().clearSeeds().addSeeds(1).build());
      assertEquals(2, study.getRunIdsCount());

      // One call cancels alice's five tagged runs (the running one included) and none of bob's.
      List<String> cancelled = as(f, "alice").cancelRuns(CancelRunsRequest.newBuilder().setTag("mine").build())
          .getRunIdsList();
      assertEquals(5, cancelled.size());
      assertTrue(cancelled.contains(running));
      for (String id : cancelled) {
        Run r = get(f, id);
        assertEquals(RunState.CANCELLED, r.getState());
        assertEquals("alice", r.getCancelledBy());
      }
      assertTrue(get(f, running).getMessage().startsWith("cancelled by alice in epoch"), get(f, running).getMessage());
      assertFalse(Supervisor.isFinal(get(f, bobs).getState()), "bob's run with the same tag is untouched");
      assertEquals(study.getRunIdsList().stream().sorted().toList(), as(f, "bob").cancelRuns(CancelRunsRequest
          .newBuilder().setStudyId(study.getStudyId()).build()).getRunIdsList().stream().sorted().toList());
      assertEquals(Status.Code.INVALID_ARGUMENT, assertThrows(StatusRuntimeException.class,
          () -> as(f, "bob").cancelRuns(CancelRunsRequest.getDefaultInstance())).getStatus().getCode());
      as(f, "bob").cancelRun(CancelRunRequest.newBuilder().setRunId(bobs).build());
    }
  }

  static long pid(Run r) {
    Matcher m = Pattern.compile("pid (\\d+)").matcher(r.getWorker());
    assertTrue(m.find(), r.getWorker());
    return Long.parseLong(m.group(1));
  }

  @Test
  void cancelStopsARunWhileItsGraphIsStillBeingBuilt() throws Exception {
    try (Fixture f = new Fixture(tmp, null, Map.of(), o -> o.limits(new Limits(64, 16, 5000, 50_000_000L, 200,
        20, 100, 1000, 500, 1 << 20, 1_000_000)))) {
      NumberList.Builder layers = NumberList.newBuilder();
      for (int i = 0; i < 3000; i++) {
        layers.addValues(1);
      }
      String id = f.stub.train(Fixture.quick().putHyperparameters("mlp_hidden_size",
          ParamValue.newBuilder().setList(layers).build()).build()).getRunId();
      Run r = awaitState(f, id, RunState.RUNNING);
      while (r.getWorker().isEmpty()) {
        r = get(f, id);
      }
      long pid = pid(r);
      Thread.sleep(3000); // well into building 3,000 layers, forward and backward
      assertEquals(0, get(f, id).getParameters(), "the model is not built yet");
      long t0 = System.nanoTime();
      Run c = f.stub.cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
      double seconds = (System.nanoTime() - t0) / 1e9;
      assertEquals(RunState.CANCELLED, c.getState());
      assertTrue(seconds < 5, "cancel took " + seconds + " s");
      assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "its worker is gone");
      assertEquals("cancelled by local in epoch 1", c.getMessage());
      assertEquals(0, c.getEpochsCount());
    }
  }

  @Test
  void aWorkerThatRunsOutOfMemoryFailsTheRunAfterItsAttempts() throws Exception {
    try (Fixture f = new Fixture(tmp, null, Map.of(), o -> o.maxAttempts(2).workerJvmOptions(List.of("-Xms4m", "-Xmx6m")))) {
      String id = f.stub.train(Fixture.quick().build()).getRunId();
      Run r = awaitEnd(f, id);
      assertEquals(RunState.FAILED, r.getState());
      assertEquals(2, r.getAttempt());
      assertEquals(2, r.getCrashes());
      assertTrue(r.getMessage().startsWith("the worker ran out of Java heap (exit status 3); 2 of 2 attempts ended"
          + " so in a row, with no new epoch between them, and it is not started again"), r.getMessage());
      assertTrue(r.getMessage().contains("OutOfMemoryError"), "the log's last lines are in the message");
    }
  }

  @Test
  void twoSlotsRunTwoWorkersAtOnceAndACrashEndsOnlyItsOwnRun() throws Exception {
    try (Fixture f = new Fixture(tmp, null, Map.of(), o -> o.slots(2).threads(0))) {
      String a = f.stub.train(Fixture.quick().setMaxEpochs(200).setName("a").build()).getRunId();
      String b = f.stub.train(Fixture.quick().setMaxEpochs(200).setName("b").build()).getRunId();
      Run ra = awaitWorker(f, a);
      Run rb = awaitWorker(f, b);
      assertTrue(pid(ra) != pid(rb), "two worker processes");
      // Each worker has its share of the cores: cores / slots TensorFlow threads.
      int share = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
      for (String id : List.of(a, b)) {
        String started = awaitLog(f, id, "worker ");
        assertTrue(started.contains(", " + share + " threads, "), started);
      }
      // A SIGKILL of a's worker: a goes on in a second attempt; b's worker and attempt are untouched.
      ProcessHandle.of(pid(ra)).orElseThrow().destroyForcibly();
      long deadline = System.currentTimeMillis() + 60_000;
      while (get(f, a).getAttempt() < 2 && System.currentTimeMillis() < deadline) {
        Thread.sleep(50);
      }
      assertEquals(2, get(f, a).getAttempt());
      assertEquals(1, get(f, a).getCrashes());
      Run b2 = get(f, b);
      assertEquals(RunState.RUNNING, b2.getState());
      assertEquals(1, b2.getAttempt());
      assertEquals(0, b2.getCrashes());
      assertEquals(pid(rb), pid(b2), "b's worker was not restarted");
      assertTrue(ProcessHandle.of(pid(rb)).map(ProcessHandle::isAlive).orElse(false));
      for (String id : List.of(a, b)) {
        f.stub.cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
      }
    }
  }

  @Test
  void aRunThatFailsByItselfIsNotStartedAgain() throws Exception {
    // Its dataset's files are gone by the time its worker loads them: a failure of the run's own, recorded by the
    // worker, which another attempt would meet again.
    Path gone = tmp.resolve("gone");
    TestData.small().write(gone);
    try (Fixture f = new Fixture(tmp, null, Map.of("ml-1m", gone))) {
      String first = f.stub.train(Fixture.quick().setMaxEpochs(200).build()).getRunId();
      awaitState(f, first, RunState.RUNNING);
      String id = f.stub.train(Fixture.quick().setDataset("ml-1m").build()).getRunId();
      assertEquals(RunState.QUEUED, get(f, id).getState());
      try (var files = Files.list(gone)) {
        for (Path p : files.toList()) {
          Files.delete(p);
        }
      }
      f.stub.cancelRun(CancelRunRequest.newBuilder().setRunId(first).build());
      Run r = awaitEnd(f, id);
      assertEquals(RunState.FAILED, r.getState(), r.getMessage());
      assertEquals(1, r.getAttempt(), "not started again");
      assertEquals(0, r.getCrashes());
      assertTrue(r.getMessage().contains("has no files in " + gone), r.getMessage());
    }
  }

  /** Waits for a run's worker to be started and recorded. */
  static Run awaitWorker(Fixture f, String id) throws InterruptedException {
    Run r = awaitState(f, id, RunState.RUNNING);
    long deadline = System.currentTimeMillis() + 60_000;
    while (r.getWorker().isEmpty() && System.currentTimeMillis() < deadline) {
      Thread.sleep(50);
      r = get(f, id);
    }
    return r;
  }

  /** The first stored log event of a run that starts with {@code prefix}, waiting for it. */
  static String awaitLog(Fixture f, String id, String prefix) throws Exception {
    // Left before its end: cancelled on the way out, so the client releases what it did not read.
    try (io.grpc.Context.CancellableContext watch = io.grpc.Context.current().withCancellation()) {
      return watch.call(() -> {
        Iterator<RunEvent> w = f.stub.withDeadlineAfter(60, TimeUnit.SECONDS)
            .watchRun(WatchRunRequest.newBuilder().setRunId(id).build());
        while (w.hasNext()) {
          RunEvent e = w.next();
          if (e.hasLog() && e.getLog().startsWith(prefix)) {
            return e.getLog();
          }
        }
        throw new AssertionError("no log event of run " + id + " starts with '" + prefix + "'");
      });
    }
  }
}
