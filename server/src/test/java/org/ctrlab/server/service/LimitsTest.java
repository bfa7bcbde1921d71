package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.PerturbRequest;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.WatchRunRequest;
import org.ctrlab.server.data.SyntheticData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Oversized requests are refused before any work; analysis calls stop when their caller gives up. */
class LimitsTest {
  @TempDir
  Path tmp;

  static String message(Status.Code code, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    return e.getStatus().getDescription();
  }

  /** An observer of a call that keeps only how it ended. */
  static <T> StreamObserver<T> endsIn(CompletableFuture<Status> ended) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {}

      @Override
      public void onError(Throwable t) {
        ended.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        ended.complete(Status.OK);
      }
    };
  }

  static ParamValue list(int n, double v) {
    NumberList.Builder b = NumberList.newBuilder();
    for (int i = 0; i < n; i++) {
      b.addValues(v);
    }
    return ParamValue.newBuilder().setList(b).build();
  }

  @Test
  void oversizedRequestsAreRefusedAndStoreNothing() throws Exception {
    try (Fixture f = new Fixture(tmp)) {
      var s = f.stub;
      long t0 = System.nanoTime();
      assertTrue(message(Status.Code.INVALID_ARGUMENT, () -> s.train(Fixture.quick()
          .putHyperparameters("mlp_hidden_size", list(10_000, 1)).build()))
          .contains("has 10,000 values; at most 64 (--max-list-length)"));
      assertTrue((System.nanoTime() - t0) / 1e9 < 2, "refused at once");
      assertTrue(message(Status.Code.INVALID_ARGUMENT, () -> s.train(Fixture.quick().setEmbeddingSize(1024)
          .putHyperparameters("mlp_hidden_size", list(3, 8192)).build()))
          .matches("DCNV2 with these hyperparameters on synthetic has [\\d,]+ trainable parameters; at most"
              + " 50,000,000 \\(--max-parameters\\)"));
      assertTrue(message(Status.Code.INVALID_ARGUMENT, () -> s.train(Fixture.quick().setName("n".repeat(300))
          .build())).startsWith("name has 300 characters; at most 200"));
      TrainRequest.Builder tags = Fixture.quick();
      for (int i = 0; i < 21; i++) {
        tags.addTags("t" + i);
      }
      assertTrue(message(Status.Code.INVALID_ARGUMENT, () -> s.train(tags.build())).startsWith("21 tags; at most 20"));
      assertTrue(message(Status.Code.INVALID_ARGUMENT, () -> s.train(Fixture.quick().addTags("t".repeat(101))
          .build())).contains("must have 1 to 100 characters (--max-tag-length)"));
      org.ctrlab.api.v1.StudyRequest.Builder big = org.ctrlab.api.v1.StudyRequest.newBuilder().setName("big")
          .setDataset("synthetic").addBackbones("DCNV2").setBase(Fixture.quick());
      for (int seed = 1; seed <= 251; seed++) {
        big.addSeeds(seed); // 2 heads x 251 seeds = 502 runs
      }
      assertEquals("a study of 502 runs is too large (at most 500, --max-study-runs)",
          message(Status.Code.INVALID_ARGUMENT, () -> s.startStudy(big.build())));
      for (int i = 0; i < 399; i++) {
        big.addBackbones("DCNV2");
      }
      long t1 = System.nanoTime();
      assertEquals("a study of 200,800 runs is too large (at most 500, --max-study-runs)",
          message(Status.Code.INVALID_ARGUMENT, () -> s.startStudy(big.build())), "counted, not built");
      assertTrue((System.nanoTime() - t1) / 1e9 < 2, "refused at once");
      // A 2 MB name is refused by the transport before the service sees it.
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, assertThrows(StatusRuntimeException.class,
          () -> s.train(Fixture.quick().setName("n".repeat(2 << 20)).build())).getStatus().getCode());
      assertEquals(0, s.listRuns(ListRunsRequest.getDefaultInstance()).getRunsCount(), "nothing was stored");

      String id = s.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      ServiceTest.watch(f, id, 0);
      PerturbRequest.Builder p = PerturbRequest.newBuilder().setRunId(id);
      for (int i = 0; i < 65; i++) {
        p.addSigmas(i * 0.001);
      }
      assertEquals("65 sigmas; at most 64 per call (--max-sigmas)",
          message(Status.Code.INVALID_ARGUMENT, () -> s.perturb(p.build())));
      EvaluateRequest.Builder ev = EvaluateRequest.newBuilder().setRunId(id);
      for (int k = 1; k <= 17; k++) {
        ev.addRankingK(k);
      }
      assertEquals("17 ranking_k values; at most 16 (--max-ranking-k)",
          message(Status.Code.INVALID_ARGUMENT, () -> s.evaluate(ev.build())));
    }
  }

  @Test
  void analysisCallsStopWhenTheirDeadlinePassesAndFreeThePool() throws Exception {
    new SyntheticData(4000, 500, 20, 30, 5).write(tmp.resolve("data").resolve("synthetic"));
    try (Fixture f = new Fixture(tmp)) {
      String id = f.stub.train(Fixture.quick().setMaxEpochs(1).setBatchSize(4096).build()).getRunId();
      ServiceTest.watch(f, id, 0);
      PerturbRequest.Builder p = PerturbRequest.newBuilder().setRunId(id);
      for (int i = 0; i < 64; i++) {
        p.addSigmas(0.01 + i * 0.001);
      }
      long t0 = System.nanoTime();
      f.stub.perturb(p.build());
      double full = (System.nanoTime() - t0) / 1e9;
      assertTrue(full > 1, "a 64-sigma perturbation takes long enough to see it stop (" + full + " s)");
      // Two such calls (the pool's two threads) whose clients give up at once...
      for (int i = 0; i < 2; i++) {
        assertEquals(Status.Code.DEADLINE_EXCEEDED, assertThrows(StatusRuntimeException.class,
            () -> f.stub.withDeadlineAfter(200, TimeUnit.MILLISECONDS).perturb(p.build())).getStatus().getCode());
      }
      // ... stop at their next batch: an evaluation right after does not wait for them.
      long t1 = System.nanoTime();
      f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(id).build());
      double waited = (System.nanoTime() - t1) / 1e9;
      assertTrue(waited < full / 2, "evaluate waited " + waited + " s; a full perturbation takes " + full + " s");

      // The pool (2 threads, 8 waiting, 4 of one user) refuses what it cannot hold, saying so; the others give up at
      // 2 s.
      List<CompletableFuture<Status>> burst = new java.util.ArrayList<>();
      for (int i = 0; i < 12; i++) {
        CompletableFuture<Status> done = new CompletableFuture<>();
        burst.add(done);
        CtrlabGrpc.newStub(f.channel).withDeadlineAfter(2, TimeUnit.SECONDS).perturb(p.build(), endsIn(done));
      }
      List<Status> ends = new java.util.ArrayList<>();
      for (CompletableFuture<Status> b : burst) {
        ends.add(b.get(30, TimeUnit.SECONDS));
      }
      List<Status> refused = ends.stream().filter(x -> x.getCode() == Status.Code.RESOURCE_EXHAUSTED).toList();
      // One user holds at most 2 running and 4 waiting (half the queue of 8), so at least 6 are refused.
      assertTrue(refused.size() >= 6, ends.toString());
      assertTrue(refused.get(0).getDescription().matches("local has \\d+ analysis calls waiting and \\d+ running:"
          + " at most 4 may wait per user; try again when some have finished"), refused.get(0).getDescription());
      assertTrue(ends.stream().allMatch(x -> x.getCode() == Status.Code.RESOURCE_EXHAUSTED
          || x.getCode() == Status.Code.DEADLINE_EXCEEDED || x.isOk()), "the others ended by their deadline: " + ends);

      // A graceful stop does not wait for an analysis call: it ends at its next batch, and the stop takes seconds.
      CompletableFuture<Status> perturbEnded = new CompletableFuture<>();
      CtrlabGrpc.newStub(f.channel).perturb(p.build(), endsIn(perturbEnded));
      Thread.sleep(300);
      long t2 = System.nanoTime();
      f.server.close();
      double stop = (System.nanoTime() - t2) / 1e9;
      assertTrue(stop < 5, "the stop took " + stop + " s");
      Status st = perturbEnded.get(10, TimeUnit.SECONDS);
      assertTrue(st.getCode() != Status.Code.OK, "the perturbation was stopped, not finished: " + st);
    }
  }

  @Test
  void aStoppingServerEndsWatchersWithAClearStatusAndSoon() throws Exception {
    Fixture f = new Fixture(tmp);
    String id;
    CompletableFuture<Status> ended = new CompletableFuture<>();
    try {
      id = f.stub.train(Fixture.quick().setMaxEpochs(200).build()).getRunId();
      CtrlabGrpc.newStub(f.channel).watchRun(WatchRunRequest.newBuilder().setRunId(id).build(),
          endsIn(ended));
      JobsServiceTest.awaitState(f, id, RunState.RUNNING);
      Thread.sleep(1000);
    } finally {
      long t0 = System.nanoTime();
      f.server.close();
      assertTrue((System.nanoTime() - t0) / 1e9 < 10, "a graceful stop takes seconds");
    }
    Status s = ended.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNAVAILABLE, s.getCode());
    assertTrue(s.getDescription().startsWith("the server is stopping; watch again from index"), s.getDescription());
    f.channel.shutdownNow();
    try (Fixture again = new Fixture(tmp)) {
      var r = JobsServiceTest.get(again, id);
      assertTrue(List.of(RunState.QUEUED, RunState.RUNNING).contains(r.getState()), "it resumes: " + r.getState());
      again.stub.cancelRun(org.ctrlab.api.v1.CancelRunRequest.newBuilder().setRunId(id).build());
    }
  }

  @Test
  void aRunPastItsWallClockLimitEndsAsFailedWithTheReason() throws Exception {
    try (Fixture f = new Fixture(tmp, null, java.util.Map.of(), o -> o.maxRunHours(1))) {
      assertTrue(message(Status.Code.INVALID_ARGUMENT, () -> f.stub.train(Fixture.quick().setMaxHours(2).build()))
          .startsWith("max_hours must be in (0, 1.0] (the server's --max-run-hours), got 2.0"));
      // About 4 s: the worker starts and trains some epochs of the thousand it asks for, then its time is up.
      String id = f.stub.train(Fixture.quick().setMaxEpochs(1000).setPatience(1000).setMaxHours(0.0011).build())
          .getRunId();
      org.ctrlab.api.v1.Run r = JobsServiceTest.awaitEnd(f, id);
      assertEquals(RunState.FAILED, r.getState(), r.getMessage());
      assertTrue(r.getMessage().startsWith("ended: it ran past its wall-clock limit of 0.0011 h from its first start"),
          r.getMessage());
      assertEquals(0.0011, r.getResolved().getMaxHours());
      assertTrue(r.getTotalSeconds() >= 3.9 && r.getTotalSeconds() < 30, "ended at " + r.getTotalSeconds() + " s");
      // The slot is free again: the next run starts and finishes.
      String next = f.stub.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      assertEquals(RunState.SUCCEEDED, JobsServiceTest.awaitEnd(f, next).getState());
      assertEquals(1.0, JobsServiceTest.get(f, next).getResolved().getMaxHours(), "the server's limit by default");
    }
  }

  @Test
  void bf16IsRefusedWhereTheHardwareHasNoneAndTrainsWhereItHas() throws Exception {
    try (Fixture f = new Fixture(tmp)) {
      String can = org.ctrlab.server.Devices.bf16();
      assertEquals(can, f.stub.getServerInfo(org.ctrlab.api.v1.ServerInfoRequest.getDefaultInstance()).getBf16());
      if (can.isEmpty()) {
        String m = message(Status.Code.INVALID_ARGUMENT, () -> f.stub.train(Fixture.quick().setBf16(true).build()));
        assertTrue(m.startsWith("bf16: this server's CPU has neither AVX512_BF16 nor AMX")
            || m.startsWith("bf16: TensorFlow's oneDNN kernels are off here"), m);
      } else {
        String id = f.stub.train(Fixture.quick().setBf16(true).build()).getRunId();
        org.ctrlab.api.v1.Run r = JobsServiceTest.awaitEnd(f, id);
        assertEquals(RunState.SUCCEEDED, r.getState(), r.getMessage());
        assertTrue(r.getResolved().getBf16());
        assertTrue(r.getTest().getAuc() > 0.55, "a bf16 run learns the planted signal: " + r.getTest().getAuc());
      }
    }
  }
}
