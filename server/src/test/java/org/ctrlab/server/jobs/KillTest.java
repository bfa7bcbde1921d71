package org.ctrlab.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.api.v1.WatchRunRequest;
import org.ctrlab.server.ServerProcess;
import org.ctrlab.server.data.SyntheticData;
import org.ctrlab.server.store.RunStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real server and worker processes killed by real signals in the middle of an epoch: the run goes on from its last
 * completed epoch, with one epoch history and the test AUC of the same run left alone; finished and queued runs
 * survive the server's death in their order.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KillTest {
  @TempDir
  static Path tmp;

  static Path data;
  static Path runs;
  static Path log;
  static ServerProcess server;
  static ManagedChannel channel;
  static double referenceAuc;
  static List<Double> referenceValidAucs;

  /** Five epochs of a DCNV2 with dropout and BatchNorm, each epoch about two seconds of 780 steps. */
  static TrainRequest.Builder request() {
    return TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2").setMaxEpochs(5).setPatience(10)
        .setBatchSize(128).setEmbeddingSize(8).setSeed(7).setLearningRate(0.001)
        .putHyperparameters("mlp_hidden_size", ParamValue.newBuilder()
            .setList(NumberList.newBuilder().addValues(128).addValues(128)).build())
        .putHyperparameters("dropout_prob", ParamValue.newBuilder().setNumber(0.2).build());
  }

  @BeforeAll
  static void start() throws Exception {
    data = tmp.resolve("data");
    runs = tmp.resolve("runs");
    log = tmp.resolve("server.log");
    new SyntheticData(5000, 600, 20, 30, 11).write(data.resolve("synthetic"));
    Files.writeString(tmp.resolve("tokens.txt"), "alice token-a\nbob token-b\n");
    restart();
  }

  static void restart() throws Exception {
    if (channel != null) {
      channel.shutdownNow();
    }
    server = ServerProcess.start(data, runs, log, "--tokens", tmp.resolve("tokens.txt").toString());
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port).usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (server != null) {
      server.close();
    }
  }

  static CtrlabGrpc.CtrlabBlockingStub as(String user) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer token-" + user.charAt(0));
    return CtrlabGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }

  static Run get(String id) {
    return as("alice").getRun(GetRunRequest.newBuilder().setRunId(id).build());
  }

  /**
   * Follows a run until a batch in the first half of an epoch at least {@code epoch} is reported, and returns that
   * epoch: killing then leaves half an epoch's time before the epoch could end.
   */
  static int awaitMidEpoch(String id, int epoch) throws Exception {
    // The watch is left before its end: cancelled on the way out, or its unread messages stay in the client's
    // buffers (Netty's leak detector reports them once the call is collected).
    try (io.grpc.Context.CancellableContext watch = io.grpc.Context.current().withCancellation()) {
      return watch.call(() -> midEpoch(id, epoch));
    }
  }

  private static int midEpoch(String id, int epoch) {
    Iterator<RunEvent> it = as("alice").withDeadlineAfter(120, TimeUnit.SECONDS)
        .watchRun(WatchRunRequest.newBuilder().setRunId(id).build());
    while (it.hasNext()) {
      RunEvent e = it.next();
      if (e.hasBatch() && e.getBatch().getEpoch() >= epoch && e.getBatch().getEpoch() < 5
          && e.getBatch().getBatch() > 2 && e.getBatch().getBatch() < e.getBatch().getBatches() / 2) {
        return e.getBatch().getEpoch();
      }
      if (e.hasState() && e.getState().getState() != RunState.RUNNING && e.getState().getState() != RunState.QUEUED) {
        throw new AssertionError("run " + id + " ended before epoch " + epoch + ": " + e);
      }
    }
    throw new AssertionError("the watch of " + id + " ended before epoch " + epoch);
  }

  /** Waits for a run to reach a final state, watching again across server restarts. */
  static Run awaitEnd(String id) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 180_000;
    while (System.currentTimeMillis() < deadline) {
      try {
        Run r = get(id);
        if (r.getState() == RunState.SUCCEEDED || r.getState() == RunState.FAILED
            || r.getState() == RunState.CANCELLED) {
          return r;
        }
      } catch (StatusRuntimeException e) {
        // the server is restarting
      }
      Thread.sleep(200);
    }
    throw new AssertionError("run " + id + " did not end in 180 s");
  }

  static List<RunEvent> events(String id) {
    List<RunEvent> out = new ArrayList<>();
    as("alice").watchRun(WatchRunRequest.newBuilder().setRunId(id).build()).forEachRemaining(e -> {
      if (!e.hasBatch() && !e.hasQueue()) {
        out.add(e);
      }
    });
    return out;
  }

  static long pid(Run r) {
    Matcher m = Pattern.compile("pid (\\d+)").matcher(r.getWorker());
    assertTrue(m.find(), "worker of " + r.getRunId() + ": " + r.getWorker());
    return Long.parseLong(m.group(1));
  }

  /** One epoch history 1..n, one "resumed at epoch k" event, and the uninterrupted run's numbers. */
  static void assertResumedLikeTheReference(String id, int resumedAt) {
    Run r = get(id);
    assertEquals(RunState.SUCCEEDED, r.getState(), r.getMessage());
    List<Integer> epochs = r.getEpochsList().stream().map(e -> e.getEpoch()).toList();
    assertEquals(List.of(1, 2, 3, 4, 5), epochs, "no gap and no repeat");
    List<RunEvent> ev = events(id);
    assertEquals(5, ev.stream().filter(RunEvent::hasEpoch).count(), "one epoch event per epoch");
    List<String> resumed = ev.stream().filter(RunEvent::hasLog).map(RunEvent::getLog)
        .filter(l -> l.startsWith("resumed at epoch")).toList();
    assertEquals(1, resumed.size(), resumed.toString());
    assertTrue(resumed.get(0).startsWith("resumed at epoch " + resumedAt + " "), resumed.get(0));
    for (int i = 0; i < ev.size(); i++) {
      assertEquals(i, ev.get(i).getIndex());
    }
    assertEquals(referenceAuc, r.getTest().getAuc(), 1e-3, "test AUC against the uninterrupted run");
    for (int i = 0; i < 5; i++) {
      assertEquals(referenceValidAucs.get(i), r.getEpochs(i).getValidAuc(), 1e-3, "valid AUC of epoch " + (i + 1));
    }
  }

  @Test
  @Order(1)
  void anUninterruptedRunGivesTheReference() throws Exception {
    String id = as("alice").train(request().setName("reference").build()).getRunId();
    Run r = awaitEnd(id);
    assertEquals(RunState.SUCCEEDED, r.getState(), r.getMessage());
    assertEquals(1, r.getAttempt());
    referenceAuc = r.getTest().getAuc();
    referenceValidAucs = r.getEpochsList().stream().map(e -> e.getValidAuc()).toList();
    assertTrue(referenceAuc > 0.6, "learned something: " + referenceAuc);
  }

  @Test
  @Order(2)
  void aServerKilledMidEpochResumesItsRunAndKeepsTheQueue() throws Exception {
    Run finished = get(as("alice").listRuns(org.ctrlab.api.v1.ListRunsRequest.getDefaultInstance()).getRuns(0)
        .getRunId());
    String id = as("alice").train(request().setName("killed server").build()).getRunId();
    while (get(id).getState() != RunState.RUNNING) {
      Thread.sleep(20);
    }
    List<String> queued = new ArrayList<>();
    for (String user : List.of("alice", "alice", "bob")) {
      // Small ones: what matters is the order they start in, not their training.
      queued.add(as(user).train(request().setMaxEpochs(1).setBatchSize(4096).setName("queued " + user).build())
          .getRunId());
    }
    List<Integer> positions = queued.stream().map(q -> get(q).getQueuePosition()).toList();
    // alice's run is running, so bob's is next, then alice's two in order.
    assertEquals(List.of(1, 2, 0), positions);
    int killedIn = awaitMidEpoch(id, 3);
    long worker = pid(get(id));
    server.kill();
    // The orphaned worker notices and stops by itself.
    ProcessHandle h = ProcessHandle.of(worker).orElse(null);
    if (h != null) {
      h.onExit().get(20, TimeUnit.SECONDS);
    }
    try (RunStore store = RunStore.attach(runs.resolve("ctrlab.db"))) {
      assertEquals(RunState.RUNNING, store.get(id).orElseThrow().getState(), "SIGKILL leaves no time to record");
      assertEquals(killedIn - 1, store.get(id).orElseThrow().getEpochsCount());
    }
    restart();
    assertEquals(finished, get(finished.getRunId()), "a finished run survives as it was");
    assertEquals(finished.getTest().getAuc(), as("alice").evaluate(EvaluateRequest.newBuilder()
        .setRunId(finished.getRunId()).build()).getMetrics().getAuc(), 1e-6);
    awaitEnd(id);
    assertResumedLikeTheReference(id, killedIn);
    for (String q : queued) {
      assertEquals(RunState.SUCCEEDED, awaitEnd(q).getState());
    }
    List<Long> starts = queued.stream().map(q -> get(q).getStartedUnixMs()).toList();
    assertTrue(starts.get(2) < starts.get(0) && starts.get(0) < starts.get(1), "bob's, then alice's in order: "
        + starts);
    assertTrue(get(queued.get(2)).getStartedUnixMs() > get(id).getStartedUnixMs());
  }

  @Test
  @Order(3)
  void aWorkerKilledMidEpochIsStartedAgainFromItsLastEpoch() throws Exception {
    String id = as("bob").train(request().setName("killed worker").build()).getRunId();
    int killedIn = awaitMidEpoch(id, 2);
    ProcessHandle worker = ProcessHandle.of(pid(get(id))).orElseThrow();
    assertTrue(worker.info().commandLine().orElse("").contains("-Dctrlab.worker=" + id), worker.info().toString());
    Runtime.getRuntime().exec(new String[] {"kill", "-9", String.valueOf(worker.pid())}).waitFor();
    Run r = awaitEnd(id);
    assertEquals(2, r.getAttempt());
    assertEquals(1, r.getCrashes());
    assertTrue(events(id).stream().anyMatch(e -> e.getLog().startsWith(
        "worker attempt 1 killed by signal 9 (SIGKILL)")), "the crash is told");
    assertResumedLikeTheReference(id, killedIn);
  }

  @Test
  @Order(4)
  void aServerStoppedBySigtermHandsItsRunBackAndResumesItAfterTheRestart() throws Exception {
    String id = as("alice").train(request().setName("stopped server").build()).getRunId();
    int stoppedIn = awaitMidEpoch(id, 3);
    long worker = pid(get(id));
    long t0 = System.nanoTime();
    assertEquals(143, server.terminate(), "exit status of a JVM ended by SIGTERM");
    assertTrue((System.nanoTime() - t0) / 1e9 < 15, "a graceful stop is quick");
    assertFalse(ProcessHandle.of(worker).map(ProcessHandle::isAlive).orElse(false), "the worker is stopped too");
    try (RunStore store = RunStore.attach(runs.resolve("ctrlab.db"))) {
      Run r = store.get(id).orElseThrow();
      assertEquals(RunState.QUEUED, r.getState());
      assertEquals(stoppedIn - 1, r.getEpochsCount());
    } catch (SQLException e) {
      throw new AssertionError(e);
    }
    restart();
    awaitEnd(id);
    assertResumedLikeTheReference(id, stoppedIn);
    assertEquals(0, get(id).getCrashes(), "a stop of the server is not the run's crash");
  }
}
