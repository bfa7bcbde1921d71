package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.core.Sum;
import org.tensorflow.types.TFloat32;

/**
 * RecBole's field embedding (METHOD.md section 2.5): one table shared by all token fields (field f's id i at row
 * offset_f + i), one table per token-sequence field mean-pooled over non-PAD positions, and one table for floats
 * (value times row offset_f + 1). Output E: [B, F, d] in the order sequences, tokens, floats.
 */
public final class FieldEmbedding {
  public final int dim;
  public final Param tokenTable;
  public final List<Param> seqTables = new ArrayList<>();
  public final Param floatTable;
  private final int[] offsets;

  public FieldEmbedding(Net net, FeatureInputs in, int dim) {
    this.dim = dim;
    this.offsets = in.tokenOffsets();
    int rows = in.tokenRows();
    tokenTable = rows == 0 ? null : net.param("embedding/token", Shape.of(rows, dim), Init.xavierNormal(dim, rows),
        Param.Group.EMBEDDING, true);
    for (int s = 0; s < in.seqFields.size(); s++) {
      int v = in.seqFields.get(s).vocab();
      seqTables.add(net.param("embedding/seq_" + in.seqFields.get(s).name(), Shape.of(v, dim),
          Init.xavierNormal(dim, v), Param.Group.EMBEDDING, true));
    }
    int fl = in.floatFields.size();
    floatTable = fl == 0 ? null : net.param("embedding/float", Shape.of(2L * fl, dim), Init.xavierNormal(dim, 2L * fl),
        Param.Group.EMBEDDING, true);
  }

  /** Rows of the shared token table that belong to token field {@code column}: [start, end). */
  public int[] tokenRowRange(FeatureInputs in, int column) {
    return new int[] {offsets[column], offsets[column] + in.tokenFields.get(column).vocab()};
  }

  public Operand<TFloat32> apply(Net net, FeatureInputs in) {
    var tf = net.tf;
    List<Operand<TFloat32>> parts = new ArrayList<>();
    for (int s = 0; s < in.seqFields.size(); s++) {
      Operand<TFloat32> e = tf.gather(seqTables.get(s).read, in.seqs.get(s), tf.constant(0)); // [B, L, d]
      Operand<TFloat32> mask = in.seqMask(net, s); // [B, L, 1]
      Operand<TFloat32> sum = tf.sum(tf.math.mul(e, mask), tf.constant(1), Sum.keepDims(true)); // [B, 1, d]
      Operand<TFloat32> count = tf.sum(mask, tf.constant(1), Sum.keepDims(true)); // [B, 1, 1]
      parts.add(tf.math.div(sum, tf.math.add(count, tf.constant(1e-8f))));
    }
    if (tokenTable != null) {
      Operand<org.tensorflow.types.TInt32> ids = tf.math.add(in.tokens, tf.constant(offsets));
      parts.add(tf.gather(tokenTable.read, ids, tf.constant(0))); // [B, T, d]
    }
    if (floatTable != null) {
      int fl = in.floatFields.size();
      int[] rows = new int[fl];
      for (int i = 0; i < fl; i++) {
        rows[i] = 2 * i + 1;
      }
      Operand<TFloat32> w = tf.gather(floatTable.read, tf.constant(rows), tf.constant(0)); // [Ffl, d]
      parts.add(tf.math.mul(tf.expandDims(in.floats, tf.constant(-1)), w)); // [B, Ffl, d]
    }
    return parts.size() == 1 ? parts.get(0) : tf.concat(parts, tf.constant(1));
  }
}
