package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.core.Sum;
import org.tensorflow.types.TFloat32;

/**
 * RecBole's FMFirstOrderLinear (METHOD.md 2.5): 1-dimensional tables with the field-embedding layout,
 * {@code lin = sum_token w[offset_f + id] + sum_seq sum_{non-PAD} w_f[tok] (a SUM, not a mean)
 * + sum_float value * w[offset_f + 1] + b}, output [B, 1].
 */
public final class FirstOrderLinear {
  private final Param tokenTable;
  private final List<Param> seqTables = new ArrayList<>();
  private final Param floatTable;
  private final Param bias;
  private final int[] offsets;

  public FirstOrderLinear(Net net, FeatureInputs in) {
    offsets = in.tokenOffsets();
    int rows = in.tokenRows();
    tokenTable = rows == 0 ? null : net.param("first_order/token_embedding", Shape.of(rows, 1),
        Init.xavierNormal(1, rows), Param.Group.EMBEDDING, true);
    for (var f : in.seqFields) {
      seqTables.add(net.param("first_order/seq_embedding_" + f.name(), Shape.of(f.vocab(), 1),
          Init.xavierNormal(1, f.vocab()), Param.Group.EMBEDDING, true));
    }
    int fl = in.floatFields.size();
    floatTable = fl == 0 ? null : net.param("first_order/float_embedding", Shape.of(2L * fl, 1),
        Init.xavierNormal(1, 2L * fl), Param.Group.EMBEDDING, true);
    bias = net.weight("first_order/bias", Shape.of(1), Init.zeros());
  }

  /** The embedding-table weights (the part xDeepFM regularises). */
  public List<Param> tables() {
    List<Param> out = new ArrayList<>();
    if (tokenTable != null) {
      out.add(tokenTable);
    }
    out.addAll(seqTables);
    if (floatTable != null) {
      out.add(floatTable);
    }
    return out;
  }

  public Operand<TFloat32> apply(Net net, FeatureInputs in) {
    var tf = net.tf;
    Operand<TFloat32> total = null;
    if (tokenTable != null) {
      Operand<TFloat32> w = tf.gather(tokenTable.read, tf.math.add(in.tokens, tf.constant(offsets)), tf.constant(0));
      total = tf.sum(w, tf.constant(new int[] {1, 2}), Sum.keepDims(false)); // [B]
    }
    for (int s = 0; s < seqTables.size(); s++) {
      Operand<TFloat32> w = tf.gather(seqTables.get(s).read, in.seqs.get(s), tf.constant(0)); // [B, L, 1]
      Operand<TFloat32> sum = tf.sum(tf.math.mul(w, in.seqMask(net, s)), tf.constant(new int[] {1, 2}),
          Sum.keepDims(false));
      total = total == null ? sum : tf.math.add(total, sum);
    }
    if (floatTable != null) {
      int fl = in.floatFields.size();
      int[] rows = new int[fl];
      for (int i = 0; i < fl; i++) {
        rows[i] = 2 * i + 1;
      }
      Operand<TFloat32> w = tf.reshape(tf.gather(floatTable.read, tf.constant(rows), tf.constant(0)),
          tf.constant(new int[] {fl}));
      Operand<TFloat32> sum = tf.sum(tf.math.mul(in.floats, w), tf.constant(1), Sum.keepDims(false));
      total = total == null ? sum : tf.math.add(total, sum);
    }
    Operand<TFloat32> out = tf.math.add(tf.expandDims(total, tf.constant(1)), bias.read); // [B, 1]
    return out;
  }
}
