package org.ctrlab.server.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.BackboneInfo;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.NumberList;
import org.ctrlab.api.v1.ParamSpec;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.model.backbone.Backbones;

/**
 * Validates a {@link TrainRequest} and fills its unset values from configs/ (training.yaml, then the model's file),
 * giving the {@link ResolvedConfig} a run records. Every rejection is an IllegalArgumentException whose message
 * names the field and the allowed values.
 */
public final class RunConfigs {
  private final Configs configs;
  private final DatasetRegistry datasets;
  private final Map<String, BackboneInfo> backbones = new LinkedHashMap<>();
  private final Map<String, Map<String, Object>> modelTraining = new LinkedHashMap<>();
  private final Map<String, Map<String, Object>> paperRatingWeights = new LinkedHashMap<>();
  private final Map<String, Object> training;

  @SuppressWarnings("unchecked")
  public RunConfigs(Configs configs, DatasetRegistry datasets) {
    this.configs = configs;
    this.datasets = datasets;
    this.training = configs.training();
    for (String name : Backbones.names()) {
      Map<String, Object> y = configs.model(name);
      BackboneInfo.Builder b = BackboneInfo.newBuilder().setName(name)
          .setDescription(String.valueOf(y.getOrDefault("description", "")));
      Map<String, Object> hp = (Map<String, Object>) y.getOrDefault("hyperparameters", Map.of());
      for (Map.Entry<String, Object> e : hp.entrySet()) {
        b.addHyperparameters(spec(e.getKey(), (Map<String, Object>) e.getValue()));
      }
      Map<String, Object> own = (Map<String, Object>) y.getOrDefault("training", Map.of());
      for (ParamSpec shared : trainingSpecs()) {
        if (own.get(shared.getName()) instanceof Number v) {
          b.addTraining(shared.toBuilder().setDefaultValue(ParamValue.newBuilder().setNumber(v.doubleValue())));
        }
      }
      backbones.put(name, b.build());
      modelTraining.put(name, own);
      paperRatingWeights.put(name, (Map<String, Object>) y.getOrDefault("paper_rating_weight", Map.of()));
    }
  }

  public List<BackboneInfo> backbones() {
    return new ArrayList<>(backbones.values());
  }

  /**
   * The shared training parameters with their defaults (training.yaml) and ranges; a backbone's own defaults are in
   * its BackboneInfo.
   */
  public List<ParamSpec> trainingSpecs() {
    List<ParamSpec> out = new ArrayList<>();
    out.add(num("rating_weight", "lambda_r, weight of the rating cross-entropy (RATING head)", dflt("rating_weight"),
        0, 1, false));
    out.add(num("embedding_size", "field embedding size d", dflt("embedding_size"), 1, 1024, true));
    out.add(num("learning_rate", "AdamW learning rate", dflt("learning_rate"), 1e-7, 1, false));
    out.add(num("weight_decay", "AdamW decoupled weight decay", dflt("weight_decay"), 0, 1, false));
    out.add(num("batch_size", "training batch size", dflt("batch_size"), 1, 1 << 20, true));
    out.add(num("eval_batch_size", "evaluation batch size", dflt("eval_batch_size"), 1, 1 << 20, true));
    out.add(num("max_epochs", "upper bound on training epochs", dflt("max_epochs"), 1, 10000, true));
    out.add(num("patience", "early-stopping patience in epochs", dflt("patience"), 0, 1000, true));
    out.add(num("seed", "split, initialisation and shuffling seed", dflt("seed"), 0, Long.MAX_VALUE, true));
    return out;
  }

  private double dflt(String key) {
    return ((Number) training.get(key)).doubleValue();
  }

  private static ParamSpec num(String name, String desc, double dflt, double min, double max, boolean integer) {
    return ParamSpec.newBuilder().setName(name).setDescription(desc)
        .setDefaultValue(ParamValue.newBuilder().setNumber(dflt)).setMin(min).setMax(max).setInteger(integer).build();
  }

  @SuppressWarnings("unchecked")
  private static ParamSpec spec(String name, Map<String, Object> y) {
    ParamSpec.Builder b = ParamSpec.newBuilder().setName(name)
        .setDescription(String.valueOf(y.getOrDefault("description", "")))
        .setMin(((Number) y.getOrDefault("min", -Double.MAX_VALUE)).doubleValue())
        .setMax(((Number) y.getOrDefault("max", Double.MAX_VALUE)).doubleValue())
        .setInteger(Boolean.TRUE.equals(y.get("integer")))
        .setIsList(Boolean.TRUE.equals(y.get("list")));
    Object d = y.get("default");
    if (d instanceof List<?> l) {
      NumberList.Builder nl = NumberList.newBuilder();
      l.forEach(x -> nl.addValues(((Number) x).doubleValue()));
      b.setDefaultValue(ParamValue.newBuilder().setList(nl));
    } else if (d instanceof Number n) {
      b.setDefaultValue(ParamValue.newBuilder().setNumber(n.doubleValue()));
    } else if (d instanceof Boolean f) {
      b.setDefaultValue(ParamValue.newBuilder().setFlag(f));
    } else if (d != null) {
      b.setDefaultValue(ParamValue.newBuilder().setText(String.valueOf(d)));
    }
    Object ch = y.get("choices");
    if (ch instanceof List<?> l) {
      l.forEach(x -> b.addChoices(String.valueOf(x)));
    }
    return b.build();
  }

  /** The authors' lambda_r for a backbone on a dataset (METHOD.md 6.2), if configs/ records one. */
  public java.util.Optional<Double> paperRatingWeight(String backbone, String dataset) {
    Object v = paperRatingWeights.getOrDefault(backbone, Map.of()).get(dataset);
    return v == null ? java.util.Optional.empty() : java.util.Optional.of(((Number) v).doubleValue());
  }

  /** Checks a request and fills every default. */
  public ResolvedConfig resolve(TrainRequest r) {
    if (r.getDataset().isEmpty()) {
      throw new IllegalArgumentException("dataset is required; known: " + names(datasets));
    }
    if (!datasets.knows(r.getDataset())) {
      throw new IllegalArgumentException("unknown dataset '" + r.getDataset() + "'; known: " + names(datasets));
    }
    if (!backbones.containsKey(r.getBackbone())) {
      throw new IllegalArgumentException("unknown backbone '" + r.getBackbone() + "'; known: " + backbones.keySet());
    }
    if (r.getHeadValue() < 0 || r.getHead() == Head.UNRECOGNIZED) {
      throw new IllegalArgumentException("unknown head " + r.getHeadValue() + "; use BINARY or RATING");
    }
    if (r.getAggregation() == Aggregation.UNRECOGNIZED) {
      throw new IllegalArgumentException("unknown aggregation " + r.getAggregationValue()
          + "; use LOGIT_SUM or PROB_SUM");
    }
    Head head = r.getHead() == Head.RATING ? Head.RATING : Head.BINARY;
    Aggregation agg = r.getAggregation() == Aggregation.PROB_SUM ? Aggregation.PROB_SUM : Aggregation.LOGIT_SUM;
    Map<String, Object> mt = modelTraining.get(r.getBackbone());
    ResolvedConfig.Builder b = ResolvedConfig.newBuilder().setDataset(r.getDataset()).setBackbone(r.getBackbone())
        .setHead(head).setAggregation(agg);
    b.setRatingWeight(check("rating_weight", r.hasRatingWeight() ? r.getRatingWeight() : pick(mt, "rating_weight"),
        0, 1, false));
    b.setEmbeddingSize((int) check("embedding_size", r.hasEmbeddingSize() ? r.getEmbeddingSize()
        : pick(mt, "embedding_size"), 1, 1024, true));
    b.setLearningRate(check("learning_rate", r.hasLearningRate() ? r.getLearningRate() : pick(mt, "learning_rate"),
        1e-7, 1, false));
    b.setWeightDecay(check("weight_decay", r.hasWeightDecay() ? r.getWeightDecay() : pick(mt, "weight_decay"),
        0, 1, false));
    b.setBatchSize((int) check("batch_size", r.hasBatchSize() ? r.getBatchSize() : pick(mt, "batch_size"),
        1, 1 << 20, true));
    b.setEvalBatchSize((int) check("eval_batch_size", r.hasEvalBatchSize() ? r.getEvalBatchSize()
        : pick(mt, "eval_batch_size"), 1, 1 << 20, true));
    b.setMaxEpochs((int) check("max_epochs", r.hasMaxEpochs() ? r.getMaxEpochs() : pick(mt, "max_epochs"),
        1, 10000, true));
    b.setPatience((int) check("patience", r.hasPatience() ? r.getPatience() : pick(mt, "patience"), 0, 1000, true));
    b.setSeed(r.hasSeed() ? r.getSeed() : (long) pick(mt, "seed"));
    if (b.getSeed() < 0) {
      throw new IllegalArgumentException("seed must be >= 0, got " + b.getSeed());
    }
    BackboneInfo info = backbones.get(r.getBackbone());
    for (String k : r.getHyperparametersMap().keySet()) {
      if (info.getHyperparametersList().stream().noneMatch(p -> p.getName().equals(k))) {
        throw new IllegalArgumentException("unknown hyperparameter '" + k + "' for " + r.getBackbone() + "; known: "
            + info.getHyperparametersList().stream().map(ParamSpec::getName).toList());
      }
    }
    for (ParamSpec p : info.getHyperparametersList()) {
      ParamValue v = r.getHyperparametersMap().getOrDefault(p.getName(), p.getDefaultValue());
      b.putHyperparameters(p.getName(), checkParam(r.getBackbone(), p, v));
    }
    return b.build();
  }

  private double pick(Map<String, Object> modelTraining, String key) {
    Object v = modelTraining.get(key);
    if (v == null) {
      v = training.get(key);
    }
    return ((Number) v).doubleValue();
  }

  private static double check(String name, double v, double min, double max, boolean integer) {
    if (!(v >= min && v <= max)) {
      throw new IllegalArgumentException(name + " must be in [" + fmt(min) + ", " + fmt(max) + "], got " + fmt(v));
    }
    if (integer && v != Math.rint(v)) {
      throw new IllegalArgumentException(name + " must be a whole number, got " + fmt(v));
    }
    return v;
  }

  private static ParamValue checkParam(String backbone, ParamSpec p, ParamValue v) {
    String where = backbone + " hyperparameter " + p.getName();
    if (p.getIsList()) {
      List<Double> vals;
      if (v.hasList()) {
        vals = v.getList().getValuesList();
      } else if (v.getKindCase() == ParamValue.KindCase.NUMBER) {
        vals = List.of(v.getNumber());
        v = ParamValue.newBuilder().setList(NumberList.newBuilder().addValues(v.getNumber())).build();
      } else {
        throw new IllegalArgumentException(where + " takes a list of numbers");
      }
      if (vals.isEmpty()) {
        throw new IllegalArgumentException(where + " must not be empty");
      }
      for (double x : vals) {
        check(where, x, p.getMin(), p.getMax(), p.getInteger());
      }
      return v;
    }
    if (p.getChoicesCount() > 0) {
      if (v.getKindCase() != ParamValue.KindCase.TEXT || !p.getChoicesList().contains(v.getText())) {
        throw new IllegalArgumentException(where + " must be one of " + p.getChoicesList());
      }
      return v;
    }
    if (p.getDefaultValue().getKindCase() == ParamValue.KindCase.FLAG) {
      if (v.getKindCase() != ParamValue.KindCase.FLAG) {
        throw new IllegalArgumentException(where + " takes true or false");
      }
      return v;
    }
    if (v.getKindCase() != ParamValue.KindCase.NUMBER) {
      throw new IllegalArgumentException(where + " takes a number");
    }
    check(where, v.getNumber(), p.getMin(), p.getMax(), p.getInteger());
    return v;
  }

  /** The backbone hyperparameters of a resolved config, typed for model code. */
  public static Hyper hyper(ResolvedConfig c) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (Map.Entry<String, ParamValue> e : c.getHyperparametersMap().entrySet()) {
      ParamValue v = e.getValue();
      Object o = switch (v.getKindCase()) {
        case NUMBER -> v.getNumber();
        case LIST -> v.getList().getValuesList().stream().mapToDouble(Double::doubleValue).toArray();
        case TEXT -> v.getText();
        case FLAG -> v.getFlag();
        default -> null;
      };
      m.put(e.getKey(), o);
    }
    return new Hyper(m);
  }

  private static String fmt(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v);
  }

  private static List<String> names(DatasetRegistry d) {
    return d.specs().stream().map(s -> s.name).toList();
  }
}
