package org.ctrlab.server.tools;

import java.util.ArrayList;
import java.util.List;
import org.ctrlab.server.model.CtrModel;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/**
 * The time of a set of matrix products alone, in a TensorFlow session of their own on the given threads: each
 * product on operands of its shapes (random, resident, transposed as the model's), nothing else. For a model's
 * training step ({@link CtrModel#trainProducts}) it is the step's floor: what its matrix products cost by themselves.
 */
final class ProductFloor {
  private ProductFloor() {}

  /**
   * The kernel a product runs as: its operands in float32 or bfloat16, and whether a bias is added to its result
   * (a zero one), the form Grappler fuses into one product-with-bias kernel (oneDNN's matmul primitive), the form
   * a Dense layer's forward product takes, where a bare product runs oneDNN's GEMM call.
   */
  record Kernel(boolean bf16, boolean bias) {
    static final Kernel FLOAT32 = new Kernel(false, false);

    String label() {
      return (bf16 ? "bf16" : "f32") + (bias ? "+bias" : "");
    }
  }

  /** Milliseconds one pass over the products takes: the best mean of 5 rounds of {@code steps} passes. */
  static double millis(List<CtrModel.Product> products, int threads, int steps) {
    return millis(products, threads, steps, Kernel.FLOAT32);
  }

  /**
   * {@link #millis(List, int, int)} with the products run as the given kernel (the bias only on MatMul products; a
   * BatchMatMul runs bare).
   */
  static double millis(List<CtrModel.Product> products, int threads, int steps, Kernel kernel) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      // One element of every product is fetched: grappler removes ops whose outputs nothing reads.
      List<Operand<TFloat32>> corners = new ArrayList<>();
      for (CtrModel.Product p : products) {
        boolean batched = p.type().startsWith("BatchMatMul");
        long[] a = p.transposeA() ? new long[] {p.k(), p.m()} : new long[] {p.m(), p.k()};
        long[] b = p.transposeB() ? new long[] {p.n(), p.k()} : new long[] {p.k(), p.n()};
        Operand<TFloat32> x = random(tf, batched ? new long[] {p.batch(), a[0], a[1]} : a);
        Operand<TFloat32> y = random(tf, batched ? new long[] {p.batch(), b[0], b[1]} : b);
        int rank = batched ? 3 : 2;
        if (kernel.bf16()) {
          // The element is taken in bf16 and only it cast: the product's output is not passed over again.
          corners.add(tf.dtypes.cast(corner(tf, product(tf, p, kernel, tf.variable(tf.dtypes.cast(x, TBfloat16.class)),
              tf.variable(tf.dtypes.cast(y, TBfloat16.class)), TBfloat16.class), rank), TFloat32.class));
        } else {
          corners.add(corner(tf, product(tf, p, kernel, tf.variable(x), tf.variable(y), TFloat32.class), rank));
        }
      }
      if (corners.isEmpty()) {
        return 0;
      }
      Operand<TFloat32> all = tf.math.addN(corners);
      ConfigProto cp = ConfigProto.newBuilder().setIntraOpParallelismThreads(threads)
          .setInterOpParallelismThreads(threads).build();
      try (Session s = new Session(g, cp)) {
        s.initialize();
        for (int i = 0; i < Math.max(3, steps / 4); i++) {
          s.runner().fetch(all).run().close();
        }
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 5; rep++) {
          long t0 = System.nanoTime();
          for (int i = 0; i < steps; i++) {
            s.runner().fetch(all).run().close();
          }
          best = Math.min(best, (System.nanoTime() - t0) / 1e6 / steps);
        }
        return best;
      }
    }
  }

  private static <T extends TNumber> Operand<T> product(Ops tf, CtrModel.Product p, Kernel kernel, Operand<T> x,
      Operand<T> y, Class<T> type) {
    if (p.type().startsWith("BatchMatMul")) {
      return tf.train.batchMatMul(x, y, type, BatchMatMul.adjX(p.transposeA()), BatchMatMul.adjY(p.transposeB()));
    }
    Operand<T> z = tf.linalg.matMul(x, y, MatMul.transposeA(p.transposeA()), MatMul.transposeB(p.transposeB()));
    return kernel.bias() ? tf.nn.biasAdd(z, tf.variable(tf.zeros(tf.constant(new long[] {p.n()}), type))) : z;
  }

  private static <T extends TNumber> Operand<T> corner(Ops tf, Operand<T> z, int rank) {
    return tf.reshape(tf.slice(z, tf.constant(new int[rank]), tf.constant(ones(rank))), tf.constant(new int[] {1}));
  }

  /** Random values in [0, 1), for a variable's initial value (drawn once: operands resident as a model's are). */
  private static Operand<TFloat32> random(Ops tf, long[] shape) {
    return tf.random.randomUniform(tf.constant(shape), TFloat32.class);
  }

  private static int[] ones(int n) {
    int[] v = new int[n];
    java.util.Arrays.fill(v, 1);
    return v;
  }
}
