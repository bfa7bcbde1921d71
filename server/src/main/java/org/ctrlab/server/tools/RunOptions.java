package org.ctrlab.server.tools;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.Devices;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import picocli.CommandLine.Option;

/** The options the in-process tools share (data, backbones, λr, threads, overrides) and what they do with them. */
final class RunOptions {
  @Option(names = "--data-dir", description = "Folder holding one sub-folder per dataset (default: ${DEFAULT-VALUE}).")
  Path dataDir = Path.of("data");

  @Option(names = "--dataset", description = "Dataset name (default: ${DEFAULT-VALUE}).")
  String dataset = "synthetic";

  @Option(names = "--backbone", split = ",", description = "Backbones, comma-separated (default: DCNV2).")
  List<String> backbones = List.of("DCNV2");

  @Option(names = "--rating-weight", description = "lambda_r for the RATING head (default: the config's).")
  Double ratingWeight;

  @Option(names = "--threads", description = "TensorFlow threads (default: all cores).")
  int threads = Runtime.getRuntime().availableProcessors();

  @Option(names = "--set", description = "Backbone hyperparameter NAME=V or NAME=V1,V2 (repeatable).")
  Map<String, String> set = Map.of();

  record Loaded(RunConfigs configs, Dataset dataset) {}

  /** Loads the dataset with the packaged configs and prints it and the device. */
  Loaded load() {
    Devices.useThreads(threads); // before this process's first TensorFlow session sizes its thread pools
    Configs configs = Configs.packaged();
    DatasetRegistry reg = new DatasetRegistry(dataDir, configs.datasets(), Map.of(), false);
    long t0 = System.nanoTime();
    Dataset ds = reg.load(dataset);
    System.err.printf(Locale.ROOT, "%s (loaded in %.1f s)%n", ds.describe(), (System.nanoTime() - t0) / 1e9);
    System.err.printf(Locale.ROOT, "device %s, TensorFlow threads %d, oneDNN CPU kernels %s%n", Devices.describe(),
        threads, Devices.oneDnn() ? "on" : "off");
    if (!Devices.ownPools()) {
      System.err.println("note: " + Devices.OWN_POOLS_ENV + " is not set, so models share this process's thread"
          + " pools and a CPU training step runs in one tower unless told otherwise; the server's workers have it set"
          + " (set it to true here to measure what they run)");
    }
    return new Loaded(new RunConfigs(configs, reg), ds);
  }

  /** The run config for one backbone × head: the packaged defaults with these options' overrides. */
  ResolvedConfig resolve(RunConfigs rc, String datasetName, String backbone, Head head, Integer epochs, Long seed) {
    TrainRequest.Builder req = TrainRequest.newBuilder().setDataset(datasetName).setBackbone(backbone).setHead(head);
    if (epochs != null) {
      req.setMaxEpochs(epochs);
    }
    if (seed != null) {
      req.setSeed(seed);
    }
    if (ratingWeight != null) {
      req.setRatingWeight(ratingWeight);
    }
    set.forEach((k, v) -> req.putHyperparameters(k, parse(v)));
    return rc.resolve(req.build());
  }

  private static ParamValue parse(String v) {
    if (v.contains(",") || v.startsWith("[")) {
      NumberList.Builder b = NumberList.newBuilder();
      for (String x : v.replace("[", "").replace("]", "").split(",")) {
        b.addValues(Double.parseDouble(x.trim()));
      }
      return ParamValue.newBuilder().setList(b).build();
    }
    return ParamValue.newBuilder().setNumber(Double.parseDouble(v)).build();
  }
}
