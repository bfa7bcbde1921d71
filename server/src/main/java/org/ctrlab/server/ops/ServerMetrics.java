package org.ctrlab.server.ops;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.server.store.RunStore;

/**
 * The server's Prometheus metrics, served at {@code http://HOST:PORT/metrics} by the Prometheus Java client's
 * HTTP exporter: queued runs per user, runs by state, slots, watchers and analysis calls (read when scraped), epoch
 * seconds by backbone and head (as workers record epochs), worker crashes and run ends, and every gRPC call's
 * latency by method and status.
 */
public final class ServerMetrics implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ServerMetrics.class);

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final RunStore store;
  private final Histogram rpc;
  private final Histogram epochSeconds;
  private final Counter runsEnded;
  private final Counter workerCrashes;
  private final Map<String, Integer> epochsSeen = new HashMap<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ctrlab-metrics");
    t.setDaemon(true);
    return t;
  });
  private HTTPServer http;

  /** Live numbers the metrics read when scraped. */
  public record Gauges(IntSupplier slots, IntSupplier busySlots, IntSupplier watchers, IntSupplier analysisBusy) {}

  public ServerMetrics(RunStore store, Gauges g) {
    this.store = store;
    rpc = Histogram.builder().name("ctrlab_rpc_duration_seconds").help("gRPC calls by method and status code")
        .labelNames("method", "code").classicOnly()
        .classicUpperBounds(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300).register(registry);
    epochSeconds = Histogram.builder().name("ctrlab_epoch_seconds").help("training-pass seconds of each epoch")
        .labelNames("backbone", "head").classicOnly()
        .classicUpperBounds(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000).register(registry);
    runsEnded = Counter.builder().name("ctrlab_runs_ended_total").help("runs that reached a final state")
        .labelNames("state").register(registry);
    workerCrashes = Counter.builder().name("ctrlab_worker_crashes_total")
        .help("worker processes that ended abnormally").register(registry);
    GaugeWithCallback.builder().name("ctrlab_queued_runs").help("queued runs per user").labelNames("user")
        .callback(cb -> {
          try {
            store.queuedByOwner().forEach((user, n) -> cb.call(n, user));
          } catch (SQLException e) {
            LOG.warn("cannot count queued runs: {}", e.getMessage());
          }
        }).register(registry);
    GaugeWithCallback.builder().name("ctrlab_runs").help("runs in the store by state").labelNames("state")
        .callback(cb -> {
          try {
            Map<RunState, Integer> n = store.countByState();
            for (RunState s : List.of(RunState.QUEUED, RunState.RUNNING, RunState.SUCCEEDED, RunState.FAILED,
                RunState.CANCELLED)) {
              cb.call(n.getOrDefault(s, 0), s.name());
            }
          } catch (SQLException e) {
            LOG.warn("cannot count runs: {}", e.getMessage());
          }
        }).register(registry);
    gauge("ctrlab_slots", "runs that can execute at once", g.slots());
    gauge("ctrlab_slots_busy", "slots executing a run now", g.busySlots());
    gauge("ctrlab_watchers", "open WatchRun streams", g.watchers());
    gauge("ctrlab_analysis_busy", "Evaluate/Perturb/Inspect/Predict calls being served", g.analysisBusy());
  }

  private void gauge(String name, String help, IntSupplier value) {
    GaugeWithCallback.builder().name(name).help(help).callback(cb -> cb.call(value.getAsInt())).register(registry);
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  /** Serves /metrics on the host and port (0: a free one); returns the port. */
  public int serve(String host, int port) throws IOException {
    http = HTTPServer.builder().hostname(host).port(port).registry(registry).buildAndStart();
    return http.getPort();
  }

  /** Starts following the epochs workers record (every few seconds). */
  public void start() {
    timer.scheduleWithFixedDelay(this::scanEpochs, 1, 2, TimeUnit.SECONDS);
  }

  public void call(String method, String code, double seconds) {
    rpc.labelValues(method, code).observe(seconds);
  }

  /** A run this server saw reach a final state. */
  public void ended(Run r) {
    runsEnded.labelValues(r.getState().name()).inc();
  }

  public void crashed() {
    workerCrashes.inc();
  }

  /** Observes the epochs recorded since the last scan, of runs running now or until the last scan. */
  synchronized void scanEpochs() {
    try {
      Map<String, Run> now = new HashMap<>();
      for (Run r : store.inState(RunState.RUNNING)) {
        now.put(r.getRunId(), r);
      }
      for (String id : List.copyOf(epochsSeen.keySet())) {
        if (!now.containsKey(id)) {
          Optional<Run> last = store.get(id);
          last.ifPresent(r -> observeNew(r));
          epochsSeen.remove(id);
        }
      }
      now.values().forEach(this::observeNew);
    } catch (SQLException | RuntimeException e) {
      LOG.warn("cannot follow epochs: {}", e.getMessage());
    }
  }

  private void observeNew(Run r) {
    int seen = epochsSeen.getOrDefault(r.getRunId(), 0);
    for (int i = seen; i < r.getEpochsCount(); i++) {
      epochSeconds.labelValues(r.getResolved().getBackbone(), r.getResolved().getHead().name())
          .observe(r.getEpochs(i).getTrainSeconds());
    }
    epochsSeen.put(r.getRunId(), Math.max(seen, r.getEpochsCount()));
  }

  @Override
  public void close() {
    timer.shutdownNow();
    if (http != null) {
      http.close();
    }
  }
}
