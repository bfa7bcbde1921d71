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
import org.tensorflow.types.TFloat32;

/**
 * The time of a set of matrix products alone, in a TensorFlow session of their own on the given threads: each
 * product on operands of its shapes (random, resident, transposed as the model's), nothing else. For a model's
 * training step ({@link CtrModel#trainProducts}) it is the step's floor: what its matrix products cost by themselves.
 */
final class ProductFloor {
  private ProductFloor() {}

  /** Milliseconds one pass over the products takes: the best mean of 5 rounds of {@code steps} passes. */
  static double millis(List<CtrModel.Product> products, int threads, int steps) {
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
        Operand<TFloat32> z = batched
            ? tf.train.batchMatMul(x, y, TFloat32.class, BatchMatMul.adjX(p.transposeA()),
                BatchMatMul.adjY(p.transposeB()))
            : tf.linalg.matMul(x, y, MatMul.transposeA(p.transposeA()), MatMul.transposeB(p.transposeB()));
        int rank = batched ? 3 : 2;
        corners.add(tf.reshape(tf.slice(z, tf.constant(new int[rank]), tf.constant(ones(rank))),
            tf.constant(new int[] {1})));
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

  private static Operand<TFloat32> random(Ops tf, long[] shape) {
    return tf.variable(tf.random.randomUniform(tf.constant(shape), TFloat32.class));
  }

  private static int[] ones(int n) {
    int[] v = new int[n];
    java.util.Arrays.fill(v, 1);
    return v;
  }
}
