package org.ctrlab.server.tools;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.Metrics;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.StateChange;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.CtrlabServer;
import org.ctrlab.server.ServerOptions;
import org.ctrlab.server.store.RunStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What the dashboard costs, measured on this machine: a store of N finished runs (each with its epochs, as real runs
 * have), a server on it, then the runs table's requests timed (first page, sorted, filtered, the last page, a CSV
 * export of everything) and the CPU one open run page costs the server: its requests replayed at the page's rate for
 * a while, the process's CPU time over that while against the same while idle.
 */
@Command(name = "web-bench", mixinStandardHelpOptions = true,
    description = "Measure the dashboard: runs-table requests over N runs, and one open run page's CPU cost.",
    footer = {"", "Example:", "  ctrlab-server web-bench --runs 10000 --seconds 60"})
public final class WebBench implements Callable<Integer> {
  @Option(names = "--runs", description = "Finished runs in the store (default: ${DEFAULT-VALUE}).")
  int runs = 10_000;

  @Option(names = "--epochs", description = "Epochs per run (default: ${DEFAULT-VALUE}).")
  int epochs = 30;

  @Option(names = "--seconds", description = "Seconds of the page-cost measurement (default: ${DEFAULT-VALUE}).")
  double seconds = 60;

  @Option(names = "--repeat", description = "Timed repeats of each request; the median is shown (default:"
      + " ${DEFAULT-VALUE}).")
  int repeat = 7;

  /** What the run page asks while its run trains (web/app.js: POLL_MS). */
  static final long PAGE_POLL_MS = 2000;

  private static final String[] BACKBONES = {"WideDeep", "NFM", "xDeepFM", "AutoInt", "FiGNN", "DCNV2", "EulerNet"};

  @Override
  public Integer call() throws Exception {
    Path dir = Files.createTempDirectory("ctrlab-web-bench");
    long t0 = System.nanoTime();
    fill(dir.resolve("runs").resolve("ctrlab.db"));
    System.out.printf(Locale.ROOT, "%,d finished runs of %d epochs stored in %.1f s%n", runs, epochs,
        (System.nanoTime() - t0) / 1e9);
    try (CtrlabServer s = new CtrlabServer(new ServerOptions().port(0).httpPort(0).runDir(dir.resolve("runs"))
        .dataDir(dir.resolve("data")).allowDownload(false)).start()) {
      String base = "http://127.0.0.1:" + s.httpPort() + "/api/";
      HttpClient http = HttpClient.newHttpClient();
      System.out.printf(Locale.ROOT, "%-46s %10s %12s%n", "request (over " + runs + " runs)", "median ms", "bytes");
      for (String[] q : new String[][] {
          {"first page (100 rows, newest first)", "runs"},
          {"sorted by test AUC", "runs?sort=test_auc"},
          {"filtered: RATING, text 'seed 3'", "runs?head=RATING&q=seed%203"},
          {"the last page", "runs?offset=" + Math.max(0, runs - 100)},
          {"page of 1,000 rows", "runs?limit=1000"},
          {"export of every run, CSV", "runs?format=csv"}}) {
        long[] ms = new long[repeat];
        int bytes = 0;
        get(http, base + q[1]); // warm
        for (int i = 0; i < repeat; i++) {
          long a = System.nanoTime();
          bytes = get(http, base + q[1]).length();
          ms[i] = (System.nanoTime() - a) / 1_000_000;
        }
        Arrays.sort(ms);
        System.out.printf(Locale.ROOT, "%-46s %10d %12d%n", q[0], ms[repeat / 2], bytes);
      }
      // One open run page: its two requests (new epochs after the last one shown, events after the last one) every
      // poll, against the same time idle. The client runs in this process too: its CPU is counted (an upper bound).
      String run = String.format(Locale.ROOT, "%012x", runs / 2);
      Thread.sleep(10_000); // the JIT and the collector finish with the requests above first
      Runnable poll = () -> {
        get(http, base + "runs/" + run + "/epochs?after=" + epochs);
        get(http, base + "runs/" + run + "/events?from=" + (epochs + 2) + "&limit=500");
      };
      // Idle, with the page, idle again: the difference from the idle mean is the page's.
      double idleBefore = cpuPercent(() -> { }, seconds / 2);
      double page = cpuPercent(poll, seconds);
      double idleAfter = cpuPercent(() -> { }, seconds / 2);
      double idle = (idleBefore + idleAfter) / 2;
      System.out.printf(Locale.ROOT, "one open run page (2 requests every %d ms, %.0f s): %.2f %% of a core"
          + " (process CPU %.2f %% with the page; idle %.2f %% before, %.2f %% after; the client's share"
          + " included)%n", PAGE_POLL_MS, seconds, page - idle, page, idleBefore, idleAfter);
    }
    return 0;
  }

  /** The process's CPU time over {@code seconds}, as a percentage of one core, doing {@code poll} every poll. */
  static double cpuPercent(Runnable poll, double seconds) throws InterruptedException {
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpu0 = os.getProcessCpuTime();
    long wall0 = System.nanoTime();
    long end = wall0 + (long) (seconds * 1e9);
    while (System.nanoTime() < end) {
      poll.run();
      Thread.sleep(PAGE_POLL_MS);
    }
    return 100.0 * (os.getProcessCpuTime() - cpu0) / (System.nanoTime() - wall0);
  }

  static String get(HttpClient http, String url) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
          .build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException(url + ": " + r.statusCode() + " " + r.body());
      }
      return r.body();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** N finished runs as real ones look: resolved settings, epochs, metrics, a few events each. */
  void fill(Path db) throws Exception {
    Files.createDirectories(db.getParent());
    java.util.Random rnd = new java.util.Random(2020);
    try (RunStore store = RunStore.open(db)) {
      List<Run> batch = new ArrayList<>();
      long created = System.currentTimeMillis() - runs * 60_000L;
      for (int i = 0; i < runs; i++) {
        String bb = BACKBONES[i % BACKBONES.length];
        boolean rating = i % 2 == 1;
        ResolvedConfig c = ResolvedConfig.newBuilder().setDataset("ml-1m").setBackbone(bb)
            .setHead(rating ? Head.RATING : Head.BINARY).setRatingWeight(rating ? 0.7 : 0).setSeed(i % 5)
            .setEmbeddingSize(16).setLearningRate(1e-3).setBatchSize(4096).setMaxEpochs(300).setPatience(2)
            .setEvalBatchSize(4096).putHyperparameters("net_dropout", ParamValue.newBuilder().setNumber(0.1).build())
            .build();
        Run.Builder r = Run.newBuilder().setRunId(String.format(Locale.ROOT, "%012x", i))
            .setOwner("u" + (i % 10)).setState(RunState.SUCCEEDED).setCreatedUnixMs(created + i * 60_000L)
            .setStartedUnixMs(created + i * 60_000L + 1000).setFinishedUnixMs(created + i * 60_000L + 50_000)
            .setRequest(TrainRequest.newBuilder().setDataset("ml-1m").setBackbone(bb).setName("grid seed " + i % 5)
                .addTags("bench").addTags("seed" + i % 5))
            .setResolved(c).setAttempt(1).setBestEpoch(epochs - 2).setSecondsPerEpoch(5 + rnd.nextDouble())
            .setValid(Metrics.newBuilder().setAuc(0.8 + rnd.nextDouble() / 100).setLogloss(0.53).setRows(100_021))
            .setTest(Metrics.newBuilder().setAuc(0.8 + rnd.nextDouble() / 100).setLogloss(0.53).setRows(100_021));
        for (int e = 1; e <= epochs; e++) {
          r.addEpochs(EpochResult.newBuilder().setEpoch(e).setTrainLoss(0.6 - e * 0.001).setBceLoss(0.55)
              .setValidAuc(0.78 + e * 0.0005).setValidLogloss(0.54).setTrainSeconds(5.1).setEvalSeconds(0.2)
              .setBest(e == epochs - 2).setCeLoss(1.2));
        }
        batch.add(r.build());
        if (batch.size() == 500 || i == runs - 1) {
          store.insert(batch, List.of(RunEvent.newBuilder().setState(StateChange.newBuilder()
              .setState(RunState.QUEUED)).build()), null);
          batch.clear();
        }
      }
    }
  }
}
