package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.List;
import org.ctrlab.server.data.Field;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The raw-feature placeholders of a model: token ids [B, tokens], one [B, L] id matrix per token sequence and
 * float values [B, floats]. {@link #fields} is the field list in embedding order.
 */
public final class FeatureInputs {
  public final List<Field> fields;
  public final List<Field> tokenFields = new ArrayList<>();
  public final List<Field> seqFields = new ArrayList<>();
  public final List<Field> floatFields = new ArrayList<>();
  public final Operand<TInt32> tokens;
  public final List<Operand<TInt32>> seqs = new ArrayList<>();
  public final Operand<TFloat32> floats;

  public FeatureInputs(Net net, List<Field> fields) {
    this.fields = List.copyOf(fields);
    for (Field f : fields) {
      switch (f.type()) {
        case TOKEN -> tokenFields.add(f);
        case TOKEN_SEQ -> seqFields.add(f);
        case FLOAT -> floatFields.add(f);
      }
    }
    var tf = net.tf;
    tokens = tokenFields.isEmpty() ? null
        : tf.withName("tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, tokenFields.size())));
    for (int s = 0; s < seqFields.size(); s++) {
      seqs.add(tf.withName("seq" + s).placeholder(TInt32.class,
          Placeholder.shape(Shape.of(-1, seqFields.get(s).seqLen()))));
    }
    floats = floatFields.isEmpty() ? null
        : tf.withName("floats").placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, floatFields.size())));
    Operand<?> any = tokens != null ? tokens : !seqs.isEmpty() ? seqs.get(0) : floats;
    if (any != null) {
      net.setBatchRows(tf.slice(tf.shape(any), tf.constant(new int[] {0}), tf.constant(new int[] {1})));
    }
  }

  private FeatureInputs(FeatureInputs whole, Operand<TInt32> tokens, List<Operand<TInt32>> seqs,
      Operand<TFloat32> floats) {
    this.fields = whole.fields;
    this.tokenFields.addAll(whole.tokenFields);
    this.seqFields.addAll(whole.seqFields);
    this.floatFields.addAll(whole.floatFields);
    this.tokens = tokens;
    this.seqs.addAll(seqs);
    this.floats = floats;
  }

  /**
   * These inputs split by rows into n consecutive parts of the given sizes (an [n] tensor), each as inputs of the
   * same fields; the split's gradient is a concatenation.
   */
  public List<FeatureInputs> split(Net net, Operand<TInt32> sizes, int n) {
    var tf = net.tf;
    List<List<Operand<TInt32>>> seqParts = new ArrayList<>();
    for (Operand<TInt32> q : seqs) {
      seqParts.add(splitRows(tf, q, sizes, n));
    }
    List<Operand<TInt32>> tokenParts = tokens == null ? null : splitRows(tf, tokens, sizes, n);
    List<Operand<TFloat32>> floatParts = floats == null ? null : splitRows(tf, floats, sizes, n);
    List<FeatureInputs> out = new ArrayList<>();
    for (int t = 0; t < n; t++) {
      List<Operand<TInt32>> s = new ArrayList<>();
      for (List<Operand<TInt32>> q : seqParts) {
        s.add(q.get(t));
      }
      out.add(new FeatureInputs(this, tokenParts == null ? null : tokenParts.get(t), s,
          floatParts == null ? null : floatParts.get(t)));
    }
    return out;
  }

  private static <T extends org.tensorflow.types.family.TType> List<Operand<T>> splitRows(org.tensorflow.op.Ops tf,
      Operand<T> x, Operand<TInt32> sizes, int n) {
    List<Operand<T>> out = new ArrayList<>();
    tf.splitV(x, sizes, tf.constant(0), (long) n).output().forEach(out::add);
    return out;
  }

  public int numFields() {
    return fields.size();
  }

  /** Offsets of each token field's ids in a table shared by all token fields (cumulative vocabulary sizes). */
  public int[] tokenOffsets() {
    int[] off = new int[tokenFields.size()];
    int acc = 0;
    for (int i = 0; i < off.length; i++) {
      off[i] = acc;
      acc += tokenFields.get(i).vocab();
    }
    return off;
  }

  public int tokenRows() {
    return tokenFields.stream().mapToInt(Field::vocab).sum();
  }

  /** A float mask [B, L, 1] of the non-PAD positions of sequence s. */
  Operand<TFloat32> seqMask(Net net, int s) {
    var tf = net.tf;
    return tf.expandDims(tf.dtypes.cast(tf.math.notEqual(seqs.get(s), tf.constant(0)), TFloat32.class),
        tf.constant(-1));
  }
}
