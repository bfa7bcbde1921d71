package org.ctrlab.server.service;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;

/** A run's settings as flat name = value pairs, and which of them differ among runs (for comparing them). */
public final class RunParams {
  private RunParams() {}

  /** Every setting a run resolved to, backbone hyperparameters as "hp.NAME", in a stable order. */
  public static Map<String, String> of(Run r) {
    ResolvedConfig c = r.getResolved();
    Map<String, String> m = new LinkedHashMap<>();
    m.put("dataset", c.getDataset());
    m.put("backbone", c.getBackbone());
    m.put("head", RunTable.headOf(c));
    if (c.getHead() == Head.RATING) {
      m.put("rating_weight", num(c.getRatingWeight()));
      m.put("aggregation", c.getAggregation().name());
    }
    m.put("seed", Long.toString(c.getSeed()));
    m.put("embedding_size", Integer.toString(c.getEmbeddingSize()));
    m.put("learning_rate", num(c.getLearningRate()));
    m.put("weight_decay", num(c.getWeightDecay()));
    m.put("batch_size", Integer.toString(c.getBatchSize()));
    m.put("max_epochs", Integer.toString(c.getMaxEpochs()));
    m.put("patience", Integer.toString(c.getPatience()));
    m.put("eval_batch_size", Integer.toString(c.getEvalBatchSize()));
    m.put("max_hours", num(c.getMaxHours()));
    m.put("bf16", Boolean.toString(c.getBf16()));
    new TreeMap<>(c.getHyperparametersMap()).forEach((k, v) -> m.put("hp." + k, value(v)));
    return m;
  }

  /** The settings whose values are not all the same across the runs, each with its value per run (null: unset). */
  public static Map<String, List<String>> differing(List<Run> runs) {
    List<Map<String, String>> all = runs.stream().map(RunParams::of).toList();
    Map<String, List<String>> out = new LinkedHashMap<>();
    java.util.Set<String> names = new java.util.LinkedHashSet<>();
    all.forEach(m -> names.addAll(m.keySet()));
    for (String n : names) {
      List<String> values = new ArrayList<>();
      all.forEach(m -> values.add(m.get(n)));
      if (values.stream().distinct().count() > 1) {
        out.put(n, values);
      }
    }
    return out;
  }

  static String value(ParamValue v) {
    return switch (v.getKindCase()) {
      case NUMBER -> num(v.getNumber());
      case LIST -> v.getList().getValuesList().stream().map(RunParams::num).toList().toString();
      case TEXT -> v.getText();
      case FLAG -> Boolean.toString(v.getFlag());
      default -> "";
    };
  }

  private static String num(double d) {
    return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
  }
}
