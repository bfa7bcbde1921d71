package org.ctrlab.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ctrlab.api.v1.ServerInfoRequest;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.StudyEstimate;

/** Prints what dry-run studies would queue and cost on the server, per backbone, from its own measurements. */
final class Estimates {
  private Estimates() {}

  static void print(Ctrlab root, PrintWriter o, List<Study> dryRuns) {
    Map<String, double[]> rows = new LinkedHashMap<>(); // runs, measured, s/epoch, epochs, seconds
    int total = 0;
    for (Study s : dryRuns) {
      total += s.getGridRuns();
      for (StudyEstimate e : s.getEstimatesList()) {
        double[] r = rows.computeIfAbsent(e.getBackbone(), k -> new double[5]);
        r[0] += e.getRuns();
        r[1] = Math.max(r[1], e.getMeasuredRuns());
        r[2] = e.getSecondsPerEpoch();
        r[3] = e.getEpochs();
        r[4] += e.getSeconds();
      }
    }
    int slots = Math.max(1, root.blocking().getServerInfo(ServerInfoRequest.getDefaultInstance()).getWorkers());
    Table t = new Table("backbone", "runs", "measured", "s/epoch", "epochs", "hours (one slot)");
    double seconds = 0;
    int unmeasured = 0;
    for (Map.Entry<String, double[]> e : rows.entrySet()) {
      double[] r = e.getValue();
      boolean known = r[1] > 0;
      seconds += r[4];
      unmeasured += known ? 0 : (int) r[0];
      t.row(e.getKey(), String.format(Locale.ROOT, "%.0f", r[0]), String.format(Locale.ROOT, "%.0f", r[1]),
          known ? String.format(Locale.ROOT, "%.2f", r[2]) : "-", known ? String.format(Locale.ROOT, "%.1f", r[3]) : "-",
          known ? String.format(Locale.ROOT, "%.2f", r[4] / 3600) : "no run measured");
    }
    t.print(o);
    o.printf(Locale.ROOT, "%d runs would be queued (nothing was); about %.1f h of training on one slot, %.1f h with"
        + " this server's %d slot%s%s.%n", total, seconds / 3600, seconds / 3600 / slots, slots, slots == 1 ? ""
            : "s", unmeasured == 0 ? "" : String.format(Locale.ROOT, ", not counting %d runs of backbones this server"
                + " has not finished a run of", unmeasured));
    o.println("(from the mean epoch time and epochs to early stop of the server's finished runs of each backbone on"
        + " this dataset, newest 50)");
  }
}
