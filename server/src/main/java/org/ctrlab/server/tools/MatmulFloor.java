package org.ctrlab.server.tools;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;
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
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      // One element of every product is fetched: grappler removes ops whose outputs nothing reads.
      List<Operand<TFloat32>> corners = new ArrayList<>();
      double flops = 0;
      for (String l : layers) {
        String[] io = l.split(":");
        int in = Integer.parseInt(io[0].trim());
        int out = Integer.parseInt(io[1].trim());
        var x = tf.variable(tf.random.randomUniform(tf.constant(new int[] {batch, in}), TFloat32.class));
        var w = tf.variable(tf.random.randomUniform(tf.constant(new int[] {in, out}), TFloat32.class));
        var dy = tf.variable(tf.random.randomUniform(tf.constant(new int[] {batch, out}), TFloat32.class));
        for (Operand<TFloat32> product : List.of(tf.linalg.matMul(x, w),
            tf.linalg.matMul(dy, w, MatMul.transposeB(true)), tf.linalg.matMul(x, dy, MatMul.transposeA(true)))) {
          corners.add(tf.slice(product, tf.constant(new int[] {0, 0}), tf.constant(new int[] {1, 1})));
        }
        flops += 3 * 2.0 * batch * in * out;
      }
      Operand<TFloat32> all = tf.math.addN(corners);
      ConfigProto cp = ConfigProto.newBuilder().setIntraOpParallelismThreads(threads)
          .setInterOpParallelismThreads(threads).build();
      try (Session s = new Session(g, cp)) {
        s.initialize();
        for (int i = 0; i < 10; i++) {
          s.runner().fetch(all).run().close();
        }
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 5; rep++) {
          long t0 = System.nanoTime();
          for (int i = 0; i < 20; i++) {
            s.runner().fetch(all).run().close();
          }
          best = Math.min(best, (System.nanoTime() - t0) / 1e6 / 20);
        }
        System.out.printf(Locale.ROOT, "oneDNN CPU kernels %s, %d threads%n",
            org.ctrlab.server.Devices.oneDnn() ? "on" : "off", threads);
        System.out.printf(Locale.ROOT, "%.1f GFLOP per step in %.2f ms (best of 5 x 20 steps, %.0f GFLOPS): %.2f s"
            + " per %d-step epoch%n", flops / 1e9, best, flops / best / 1e6, best * steps / 1000, steps);
      }
    }
    return 0;
  }
}
