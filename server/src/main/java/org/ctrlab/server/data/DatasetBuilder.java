package org.ctrlab.server.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns raw tables into a {@link Dataset} as RecBole does (METHOD.md section 2.1): drop interactions whose user or
 * item has no feature row, iterate the k-core filter until stable, remap every token field to 1..V (0 = PAD) over
 * what remains, fill missing floats with the column mean and min-max normalise, label by threshold, and join user
 * and item features onto each interaction.
 */
final class DatasetBuilder {
  private DatasetBuilder() {}

  /** Where a model field's values come from. */
  private record Source(String kind, String field, FieldType type) {}

  static Dataset build(DatasetSpec spec, RawData raw) {
    RawTable inter = raw.inter;
    require(inter.has(spec.userField), spec, "inter", spec.userField);
    require(inter.has(spec.itemField), spec, "inter", spec.itemField);
    require(inter.has(spec.ratingField), spec, "inter", spec.ratingField);
    int n = inter.rows();
    int[] u = inter.tokenColumn(spec.userField);
    int[] it = inter.tokenColumn(spec.itemField);
    float[] rating = inter.floatColumn(spec.ratingField);
    int[] userRow = rowsByCode(raw.user, spec.userField, raw.vocabs.get(spec.userField).size());
    int[] itemRow = rowsByCode(raw.item, spec.itemField, raw.vocabs.get(spec.itemField).size());

    boolean[] keep = new boolean[n];
    for (int i = 0; i < n; i++) {
      keep[i] = u[i] >= 0 && it[i] >= 0 && (userRow == null || userRow[u[i]] >= 0)
          && (itemRow == null || itemRow[it[i]] >= 0);
    }
    kcore(keep, u, it, raw.vocabs.get(spec.userField).size(), raw.vocabs.get(spec.itemField).size(),
        spec.userKcore, spec.itemKcore);

    // Remap user and item ids by first appearance among the kept interactions.
    int[] userId = new int[raw.vocabs.get(spec.userField).size()];
    int[] itemId = new int[raw.vocabs.get(spec.itemField).size()];
    int users = 0;
    int items = 0;
    int rows = 0;
    for (int i = 0; i < n; i++) {
      if (keep[i]) {
        rows++;
        if (userId[u[i]] == 0) {
          userId[u[i]] = ++users;
        }
        if (itemId[it[i]] == 0) {
          itemId[it[i]] = ++items;
        }
      }
    }
    if (rows == 0) {
      throw new DataFormatException(spec.name + ": no interaction is left after the " + spec.userKcore + "/"
          + spec.itemKcore + "-core filter");
    }
    // Raw row of each new user/item id (in its feature table), -1 where there is no table.
    int[] userRawRow = inverse(userId, users, userRow);
    int[] itemRawRow = inverse(itemId, items, itemRow);

    // Model fields in embedding order: sequences, tokens, floats; each group in inter, user, item load order.
    List<Source> seqSrc = new ArrayList<>();
    List<Source> tokSrc = new ArrayList<>();
    List<Source> fltSrc = new ArrayList<>();
    for (String kind : List.of("inter", "user", "item")) {
      RawTable t = table(raw, kind);
      if (t == null) {
        continue;
      }
      for (String f : spec.columns(kind)) {
        if (kind.equals("user") && f.equals(spec.userField) || kind.equals("item") && f.equals(spec.itemField)) {
          continue; // the id columns of the feature tables are the join keys, already a field of inter
        }
        FieldType type = t.types.get(f);
        if (type == FieldType.TOKEN_SEQ) {
          seqSrc.add(new Source(kind, f, type));
        } else if (type == FieldType.TOKEN) {
          tokSrc.add(new Source(kind, f, type));
        } else if (type == FieldType.FLOAT && spec.numericalFeatures.contains(f)) {
          fltSrc.add(new Source(kind, f, type));
        }
      }
    }

    List<Field> fields = new ArrayList<>();
    int[] keptRows = new int[rows];
    for (int i = 0, j = 0; i < n; i++) {
      if (keep[i]) {
        keptRows[j++] = i;
      }
    }

    // Token sequences: per-entity id lists, remapped by first appearance over entities in id order.
    int[][] seqs = new int[seqSrc.size()][];
    int[] seqLens = new int[seqSrc.size()];
    for (int s = 0; s < seqSrc.size(); s++) {
      Source src = seqSrc.get(s);
      int[][] perEntity = entitySeq(raw, src, userRawRow, itemRawRow, keptRows);
      int[] remap = new int[raw.vocabs.get(src.field).size()];
      int vocab = 0;
      int maxLen = 1;
      for (int[] codes : perEntity) {
        if (codes == null) {
          continue;
        }
        maxLen = Math.max(maxLen, codes.length);
        for (int c : codes) {
          if (remap[c] == 0) {
            remap[c] = ++vocab;
          }
        }
      }
      int[] col = new int[rows * maxLen];
      for (int j = 0; j < rows; j++) {
        int[] codes = perEntity[entityIndex(src.kind, keptRows[j], j, u, it, userId, itemId)];
        if (codes != null) {
          for (int k = 0; k < codes.length; k++) {
            col[j * maxLen + k] = remap[codes[k]];
          }
        }
      }
      seqs[s] = col;
      seqLens[s] = maxLen;
      fields.add(new Field(src.field, FieldType.TOKEN_SEQ, vocab + 1, maxLen, src.kind));
    }

    // Tokens.
    int width = tokSrc.size();
    int[] tokens = new int[rows * width];
    int userColumn = -1;
    int itemColumn = -1;
    for (int c = 0; c < width; c++) {
      Source src = tokSrc.get(c);
      int vocab;
      if (src.kind.equals("inter") && src.field.equals(spec.userField)) {
        userColumn = c;
        vocab = users;
        for (int j = 0; j < rows; j++) {
          tokens[j * width + c] = userId[u[keptRows[j]]];
        }
      } else if (src.kind.equals("inter") && src.field.equals(spec.itemField)) {
        itemColumn = c;
        vocab = items;
        for (int j = 0; j < rows; j++) {
          tokens[j * width + c] = itemId[it[keptRows[j]]];
        }
      } else {
        int[] perEntity = entityToken(raw, src, userRawRow, itemRawRow, keptRows);
        int[] remap = new int[raw.vocabs.get(src.field).size()];
        vocab = 0;
        for (int e = 0; e < perEntity.length; e++) {
          int code = perEntity[e];
          if (code >= 0 && remap[code] == 0) {
            remap[code] = ++vocab;
          }
        }
        for (int j = 0; j < rows; j++) {
          int code = perEntity[entityIndex(src.kind, keptRows[j], j, u, it, userId, itemId)];
          tokens[j * width + c] = code < 0 ? 0 : remap[code];
        }
      }
      fields.add(new Field(src.field, FieldType.TOKEN, vocab + 1, 0, src.kind));
    }

    // Floats: mean-filled, optionally min-max normalised over the entity table.
    int fw = fltSrc.size();
    float[] floats = new float[rows * fw];
    for (int c = 0; c < fw; c++) {
      Source src = fltSrc.get(c);
      float[] perEntity = entityFloat(raw, src, userRawRow, itemRawRow, keptRows);
      double sum = 0;
      int cnt = 0;
      for (float v : perEntity) {
        if (!Float.isNaN(v)) {
          sum += v;
          cnt++;
        }
      }
      float mean = cnt == 0 ? 0f : (float) (sum / cnt);
      float min = Float.POSITIVE_INFINITY;
      float max = Float.NEGATIVE_INFINITY;
      for (int e = 0; e < perEntity.length; e++) {
        if (Float.isNaN(perEntity[e])) {
          perEntity[e] = mean;
        }
        min = Math.min(min, perEntity[e]);
        max = Math.max(max, perEntity[e]);
      }
      boolean norm = spec.normalizeFields.contains(src.field) && max > min;
      for (int j = 0; j < rows; j++) {
        float v = perEntity[entityIndex(src.kind, keptRows[j], j, u, it, userId, itemId)];
        floats[j * fw + c] = norm ? (v - min) / (max - min) : v;
      }
      fields.add(new Field(src.field, FieldType.FLOAT, 2, 0, src.kind));
    }

    float[] ratings = new float[rows];
    float[] labels = new float[rows];
    int[] classes = new int[rows];
    for (int j = 0; j < rows; j++) {
      float r = rating[keptRows[j]];
      ratings[j] = r;
      labels[j] = r >= spec.threshold ? 1f : 0f;
      classes[j] = (int) r - 1;
    }
    if (userColumn < 0 || itemColumn < 0) {
      throw new DataFormatException(spec.name + ": load_col.inter must list " + spec.userField + " and "
          + spec.itemField);
    }
    String[] userTokens = new String[users + 1];
    String[] itemTokens = new String[items + 1];
    Vocab uv = raw.vocabs.get(spec.userField);
    Vocab iv = raw.vocabs.get(spec.itemField);
    for (int code = 0; code < userId.length; code++) {
      if (userId[code] > 0) {
        userTokens[userId[code]] = uv.token(code);
      }
    }
    for (int code = 0; code < itemId.length; code++) {
      if (itemId[code] > 0) {
        itemTokens[itemId[code]] = iv.token(code);
      }
    }
    return new Dataset(spec.name, fields, rows, tokens, width, seqs, seqLens, floats, fw, ratings, labels, classes,
        userColumn, itemColumn, userTokens, itemTokens);
  }

  private static void require(boolean ok, DatasetSpec spec, String kind, String field) {
    if (!ok) {
      throw new DataFormatException(spec.name + ": the " + kind + " file has no column " + field);
    }
  }

  private static RawTable table(RawData raw, String kind) {
    return switch (kind) {
      case "inter" -> raw.inter;
      case "user" -> raw.user;
      default -> raw.item;
    };
  }

  private static int[] rowsByCode(RawTable t, String idField, int codes) {
    if (t == null) {
      return null;
    }
    int[] rows = new int[codes];
    Arrays.fill(rows, -1);
    int[] col = t.tokenColumn(idField);
    for (int r = 0; r < t.rows(); r++) {
      if (col[r] >= 0 && col[r] < codes) {
        rows[col[r]] = r;
      }
    }
    return rows;
  }

  /** Iterated k-core: drops rows whose user has fewer than ku or item fewer than ki kept rows, until stable. */
  static void kcore(boolean[] keep, int[] u, int[] it, int nu, int ni, int ku, int ki) {
    if (ku <= 1 && ki <= 1) {
      return;
    }
    int[] cu = new int[nu];
    int[] ci = new int[ni];
    boolean changed = true;
    while (changed) {
      Arrays.fill(cu, 0);
      Arrays.fill(ci, 0);
      for (int i = 0; i < keep.length; i++) {
        if (keep[i]) {
          cu[u[i]]++;
          ci[it[i]]++;
        }
      }
      changed = false;
      for (int i = 0; i < keep.length; i++) {
        if (keep[i] && (cu[u[i]] < ku || ci[it[i]] < ki)) {
          keep[i] = false;
          changed = true;
        }
      }
    }
  }

  private static int[] inverse(int[] newId, int count, int[] rawRowByCode) {
    int[] out = new int[count + 1];
    Arrays.fill(out, -1);
    for (int code = 0; code < newId.length; code++) {
      if (newId[code] > 0) {
        out[newId[code]] = rawRowByCode == null ? -1 : rawRowByCode[code];
      }
    }
    return out;
  }

  /** Index into a per-entity array: new user id, new item id, or the kept row index for inter fields. */
  private static int entityIndex(String kind, int rawRow, int keptIndex, int[] u, int[] it, int[] userId,
      int[] itemId) {
    return switch (kind) {
      case "user" -> userId[u[rawRow]];
      case "item" -> itemId[it[rawRow]];
      default -> keptIndex;
    };
  }

  private static int[] entityToken(RawData raw, Source src, int[] userRawRow, int[] itemRawRow, int[] keptRows) {
    RawTable t = table(raw, src.kind);
    int[] col = t.tokenColumn(src.field);
    int[] rawRows = src.kind.equals("user") ? userRawRow : src.kind.equals("item") ? itemRawRow : keptRows;
    int[] out = new int[rawRows.length];
    for (int e = 0; e < rawRows.length; e++) {
      out[e] = rawRows[e] < 0 ? -1 : col[rawRows[e]];
    }
    return out;
  }

  private static int[][] entitySeq(RawData raw, Source src, int[] userRawRow, int[] itemRawRow, int[] keptRows) {
    RawTable t = table(raw, src.kind);
    int[][] col = t.seqColumn(src.field);
    int[] rawRows = src.kind.equals("user") ? userRawRow : src.kind.equals("item") ? itemRawRow : keptRows;
    int[][] out = new int[rawRows.length][];
    for (int e = 0; e < rawRows.length; e++) {
      out[e] = rawRows[e] < 0 ? null : col[rawRows[e]];
    }
    return out;
  }

  private static float[] entityFloat(RawData raw, Source src, int[] userRawRow, int[] itemRawRow, int[] keptRows) {
    RawTable t = table(raw, src.kind);
    float[] col = t.floatColumn(src.field);
    int[] rawRows = src.kind.equals("user") ? userRawRow : src.kind.equals("item") ? itemRawRow : keptRows;
    float[] out = new float[rawRows.length];
    for (int e = 0; e < rawRows.length; e++) {
      out[e] = rawRows[e] < 0 ? Float.NaN : col[rawRows[e]];
    }
    return out;
  }
}
