package org.ctrlab.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.ServerInfoRequest;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.CtrlabServer;
import org.ctrlab.server.ServerOptions;
import org.ctrlab.server.TestData;
import org.ctrlab.server.auth.Auth;
import org.ctrlab.server.auth.TokenFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** What an operator sees: Prometheus metrics that move, one log line per call and per run change, health. */
class OpsTest {
  @TempDir
  Path tmp;

  static String scrape(int port) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
        + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  /** The value of one sample line, or 0 when absent. */
  static double sample(String text, String name, String labels) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + (labels.isEmpty() ? "" : "\\{" + labels + "\\}")
        + " ([0-9.eE+-]+)$").matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  @Test
  void metricsLogsAndHealthTellAnOperatorWhatHappens() throws Exception {
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    List<Logger> loggers = List.of((Logger) LoggerFactory.getLogger(CallLog.class),
        (Logger) LoggerFactory.getLogger(org.ctrlab.server.jobs.Supervisor.class),
        (Logger) LoggerFactory.getLogger(org.ctrlab.server.service.Runs.class));
    loggers.forEach(l -> l.addAppender(logs));
    Path tokens = tmp.resolve("tokens.txt");
    String alice = TokenFile.add(tokens, "alice", false);
    TestData.small().write(tmp.resolve("data").resolve("synthetic"));
    CtrlabServer s = new CtrlabServer(new ServerOptions().port(0).metricsPort(0).dataDir(tmp.resolve("data"))
        .runDir(tmp.resolve("runs")).tokens(tokens).threads(2).allowDownload(false)).start();
    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", s.port()).usePlaintext().build();
    try {
      Metadata md = new Metadata();
      md.put(Auth.AUTHORIZATION, "Bearer " + alice);
      var stub = CtrlabGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
      String before = scrape(s.metricsPort());
      String info = "code=\"OK\",method=\"ctrlab.v1.Ctrlab/GetServerInfo\"";
      stub.getServerInfo(ServerInfoRequest.getDefaultInstance());
      stub.getServerInfo(ServerInfoRequest.getDefaultInstance());
      String after = scrape(s.metricsPort());
      assertEquals(sample(before, "ctrlab_rpc_duration_seconds_count", info) + 2,
          sample(after, "ctrlab_rpc_duration_seconds_count", info), after);
      assertEquals(1, sample(after, "ctrlab_slots", ""));

      // A long run holds the slot; a second waits in alice's queue.
      TrainRequest.Builder t = TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2")
          .setBatchSize(1024).setEmbeddingSize(8).putHyperparameters("mlp_hidden_size", ParamValue.newBuilder()
              .setList(NumberList.newBuilder().addValues(16)).build());
      String first = stub.train(t.setMaxEpochs(2).build()).getRunId();
      String second = stub.train(t.setMaxEpochs(1).build()).getRunId();
      String queued = scrape(s.metricsPort());
      // The first takes the slot within a supervisor tick or two; until then both are queued.
      for (int i = 0; i < 50 && sample(queued, "ctrlab_slots_busy", "") < 1; i++) {
        Thread.sleep(100);
        queued = scrape(s.metricsPort());
      }
      assertEquals(1, sample(queued, "ctrlab_slots_busy", ""), queued);
      assertEquals(1, sample(queued, "ctrlab_queued_runs", "user=\"alice\""), queued);
      // A second server on the same run folder is refused before it touches the queue.
      java.sql.SQLException twice = org.junit.jupiter.api.Assertions.assertThrows(java.sql.SQLException.class,
          () -> new CtrlabServer(new ServerOptions().port(0).dataDir(tmp.resolve("data")).runDir(tmp.resolve("runs"))
              .threads(2).allowDownload(false)));
      assertTrue(twice.getMessage().startsWith("another ctrlab server uses the run store"), twice.getMessage());
      for (String id : List.of(first, second)) {
        while (stub.getRun(GetRunRequest.newBuilder().setRunId(id).build()).getState() != RunState.SUCCEEDED) {
          Thread.sleep(100);
        }
      }
      // Epochs are picked up from the store every 2 s, and a run's end when its worker's exit is seen.
      String done = "";
      for (int i = 0; i < 50 && (sample(done, "ctrlab_epoch_seconds_count", "backbone=\"DCNV2\",head=\"BINARY\"") < 3
          || sample(done, "ctrlab_runs_ended_total", "state=\"SUCCEEDED\"") < 2); i++) {
        Thread.sleep(200);
        done = scrape(s.metricsPort());
      }
      assertEquals(3, sample(done, "ctrlab_epoch_seconds_count", "backbone=\"DCNV2\",head=\"BINARY\""), done);
      assertEquals(2, sample(done, "ctrlab_runs", "state=\"SUCCEEDED\""));
      assertEquals(0, sample(done, "ctrlab_queued_runs", "user=\"alice\""));
      assertEquals(0, sample(done, "ctrlab_slots_busy", ""), done);
      assertEquals(2, sample(done, "ctrlab_runs_ended_total", "state=\"SUCCEEDED\""), done);

      // Logs: one line per call with user, method, status and time, and the run's changes; never a token.
      List<String> lines = logs.list.stream().map(e -> e.getFormattedMessage() + " " + e.getKeyValuePairs())
          .toList();
      assertTrue(lines.stream().anyMatch(l -> l.contains("user=\"alice\"") && l.contains("ctrlab.v1.Ctrlab/Train")
          && l.contains("status=\"OK\"") && l.contains("ms=")), lines.toString());
      for (String state : List.of("QUEUED", "RUNNING", "SUCCEEDED")) {
        assertTrue(lines.stream().anyMatch(l -> l.contains("run=\"" + first + "\"") && l.contains("owner=\"alice\"")
            && l.contains("state=\"" + state + "\"")), state + " in " + lines);
      }
      assertTrue(lines.stream().noneMatch(l -> l.contains(alice)), "no token in any log line");

      // Health: SERVING, then NOT_SERVING to a watcher when the server starts draining.
      var health = HealthGrpc.newStub(ch);
      List<HealthCheckResponse.ServingStatus> seen = new CopyOnWriteArrayList<>();
      health.watch(HealthCheckRequest.getDefaultInstance(), new StreamObserver<>() {
        @Override
        public void onNext(HealthCheckResponse r) {
          seen.add(r.getStatus());
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      });
      for (int i = 0; i < 50 && seen.isEmpty(); i++) {
        Thread.sleep(50);
      }
      s.close();
      for (int i = 0; i < 50 && seen.size() < 2; i++) {
        Thread.sleep(50);
      }
      assertEquals(List.of(HealthCheckResponse.ServingStatus.SERVING, HealthCheckResponse.ServingStatus.NOT_SERVING),
          seen);
    } finally {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
      s.close();
      loggers.forEach(l -> l.detachAppender(logs));
    }
  }
}
