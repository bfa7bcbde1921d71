package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.PredictBatch;
import org.ctrlab.api.v1.PredictRequest;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.Split;
import org.ctrlab.server.auth.TokenFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One user cannot hold the analysis pool: streams whose client reads nothing hold no thread and are ended after the
 * stall time, a user's streams are capped, and another user's call is answered meanwhile.
 */
class FairnessTest {
  @TempDir
  Path tmp;

  static <T> T as(T stub, String token) {
    Metadata m = new Metadata();
    m.put(org.ctrlab.server.auth.Auth.AUTHORIZATION, "Bearer " + token);
    @SuppressWarnings("unchecked")
    T s = (T) ((io.grpc.stub.AbstractStub<?>) stub).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
    return s;
  }

  /** A Predict whose client asks for no message (until it is told to read): the server's stream fills and waits. */
  record Unread(CompletableFuture<Status> ended, CompletableFuture<ClientCallStreamObserver<?>> call) {
    void read() throws Exception {
      call.get(10, TimeUnit.SECONDS).request(Integer.MAX_VALUE);
    }
  }

  static Unread unread(CtrlabGrpc.CtrlabStub stub, String runId) {
    CompletableFuture<Status> ended = new CompletableFuture<>();
    CompletableFuture<ClientCallStreamObserver<?>> handle = new CompletableFuture<>();
    stub.predict(PredictRequest.newBuilder().setRunId(runId).setSplit(Split.TRAIN).build(),
        new ClientResponseObserver<PredictRequest, PredictBatch>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<PredictRequest> call) {
            call.disableAutoRequestWithInitial(0);
            handle.complete(call);
          }

          private final io.grpc.stub.StreamObserver<PredictBatch> end = LimitsTest.endsIn(ended);

          @Override
          public void onNext(PredictBatch value) {}

          @Override
          public void onError(Throwable t) {
            end.onError(t);
          }

          @Override
          public void onCompleted() {
            end.onCompleted();
          }
        });
    return new Unread(ended, handle);
  }

  @Test
  void tenUnreadPredictStreamsOfOneUserDoNotHoldTheOtherUsersCalls() throws Exception {
    Path tokens = tmp.resolve("tokens.txt");
    String alice = TokenFile.add(tokens, "alice", false);
    String bob = TokenFile.add(tokens, "bob", false);
    Duration stall = Duration.ofSeconds(12);
    try (Fixture f = new Fixture(tmp, tokens, Map.of(), o -> o.streams(StreamLimits.DEFAULTS.withStall(stall)
        .withPerUser(10)))) {
      var a = as(f.stub, alice);
      var b = as(f.stub, bob);
      String aliceRun = a.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      String bobRun = b.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      JobsServiceTest.awaitState(a, aliceRun, RunState.SUCCEEDED);
      JobsServiceTest.awaitState(b, bobRun, RunState.SUCCEEDED);

      // Her own connection, with a window of 64 KiB as a client reading slowly over a real network gives: what she
      // does not read fills it within a batch or two (the default 1 MiB would take the small test split whole).
      io.grpc.ManagedChannel aliceChannel = io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1",
          f.server.port()).usePlaintext().flowControlWindow(64 << 10).build();
      CtrlabGrpc.CtrlabStub aliceAsync = as(CtrlabGrpc.newStub(aliceChannel), alice);
      List<Unread> held = new ArrayList<>();
      try {
        for (int i = 0; i < 10; i++) {
          held.add(unread(aliceAsync, aliceRun));
        }
        heldStreamsDoNotHoldBob(f, alice, aliceRun, b, bobRun, aliceChannel, held, stall);
      } finally {
        // A stream left unread (a failed check above) is cancelled, or the client keeps what it did not read.
        for (Unread h : held) {
          ClientCallStreamObserver<?> call = h.call().getNow(null);
          if (call != null) {
            call.cancel("the test is over", null);
          }
        }
        aliceChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  private static void heldStreamsDoNotHoldBob(Fixture f, String alice, String aliceRun,
      CtrlabGrpc.CtrlabBlockingStub b, String bobRun, io.grpc.ManagedChannel aliceChannel, List<Unread> held,
      Duration stall) throws Exception {
    long deadline = System.currentTimeMillis() + 10_000;
    while (f.server.streams().open("alice") < 10 && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    assertEquals(10, f.server.streams().open("alice"));
    // An eleventh is past her stream cap, and is refused saying so.
    var eleventh = assertThrows(StatusRuntimeException.class, () -> as(CtrlabGrpc.newBlockingStub(aliceChannel),
        alice).predict(PredictRequest.newBuilder().setRunId(aliceRun).setLimit(10).build()).hasNext());
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, eleventh.getStatus().getCode(), eleventh.toString());
    assertTrue(eleventh.getStatus().getDescription().contains("at most 10 per user (--max-streams-per-user)"),
        eleventh.getStatus().getDescription());

    long t0 = System.nanoTime();
    var m = b.withDeadlineAfter(30, TimeUnit.SECONDS).evaluate(EvaluateRequest.newBuilder().setRunId(bobRun)
        .build()).getMetrics();
    double waited = (System.nanoTime() - t0) / 1e9;
    assertTrue(m.getAuc() > 0.5, m.toString());
    assertTrue(waited < 8, "bob's Evaluate waited " + waited + " s behind alice's unread streams");
    assertTrue(held.stream().noneMatch(h -> h.ended().isDone()), "alice's streams were all still open then");

    // Unread past the stall time, they are ended and free their places: ten new streams of hers are served.
    Thread.sleep(stall.toMillis() + 2000);
    List<java.util.Iterator<PredictBatch>> fresh = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      fresh.add(as(CtrlabGrpc.newBlockingStub(f.channel), alice).predict(PredictRequest.newBuilder()
          .setRunId(aliceRun).setLimit(10).build()));
      assertTrue(fresh.get(i).hasNext(), "stream " + i + " is served");
    }
    for (var it : fresh) {
      assertEquals(10, it.next().getRowsCount());
      assertFalse(it.hasNext());
    }
    // What the server said to the stalled ones, once their client reads what was sent before.
    for (Unread h : held) {
      h.read();
      Status s = h.ended().get(20, TimeUnit.SECONDS);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode(), s.toString());
      assertTrue(s.getDescription().contains("read nothing for 12 s (--stream-stall-seconds)"), s.getDescription());
    }
  }
}
