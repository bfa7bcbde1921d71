package org.ctrlab.server.tools;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.jobs.FairQueue;
import org.ctrlab.server.store.ProgressStore;
import org.ctrlab.server.store.RunStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What the run store sustains, measured on this machine: the writes workers make (an epoch's record and event in one
 * transaction, a live progress row, a log event) from several writers at once, each with its own connection pool as
 * a worker process has, and the reads the server makes for every watcher and for the queue. Prints operations per
 * second; compare stores and writer counts in one run, not across machines.
 */
@Command(name = "store-bench", mixinStandardHelpOptions = true,
    description = "Measure the run store: worker writes per second with N writers, and the server's reads.",
    footer = {"", "Examples:", "  ctrlab-server store-bench                                   # SQLite in a temp dir",
        "  ctrlab-server store-bench --store 'jdbc:postgresql://127.0.0.1:55432/ctrlab_test?user=ctrlab&password=x'"})
public final class StoreBench implements Callable<Integer> {
  @Option(names = "--store", description = "A PostgreSQL JDBC URL (default: an SQLite file in a temp folder).")
  String store;

  @Option(names = "--writers", split = ",", description = "Concurrent writers to measure (default: 1,4,16).")
  List<Integer> writers = List.of(1, 4, 16);

  @Option(names = "--seconds", description = "Seconds per measurement (default: ${DEFAULT-VALUE}).")
  double seconds = 3;

  @Option(names = "--queued", description = "Queued runs for the queue-order measurement (default: ${DEFAULT-VALUE}).")
  int queued = 1000;

  @Override
  public Integer call() throws Exception {
    String base = store;
    if (base == null) {
      base = Files.createTempDirectory("ctrlab-store-bench").resolve("ctrlab.db").toString();
    } else {
      base = base + (base.contains("?") ? "&" : "?") + "currentSchema=bench" + System.nanoTime();
    }
    try (RunStore server = RunStore.open(base)) {
      System.out.printf(Locale.ROOT, "store %s; %.0f s per measurement; operations per second (all writers)%n",
          server.dialect(), seconds);
      System.out.printf(Locale.ROOT, "%-8s %14s %14s %14s%n", "writers", "epoch commits", "progress rows",
          "log events");
      for (int w : writers) {
        double[] r = new double[3];
        for (int kind = 0; kind < 3; kind++) {
          r[kind] = measure(base, server, w, kind);
        }
        System.out.printf(Locale.ROOT, "%-8d %14.0f %14.0f %14.0f%n", w, r[0], r[1], r[2]);
      }
      // The server's side: what one watcher costs per poll (the record, then the events after its index), and
      // computing the fair order of a full queue (each scheduler tick with a free slot, and each queued watcher).
      String id = "000000000001";
      server.insert(run(id, "u0", 1));
      for (int i = 0; i < 200; i++) {
        server.appendEvent(id, RunEvent.newBuilder().setLog("line " + i).build());
      }
      long t0 = System.nanoTime();
      int polls = 0;
      while (System.nanoTime() - t0 < seconds * 1e9) {
        server.get(id);
        server.events(id, 200, 500);
        server.progress().get(id);
        polls++;
      }
      double perPoll = (System.nanoTime() - t0) / 1e3 / polls;
      for (int i = 0; i < queued; i++) {
        server.insert(run(String.format("q%011d", i), "u" + (i % 20), 10 + i));
      }
      t0 = System.nanoTime();
      int orders = 0;
      while (System.nanoTime() - t0 < seconds * 1e9) {
        FairQueue.order(server.queued(), server.lastStarted());
        orders++;
      }
      double perOrder = (System.nanoTime() - t0) / 1e6 / orders;
      System.out.printf(Locale.ROOT, "one watcher's poll (record, new events, progress): %.0f µs%n", perPoll);
      System.out.printf(Locale.ROOT, "fair order of %d queued runs of 20 users: %.2f ms%n", queued, perOrder);
    }
    return 0;
  }

  static Run run(String id, String owner, long created) {
    return Run.newBuilder().setRunId(id).setOwner(owner).setState(RunState.QUEUED).setCreatedUnixMs(created)
        .setRequest(TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2")).build();
  }

  /** Operations per second of one kind (0 epoch commit, 1 progress row, 2 log event) by w writers on w runs. */
  private double measure(String location, RunStore server, int w, int kind) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < w; i++) {
      String id = String.format("%c%03d%08d", (char) ('a' + kind), w, i);
      server.insert(run(id, "u" + i, i).toBuilder().setState(RunState.RUNNING).setAttempt(1).build());
      ids.add(id);
    }
    ExecutorService pool = Executors.newFixedThreadPool(w);
    List<RunStore> stores = new ArrayList<>();
    for (int i = 0; i < w; i++) {
      stores.add(RunStore.attach(location));
    }
    long end = System.nanoTime() + (long) (seconds * 1e9);
    List<Future<Integer>> done = new ArrayList<>();
    for (int i = 0; i < w; i++) {
      RunStore s = stores.get(i);
      String id = ids.get(i);
      done.add(pool.submit(() -> {
        int n = 0;
        while (System.nanoTime() < end) {
          switch (kind) {
            case 0 -> {
              int epoch = n + 1;
              // A record of at most 300 epochs, as long as a run's gets.
              s.update(id, r -> (r.getEpochsCount() >= 300 ? r.toBuilder().clearEpochs() : r.toBuilder())
                  .addEpochs(EpochResult.newBuilder().setEpoch(epoch).setTrainLoss(0.5).setValidAuc(0.8)).build(),
                  RunEvent.newBuilder().setEpoch(EpochResult.newBuilder().setEpoch(epoch)).build());
            }
            case 1 -> s.progress().put(new ProgressStore.Progress(id, 1, 1, n, 1000, System.currentTimeMillis()));
            default -> s.appendEvent(id, RunEvent.newBuilder().setLog("line " + n).build());
          }
          n++;
        }
        return n;
      }));
    }
    long total = 0;
    for (Future<Integer> f : done) {
      total += f.get();
    }
    pool.shutdown();
    for (RunStore s : stores) {
      s.close();
    }
    return total / seconds;
  }
}
