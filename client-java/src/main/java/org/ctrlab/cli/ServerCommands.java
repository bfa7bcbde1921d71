package org.ctrlab.cli;

import static org.ctrlab.cli.Commands.*;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ctrlab.api.v1.BackboneInfo;
import org.ctrlab.api.v1.DatasetInfo;
import org.ctrlab.api.v1.ListBackbonesRequest;
import org.ctrlab.api.v1.ListBackbonesResponse;
import org.ctrlab.api.v1.ListDatasetsRequest;
import org.ctrlab.api.v1.ListDatasetsResponse;
import org.ctrlab.api.v1.ParamSpec;
import org.ctrlab.api.v1.ServerInfo;
import org.ctrlab.api.v1.ServerInfoRequest;
import picocli.CommandLine.Command;

/** The server's catalog and state: {@code ctrlab backbones, datasets, info}. */
final class ServerCommands {
  private ServerCommands() {}

  @Command(name = "backbones", mixinStandardHelpOptions = true,
      description = "Backbones with their hyperparameters, defaults and ranges.",
      footer = {"", "Example:", "  ctrlab backbones"})
  static final class Backbones extends Base {
    @Override
    Integer run() {
      ListBackbonesResponse r = root.blocking().listBackbones(ListBackbonesRequest.getDefaultInstance());
      if (root.json) {
        root.printJson(out(), r);
        return 0;
      }
      for (BackboneInfo b : r.getBackbonesList()) {
        out().println(b.getName() + ": " + Safe.text(b.getDescription()));
        Table t = new Table("  hyperparameter", "default", "range", "description");
        for (ParamSpec p : b.getHyperparametersList()) {
          t.row("  " + p.getName(), value(p.getDefaultValue()), range(p), p.getDescription());
        }
        for (ParamSpec p : b.getTrainingList()) {
          t.row("  " + p.getName() + " (training)", value(p.getDefaultValue()), range(p),
              "this backbone's default for: " + p.getDescription());
        }
        t.print(out());
        out().println();
      }
      Table t = new Table("training (shared defaults)", "default", "range", "description");
      for (ParamSpec p : r.getTrainingList()) {
        t.row(p.getName(), value(p.getDefaultValue()), range(p), p.getDescription());
      }
      t.print(out());
      return 0;
    }

    private static String range(ParamSpec p) {
      if (p.getChoicesCount() > 0) {
        return String.join("|", p.getChoicesList());
      }
      return "[" + num(p.getMin()) + ", " + num(p.getMax()) + "]";
    }

    private static String num(double v) {
      if (Math.abs(v) > 1e12) {
        return v > 0 ? "inf" : "-inf";
      }
      return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
  }

  @Command(name = "datasets", mixinStandardHelpOptions = true, description = "Datasets the server knows.",
      footer = {"", "Example:", "  ctrlab datasets"})
  static final class Datasets extends Base {
    @Override
    Integer run() {
      ListDatasetsResponse r = root.blocking().listDatasets(ListDatasetsRequest.getDefaultInstance());
      if (root.json) {
        root.printJson(out(), r);
        return 0;
      }
      Table t = new Table("dataset", "available", "interactions", "users", "items", "source", "description");
      for (DatasetInfo d : r.getDatasetsList()) {
        t.row(d.getName(), d.getAvailable() ? "yes" : "no",
            d.getInteractions() == 0 ? "-" : String.format(Locale.ROOT, "%,d", d.getInteractions()),
            d.getUsers() == 0 ? "-" : String.format(Locale.ROOT, "%,d", d.getUsers()),
            d.getItems() == 0 ? "-" : String.format(Locale.ROOT, "%,d", d.getItems()), d.getSource(),
            d.getDescription());
      }
      t.print(out());
      return 0;
    }
  }

  @Command(name = "info", mixinStandardHelpOptions = true, description = "Server version, device and queue.",
      footer = {"", "Example:", "  ctrlab --server gpu-box:50051 info"})
  static final class Info extends Base {
    @Override
    Integer run() {
      ServerInfo i = root.blocking().getServerInfo(ServerInfoRequest.getDefaultInstance());
      if (root.json) {
        root.printJson(out(), i);
        return 0;
      }
      out().printf("server      %s (ctrlab %s, TensorFlow %s)%n", root.server, i.getVersion(),
          i.getTensorflowVersion());
      out().printf("device      %s%s%n", i.getDevice(), i.getOnednn() ? ", oneDNN CPU kernels" : "");
      out().printf("bf16        %s%n", i.getBf16().isEmpty() ? "no (runs train in float32)" : "yes, " + i.getBf16()
          + " (train --bf16)");
      out().printf("slots       %d of %d busy%n", i.getRunning(), i.getWorkers());
      StringBuilder q = new StringBuilder();
      i.getQueuedByUserMap().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
          .forEach(e -> q.append(q.length() == 0 ? " (" : ", ").append(Safe.text(e.getKey())).append(' ')
              .append(e.getValue()));
      out().printf("queue       %d waiting%s, at most %d queued per user%n", i.getQueueLength(),
          q.length() == 0 ? "" : q + ")", i.getMaxQueuedPerUser());
      StringBuilder st = new StringBuilder();
      for (String name : List.of("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")) {
        st.append(st.length() == 0 ? "" : ", ").append(i.getRunsByStateOrDefault(name, 0)).append(' ')
            .append(name.toLowerCase(Locale.ROOT));
      }
      out().printf("runs        %s%n", st);
      out().printf("you         %s%s%s; runs visible: %s; %s%n", i.getUser(), i.getAdmin() ? " (admin)" : "",
          i.getAuthRequired() ? ", token required" : "", i.getVisibility().equals("own") ? "your own" : "everyone's",
          i.getTls() ? "TLS" : "plaintext");
      return 0;
    }
  }
}
