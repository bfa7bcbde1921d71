package org.ctrlab.server.tools;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ctrlab.server.model.CtrModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The time a training step spends in matrix products alone, for given dense layers: per layer the forward product
 * and the two of its gradient (dX, dW), nothing else, in one TensorFlow session like a model's. It bounds from below
 * what any implementation of those layers in TensorFlow can reach on this machine.
 */
@Command(name = "matmul-floor", mixinStandardHelpOptions = true,
    description = "Time only the forward, dX and dW matrix products of dense layers, as a lower bound per epoch.",
    footer = {"", "Example (DCNV2 on ML-1M: MLP 112-256-256-256 and two 112x112 cross layers):",
        "  ctrlab-server matmul-floor --layers 112:256,256:256,256:256,112:112,112:112 --steps 196"})
public final class MatmulFloor implements Callable<Integer> {
  @Option(names = "--layers", split = ",", required = true, description = "Layers as IN:OUT, comma-separated.")
  List<String> layers;

  @Option(names = "--batch", description = "Rows per step (default: ${DEFAULT-VALUE}).")
  int batch = 4096;

  @Option(names = "--steps", description = "Steps per epoch (default: ${DEFAULT-VALUE}, ML-1M's 798,831 training rows"
      + " at 4096).")
  int steps = 196;

  @Option(names = "--threads", description = "TensorFlow threads (default: all cores).")
  int threads = Runtime.getRuntime().availableProcessors();

  @Override
  public Integer call() {
    org.ctrlab.server.Devices.useThreads(threads); // before this process's first TensorFlow session
    // Per layer the forward product x W and the two of its gradient, dX = dY W' and dW = X' dY.
    List<CtrModel.Product> products = new ArrayList<>();
    for (String l : layers) {
      String[] io = l.split(":");
      int in = Integer.parseInt(io[0].trim());
      int out = Integer.parseInt(io[1].trim());
      products.add(new CtrModel.Product("MatMul", 1, batch, in, out, false, false));
      products.add(new CtrModel.Product("MatMul", 1, batch, out, in, false, true));
      products.add(new CtrModel.Product("MatMul", 1, in, batch, out, true, false));
    }
    double flops = products.stream().mapToDouble(CtrModel.Product::flops).sum();
    double best = ProductFloor.millis(products, threads, 20);
    System.out.printf(Locale.ROOT, "oneDNN CPU kernels %s, %d threads%n",
        org.ctrlab.server.Devices.oneDnn() ? "on" : "off", threads);
    System.out.printf(Locale.ROOT, "%.1f GFLOP per step in %.2f ms (best of 5 x 20 steps, %.0f GFLOPS): %.2f s"
        + " per %d-step epoch%n", flops / 1e9, best, flops / best / 1e6, best * steps / 1000, steps);
    return 0;
  }
}
