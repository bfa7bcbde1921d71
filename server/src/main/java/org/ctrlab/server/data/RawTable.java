package org.ctrlab.server.data;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A table as read from a file: token columns dictionary-encoded with one {@link Vocab} per field name (so that
 * user_id in the interaction file and in the user file share codes), token sequences as code arrays, floats as
 * floats (NaN for a missing value). Rows are appended; no per-row objects are kept.
 */
final class RawTable {
  static final int[] EMPTY = new int[0];

  final String name;
  final Map<String, FieldType> types = new LinkedHashMap<>();
  private final Map<String, int[]> tokens = new LinkedHashMap<>();
  private final Map<String, int[][]> seqs = new LinkedHashMap<>();
  private final Map<String, float[]> floats = new LinkedHashMap<>();
  private final Map<String, Vocab> vocabs;
  private int rows;
  private int capacity = 1024;

  RawTable(String name, Map<String, Vocab> vocabs) {
    this.name = name;
    this.vocabs = vocabs;
  }

  void addColumn(String field, FieldType type) {
    types.put(field, type);
    vocabs.computeIfAbsent(field, f -> new Vocab());
    switch (type) {
      case TOKEN -> tokens.put(field, new int[capacity]);
      case TOKEN_SEQ -> seqs.put(field, new int[capacity][]);
      case FLOAT -> floats.put(field, new float[capacity]);
    }
  }

  int rows() {
    return rows;
  }

  boolean has(String field) {
    return types.containsKey(field);
  }

  /** Starts a new row; every column must then be set for it. Returns the row index. */
  int newRow() {
    if (rows == capacity) {
      capacity *= 2;
      tokens.replaceAll((k, v) -> Arrays.copyOf(v, capacity));
      seqs.replaceAll((k, v) -> Arrays.copyOf(v, capacity));
      floats.replaceAll((k, v) -> Arrays.copyOf(v, capacity));
    }
    return rows++;
  }

  /** Sets a token; an empty value is missing (code -1, later the PAD id 0). */
  void setToken(String field, int row, String raw) {
    tokens.get(field)[row] = raw.isEmpty() ? -1 : vocabs.get(field).code(raw);
  }

  void setSeq(String field, int row, String[] raw) {
    Vocab v = vocabs.get(field);
    int n = 0;
    int[] codes = new int[raw.length];
    for (String t : raw) {
      if (!t.isEmpty()) {
        codes[n++] = v.code(t);
      }
    }
    seqs.get(field)[row] = n == 0 ? EMPTY : Arrays.copyOf(codes, n);
  }

  void setFloat(String field, int row, float value) {
    floats.get(field)[row] = value;
  }

  int[] tokenColumn(String field) {
    return tokens.get(field);
  }

  int[][] seqColumn(String field) {
    return seqs.get(field);
  }

  float[] floatColumn(String field) {
    return floats.get(field);
  }

  Vocab vocab(String field) {
    return vocabs.get(field);
  }
}
