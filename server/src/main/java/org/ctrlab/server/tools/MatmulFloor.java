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

  @Option(names = "--kernels", description = "Also time each product alone in float32 and in bfloat16, as the bare"
      + " product and with a bias added (the form fused into one kernel, as a Dense layer's forward product runs),"
      + " with ratios to float32's bare product.")
  boolean kernels;

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
    if (kernels) {
      printKernels(products);
    }
    return 0;
  }

  /** Each product alone as each kernel: milliseconds, and the ratio to the float32 bare product's. */
  private void printKernels(List<CtrModel.Product> products) {
    List<ProductFloor.Kernel> kinds = List.of(ProductFloor.Kernel.FLOAT32, new ProductFloor.Kernel(false, true),
        new ProductFloor.Kernel(true, false), new ProductFloor.Kernel(true, true));
    System.out.printf(Locale.ROOT, "%nEach product alone, ms (best of 5 x 10 runs), and over f32's%n%-10s %-8s %-28s",
        "layer", "product", "[M x K] [K x N]");
    for (ProductFloor.Kernel k : kinds) {
      System.out.printf(Locale.ROOT, " %10s %6s", k.label(), "ratio");
    }
    System.out.println();
    String[] names = {"forward", "dX", "dW"};
    for (int i = 0; i < products.size(); i++) {
      CtrModel.Product p = products.get(i);
      System.out.printf(Locale.ROOT, "%-10s %-8s %-28s", layers.get(i / 3).trim(), names[i % 3],
          "[" + p.m() + " x " + p.k() + "] [" + p.k() + " x " + p.n() + "]");
      double base = 0;
      for (ProductFloor.Kernel k : kinds) {
        double ms = ProductFloor.millis(List.of(p), threads, 10, k);
        base = base == 0 ? ms : base;
        System.out.printf(Locale.ROOT, " %10.3f %6.2f", ms, ms / base);
      }
      System.out.println();
    }
  }
}
