package org.ctrlab.server.data;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How to read and prepare one dataset (METHOD.md section 2), as written in {@code configs/datasets/NAME.yaml}.
 */
public final class DatasetSpec {
  public final String name;
  public final String description;
  /** Columns to load per file kind ("inter", "user", "item"), in order. */
  public final Map<String, List<String>> loadCol;
  /** Float fields that are model inputs. */
  public final List<String> numericalFeatures;
  /** Float fields that are min-max normalised. */
  public final List<String> normalizeFields;
  public final int userKcore;
  public final int itemKcore;
  /** A row is positive iff rating >= threshold. */
  public final double threshold;
  public final String userField;
  public final String itemField;
  public final String ratingField;
  /** Where the files come from when absent (may be null), and the MD5 of that archive. */
  public final String downloadUrl;
  public final String downloadMd5;
  /** Generated on first use instead of read ("synthetic"). */
  public final boolean generated;
  /** The configuration it was made from, as text: part of the prepared-dataset cache's key. */
  public final String configText;

  @SuppressWarnings("unchecked")
  public DatasetSpec(Map<String, Object> yaml) {
    this.name = str(yaml, "name", null);
    if (name == null) {
      throw new IllegalArgumentException("dataset config without a name");
    }
    this.description = str(yaml, "description", "");
    Map<String, List<String>> lc = new LinkedHashMap<>();
    Object raw = yaml.get("load_col");
    if (raw instanceof Map<?, ?> m) {
      for (Map.Entry<?, ?> e : m.entrySet()) {
        List<String> cols = new ArrayList<>();
        for (Object c : (List<Object>) e.getValue()) {
          cols.add(String.valueOf(c));
        }
        lc.put(String.valueOf(e.getKey()), cols);
      }
    }
    this.loadCol = lc;
    this.numericalFeatures = strList(yaml.get("numerical_features"));
    this.normalizeFields = strList(yaml.get("normalize_field"));
    this.userKcore = ((Number) yaml.getOrDefault("user_kcore", 0)).intValue();
    this.itemKcore = ((Number) yaml.getOrDefault("item_kcore", 0)).intValue();
    this.threshold = ((Number) yaml.getOrDefault("threshold", 4)).doubleValue();
    this.userField = str(yaml, "user_field", "user_id");
    this.itemField = str(yaml, "item_field", "item_id");
    this.ratingField = str(yaml, "rating_field", "rating");
    Map<String, Object> dl = (Map<String, Object>) yaml.get("download");
    this.downloadUrl = dl == null ? null : str(dl, "url", null);
    this.downloadMd5 = dl == null ? null : str(dl, "md5", null);
    this.generated = Boolean.TRUE.equals(yaml.get("generated"));
    this.configText = String.valueOf(yaml);
  }

  public List<String> columns(String kind) {
    return loadCol.getOrDefault(kind, List.of());
  }

  private static String str(Map<String, Object> m, String k, String dflt) {
    Object v = m.get(k);
    return v == null ? dflt : String.valueOf(v);
  }

  private static List<String> strList(Object o) {
    List<String> out = new ArrayList<>();
    if (o instanceof List<?> l) {
      for (Object x : l) {
        out.add(String.valueOf(x));
      }
    }
    return out;
  }
}
