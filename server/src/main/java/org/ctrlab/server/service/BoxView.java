package org.ctrlab.server.service;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.server.auth.Caller;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.store.ProgressStore;
import org.ctrlab.server.store.RunStore;

/**
 * What the box is doing, for one caller: its slots and what each worker runs (with live batch progress), the queue
 * in the order the fair scheduler will start it, and the device. Under {@code --visibility own} another user's
 * running or queued run is counted, never named.
 */
public final class BoxView {
  /** A busy slot: its run, how far it is, and where its worker is. */
  public record Slot(String runId, String owner, String name, String backbone, String head, String dataset,
      int epoch, int maxEpochs, int batch, int batches, String worker, String jobState, long startedMs,
      int attempt) {}

  /** A queued run, in start order. */
  public record Entry(int position, String runId, String owner, String name, String backbone, String head,
      long createdMs) {}

  /** The box as one caller may see it. Hidden counts are other users' runs under {@code --visibility own}. */
  public record Snapshot(String version, String device, String tensorflow, boolean onednn, String bf16, int slots,
      int busy,
      List<Slot> running, int hiddenRunning, List<Entry> queue, int hiddenQueued, Map<String, Integer> runsByState,
      String visibility, String user, boolean admin) {}

  private final RunStore store;
  private final Supervisor supervisor;
  private final Runs runs;
  private final String version;
  private final String device;

  public BoxView(RunStore store, Supervisor supervisor, Runs runs, String version, String device) {
    this.store = store;
    this.supervisor = supervisor;
    this.runs = runs;
    this.version = version;
    this.device = device;
  }

  public Snapshot snapshot(Caller caller) throws SQLException {
    List<Slot> running = new ArrayList<>();
    int hiddenRunning = 0;
    for (Run r : store.inState(RunState.RUNNING)) {
      if (!runs.mayRead(r.getOwner(), caller)) {
        hiddenRunning++;
        continue;
      }
      ProgressStore.Progress p = store.progress().get(r.getRunId()).orElse(null);
      int epoch = p != null ? p.epoch() : r.getEpochsCount() + 1;
      running.add(new Slot(r.getRunId(), r.getOwner(), r.getRequest().getName(), r.getResolved().getBackbone(),
          RunTable.headOf(r.getResolved()), r.getResolved().getDataset(), epoch, r.getResolved().getMaxEpochs(),
          p != null ? p.batch() : 0, p != null ? p.batches() : 0, r.getWorker(), r.getJobState(),
          r.getStartedUnixMs(), r.getAttempt()));
    }
    Map<String, Run> queued = new HashMap<>();
    for (Run r : store.inState(RunState.QUEUED)) {
      queued.put(r.getRunId(), r);
    }
    List<Entry> queue = new ArrayList<>();
    int hiddenQueued = 0;
    List<String> order = supervisor.queueOrder();
    for (int i = 0; i < order.size(); i++) {
      Run r = queued.get(order.get(i));
      if (r == null) {
        continue; // started or cancelled between the two reads
      }
      if (!runs.mayRead(r.getOwner(), caller)) {
        hiddenQueued++;
        continue;
      }
      queue.add(new Entry(i, r.getRunId(), r.getOwner(), r.getRequest().getName(), r.getResolved().getBackbone(),
          RunTable.headOf(r.getResolved()), r.getCreatedUnixMs()));
    }
    return new Snapshot(version, device, org.tensorflow.TensorFlow.version(), org.ctrlab.server.Devices.oneDnn(),
        org.ctrlab.server.Devices.bf16(), supervisor.settings().slots(), supervisor.busySlots(), running, hiddenRunning, queue, hiddenQueued,
        runs.visibility() == Visibility.ALL || caller.admin() ? runs.runsByState() : Map.of(), runs.visibility().name().toLowerCase(java.util.Locale.ROOT),
        caller.user(), caller.admin());
  }
}
