package org.ctrlab.server.model.backbone;

import org.ctrlab.server.model.Hyper;

/**
 * The number of trainable scalars a backbone would build, computed from its hyperparameters alone, so that a run
 * too large to train is refused before any graph is built. Each formula follows the layers the backbone's
 * constructor creates; BackbonesTest checks every backbone's count against the built graph's.
 */
public final class ParameterCount {
  private ParameterCount() {}

  /** Rows of the embedding tables of these fields: each token field's vocabulary (PAD included), two per float. */
  public static long rows(java.util.List<org.ctrlab.server.data.Field> fields) {
    long rows = 0;
    for (var f : fields) {
      rows += f.type() == org.ctrlab.server.data.FieldType.FLOAT ? 2 : f.vocab();
    }
    return rows;
  }

  /** Field embeddings of {@code rows} ids (every field's vocabulary, PAD included) plus the backbone's own. */
  public static long model(String backbone, long rows, int fields, int dim, int k, Hyper h) {
    return rows * dim + backbone(backbone, rows, fields, dim, k, h);
  }

  static long backbone(String name, long rows, int fields, int dim, int k, Hyper h) {
    long flat = (long) fields * dim;
    return switch (name) {
      case "WideDeep" -> firstOrder(rows) + mlp(flat, h.ints("mlp_hidden_size"), false)
          + dense(last(flat, h.ints("mlp_hidden_size")), k, true);
      case "NFM" -> firstOrder(rows) + 2L * dim + mlp(dim, h.ints("mlp_hidden_size"), true)
          + dense(last(dim, h.ints("mlp_hidden_size")), k, k > 1);
      case "xDeepFM" -> {
        int[] hidden = h.ints("mlp_hidden_size");
        int[] sizes = java.util.Arrays.copyOf(hidden, hidden.length + 1);
        sizes[hidden.length] = k;
        long cin = 0;
        long finalLen = 0;
        long m = fields;
        int[] cinSizes = h.ints("cin_layer_size");
        for (int i = 0; i < cinSizes.length; i++) {
          boolean lastLayer = i == cinSizes.length - 1;
          cin += dense(m * fields, cinSizes[i], true);
          finalLen += lastLayer ? cinSizes[i] : cinSizes[i] / 2;
          m = cinSizes[i] / 2;
        }
        yield firstOrder(rows) + cin + dense(finalLen, 1, true) + mlp(flat, sizes, false);
      }
      case "AutoInt" -> {
        long att = h.i("attention_size");
        yield firstOrder(rows) + dense(dim, att, true) + h.i("n_layers") * selfAttention(att)
            + dense(fields * att, k, true) + mlp(flat, h.ints("mlp_hidden_size"), false)
            + dense(last(flat, h.ints("mlp_hidden_size")), k, true);
      }
      case "FiGNN" -> {
        long att = h.i("attention_size");
        long graph = 2 * att + (h.i("n_layers") - 1) * (2L * fields * att * att + att) + 2 * (att * 3 * att + 3 * att);
        long scoring = att * k + (long) fields * att * k * fields;
        yield dense(dim, att, true) + selfAttention(att) + dense(dim, att, true) + graph + scoring;
      }
      case "DCNV2" -> h.i("cross_layer_num") * (flat * flat + flat) + mlp(flat, h.ints("mlp_hidden_size"), true)
          + dense(flat + last(flat, h.ints("mlp_hidden_size")), k, true);
      case "EulerNet" -> {
        long total = fields;
        long m = fields;
        for (int n : h.ints("order_list")) {
          total += m * n + 2L * dim * n + dense(m * dim, (long) n * dim, true);
          m = n;
        }
        yield total + dense(m * dim, k, true);
      }
      default -> throw new IllegalArgumentException("unknown backbone " + name);
    };
  }

  private static long firstOrder(long rows) {
    return rows + 1;
  }

  private static long dense(long in, long out, boolean bias) {
    return in * out + (bias ? out : 0);
  }

  private static long mlp(long in, int[] sizes, boolean batchNorm) {
    long total = 0;
    long prev = in;
    for (int s : sizes) {
      total += dense(prev, s, true) + (batchNorm ? 2L * s : 0);
      prev = s;
    }
    return total;
  }

  private static long last(long in, int[] sizes) {
    return sizes.length == 0 ? in : sizes[sizes.length - 1];
  }

  private static long selfAttention(long dim) {
    return 3 * (dim * dim + dim) + dense(dim, dim, true);
  }
}
