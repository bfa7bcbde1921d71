package org.ctrlab.server.nn;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1-p).
 *
 * <p>The mask is keyed by the run's seed, the op and the training step ({@link RandomOps#step()}). When the input is
 * [B, ...] with static trailing dimensions, the mask is a {@code PlaceholderWithDefault}: a training pass feeds masks
 * drawn in Java by {@link #draw} (see {@code DropoutFeeder}), because TensorFlow's CPU random kernels take about
 * 6 ns per element here, a third of an MLP's step; left unfed, the graph draws its own with a stateless op.
 */
public final class Dropout {
  private Dropout() {}

  /** A dropout mask the graph accepts as a feed: [B, rowShape...] of 0 and 1/(1-p). */
  public record Slot(Operand<TFloat32> mask, Shape rowShape, int rowSize, double p, long key) {}

  public static Operand<TFloat32> apply(Net net, Operand<TFloat32> x, double p, boolean training) {
    if (!training || p <= 0) {
      return x;
    }
    var tf = net.tf;
    long key = net.random.nextKey();
    Net.Tower tower = net.tower();
    Shape s = x.shape();
    boolean feedable = net.batchRows() != null && !s.isUnknown() && s.numDimensions() >= 2
        && !s.tail().hasUnknownDimension();
    if (feedable) {
      Slot slot = tower == null ? null : net.random.dropoutSlot(key);
      if (slot == null) {
        // A feedable mask is shaped from the batch size of the input placeholders, not from x, so that it has no
        // path from a variable (PlaceholderWithDefault has no gradient function). In a tower it still covers the
        // whole batch: every tower takes its own rows of the one mask.
        Operand<TInt32> shape = tf.concat(List.of(net.batchRows(), tf.constant(toInts(s.tail()))), tf.constant(0));
        Shape row = s.tail();
        Operand<TFloat32> mask = tf.placeholderWithDefault(drawn(tf, net, shape, key, p), Shape.of(-1).append(row));
        slot = new Slot(mask, row, Math.toIntExact(row.size()), p, key);
        net.random.addDropoutSlot(slot);
      }
      Operand<TFloat32> mask = slot.mask();
      Operand<TInt32> rows = net.batchRows();
      if (tower != null) {
        mask = rowsOf(tf, mask, tower, s.numDimensions());
        rows = tower.rows();
      }
      // The mask has one row per example: fail loudly if x's first dimension is not the batch (a [1, ...] mask
      // would otherwise broadcast over a one-row batch of some other shape). A control edge: no gradient path.
      Operand<TInt32> lead = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
      var check = tf.assertThat(tf.reduceAll(tf.math.equal(lead, rows), tf.constant(0)),
          List.of(tf.constant("dropout input's first dimension is not the batch size")));
      return tf.withControlDependencies(List.of(check)).math.mul(x, mask);
    }
    if (tower != null) {
      if (s.isUnknown()) {
        throw new IllegalStateException("dropout in a tower needs an input of known rank");
      }
      // In a tower: the rows of the mask the whole batch would draw (same key), as for a fed one.
      Operand<TInt32> whole = tf.concat(List.of(net.batchRows(), tf.slice(tf.shape(x), tf.constant(new int[] {1}),
          tf.constant(new int[] {-1}))), tf.constant(0));
      return tf.math.mul(x, rowsOf(tf, drawn(tf, net, whole, key, p), tower, s.numDimensions()));
    }
    return tf.math.mul(x, drawn(tf, net, tf.shape(x), key, p));
  }

  /** A tower's rows of a whole batch's mask of the given rank. */
  private static Operand<TFloat32> rowsOf(org.tensorflow.op.Ops tf, Operand<TFloat32> mask, Net.Tower tower,
      int rank) {
    return tf.slice(mask, tf.concat(List.of(tower.begin(), tf.constant(new int[rank - 1])), tf.constant(0)),
        tf.concat(List.of(tower.rows(), tf.constant(minusOnes(rank - 1))), tf.constant(0)));
  }

  /** A mask drawn in the graph by a stateless op keyed by (key, step). */
  private static Operand<TFloat32> drawn(org.tensorflow.op.Ops tf, Net net, Operand<TInt32> shape, long key,
      double p) {
    Operand<TFloat32> u = tf.random.statelessRandomUniform(shape, net.random.statelessSeed(tf, key), TFloat32.class);
    return tf.math.mul(tf.dtypes.cast(tf.math.greaterEqual(u, tf.constant((float) p)), TFloat32.class),
        tf.constant((float) (1.0 / (1.0 - p))));
  }

  private static int[] minusOnes(int n) {
    int[] v = new int[n];
    java.util.Arrays.fill(v, -1);
    return v;
  }

  private static int[] toInts(Shape s) {
    int[] out = new int[s.numDimensions()];
    for (int i = 0; i < out.length; i++) {
      out[i] = Math.toIntExact(s.size(i));
    }
    return out;
  }

  /**
   * Writes n mask values for a slot at a step into out: each is 0 with probability q (p rounded to a multiple of
   * 2^-16) and 1/(1-q) otherwise, so that its mean is exactly 1, from a SplitMix64 stream seeded by (key, step),
   * 16 bits per element. A mask for fewer elements is a prefix of one for more.
   */
  public static void draw(float[] out, int n, double p, long key, long step) {
    long threshold = Math.round(p * 65536.0);
    int scale = Float.floatToIntBits((float) (1.0 / (1.0 - threshold / 65536.0)));
    long state = mix(key ^ mix(step + 0x632BE59BD9B4E019L));
    // Branch-free: a 16-bit draw below the threshold makes (draw - threshold) negative, so ((d - t) >>> 63) - 1 is
    // 0 (dropped) or all ones (kept), a mask on the bits of 1/(1-p).
    int i = 0;
    for (; i + 3 < n; i += 4) {
      state += 0x9E3779B97F4A7C15L;
      long r = mix(state);
      out[i] = keep(r & 0xFFFF, threshold, scale);
      out[i + 1] = keep((r >>> 16) & 0xFFFF, threshold, scale);
      out[i + 2] = keep((r >>> 32) & 0xFFFF, threshold, scale);
      out[i + 3] = keep(r >>> 48, threshold, scale);
    }
    if (i < n) {
      state += 0x9E3779B97F4A7C15L;
      long r = mix(state);
      for (; i < n; i++, r >>>= 16) {
        out[i] = keep(r & 0xFFFF, threshold, scale);
      }
    }
  }

  private static float keep(long draw, long threshold, int scaleBits) {
    return Float.intBitsToFloat((int) (((draw - threshold) >>> 63) - 1) & scaleBits);
  }

  /** SplitMix64's finaliser. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
