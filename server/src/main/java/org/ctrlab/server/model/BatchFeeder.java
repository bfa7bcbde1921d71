package org.ctrlab.server.model;

import java.util.ArrayList;
import java.util.List;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.nn.FeatureInputs;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Copies the rows of a batch from a {@link Dataset}'s columnar arrays into buffers allocated once, and feeds them
 * as tensors. No per-row object is made; the only per-batch allocations are the native tensors, closed by
 * {@link #close()} after the step.
 */
public final class BatchFeeder implements AutoCloseable {
  private final Dataset ds;
  private final int capacity;
  private final int[] tokens;
  private final int[][] seqs;
  private final float[] floats;
  private final float[] labels;
  private final int[] classes;
  private final List<Tensor> open = new ArrayList<>();
  private int size;

  public BatchFeeder(Dataset ds, int capacity) {
    this.ds = ds;
    this.capacity = capacity;
    this.tokens = new int[capacity * ds.tokenWidth];
    this.seqs = new int[ds.seqs.length][];
    for (int s = 0; s < seqs.length; s++) {
      seqs[s] = new int[capacity * ds.seqLens[s]];
    }
    this.floats = new float[capacity * Math.max(ds.floatWidth, 0)];
    this.labels = new float[capacity];
    this.classes = new int[capacity];
  }

  public int size() {
    return size;
  }

  /** Loads rows[from..to) (at most capacity rows). */
  public void fill(int[] rows, int from, int to) {
    size = to - from;
    if (size > capacity) {
      throw new IllegalArgumentException("batch of " + size + " rows exceeds capacity " + capacity);
    }
    int tw = ds.tokenWidth;
    int fw = ds.floatWidth;
    for (int j = 0; j < size; j++) {
      int r = rows[from + j];
      System.arraycopy(ds.tokens, r * tw, tokens, j * tw, tw);
      for (int s = 0; s < seqs.length; s++) {
        int len = ds.seqLens[s];
        System.arraycopy(ds.seqs[s], r * len, seqs[s], j * len, len);
      }
      if (fw > 0) {
        System.arraycopy(ds.floats, r * fw, floats, j * fw, fw);
      }
      labels[j] = ds.labels[r];
      classes[j] = ds.ratingClasses[r];
    }
  }

  /**
   * Writes row j of the batch as a copy of {@code baseRow} whose item-side columns (flagged per token, sequence and
   * float field) come from {@code itemRow}: a ranking candidate, the user's row with another item swapped in.
   */
  public void fillMixed(int j, int baseRow, int itemRow, boolean[] tokenFromItem, boolean[] seqFromItem,
      boolean[] floatFromItem) {
    int tw = ds.tokenWidth;
    for (int c = 0; c < tw; c++) {
      tokens[j * tw + c] = ds.tokens[(tokenFromItem[c] ? itemRow : baseRow) * tw + c];
    }
    for (int s = 0; s < seqs.length; s++) {
      int len = ds.seqLens[s];
      System.arraycopy(ds.seqs[s], (seqFromItem[s] ? itemRow : baseRow) * len, seqs[s], j * len, len);
    }
    int fw = ds.floatWidth;
    for (int c = 0; c < fw; c++) {
      floats[j * fw + c] = ds.floats[(floatFromItem[c] ? itemRow : baseRow) * fw + c];
    }
  }

  /** Sets the number of rows written with {@link #fillMixed}. */
  public void setSize(int size) {
    if (size > capacity) {
      throw new IllegalArgumentException("batch of " + size + " rows exceeds capacity " + capacity);
    }
    this.size = size;
  }

  /** Feeds the features of the current batch. */
  public Session.Runner feedFeatures(Session.Runner r, FeatureInputs in) {
    if (in.tokens != null) {
      r.feed(in.tokens, track(TInt32.tensorOf(Shape.of(size, ds.tokenWidth),
          DataBuffers.of(tokens, true, false).slice(0, (long) size * ds.tokenWidth))));
    }
    for (int s = 0; s < seqs.length; s++) {
      int len = ds.seqLens[s];
      r.feed(in.seqs.get(s), track(TInt32.tensorOf(Shape.of(size, len),
          DataBuffers.of(seqs[s], true, false).slice(0, (long) size * len))));
    }
    if (in.floats != null) {
      r.feed(in.floats, track(TFloat32.tensorOf(Shape.of(size, ds.floatWidth),
          DataBuffers.of(floats, true, false).slice(0, (long) size * ds.floatWidth))));
    }
    return r;
  }

  /** Feeds the click labels and rating classes of the current batch. */
  public Session.Runner feedLabels(Session.Runner r, Placeholder<TFloat32> label, Placeholder<TInt32> ratingClass) {
    r.feed(label, track(TFloat32.tensorOf(Shape.of(size), DataBuffers.of(labels, true, false).slice(0, size))));
    r.feed(ratingClass, track(TInt32.tensorOf(Shape.of(size), DataBuffers.of(classes, true, false).slice(0, size))));
    return r;
  }

  private <T extends Tensor> T track(T t) {
    open.add(t);
    return t;
  }

  /** Closes the tensors fed since the last close. */
  @Override
  public void close() {
    for (Tensor t : open) {
      t.close();
    }
    open.clear();
  }
}
