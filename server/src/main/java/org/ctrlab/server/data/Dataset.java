package org.ctrlab.server.data;

import java.util.List;

/**
 * A prepared dataset in columnar form: every interaction's model inputs, joined with its user and item features,
 * as flat primitive arrays, so that a batch is a few array copies and no per-row object is ever made.
 *
 * <p>Fields are in embedding order (METHOD.md section 2.5): token sequences, then tokens, then floats. Token ids are
 * per field, 1..vocab-1, with 0 = PAD.
 */
public final class Dataset {
  public final String name;
  public final List<Field> fields;
  public final int rows;
  /** Token fields, row-major [rows, tokenWidth]. */
  public final int[] tokens;
  public final int tokenWidth;
  /** One array per token-sequence field, row-major [rows, seqLen], PAD-filled. */
  public final int[][] seqs;
  public final int[] seqLens;
  /** Float fields, row-major [rows, floatWidth]. */
  public final float[] floats;
  public final int floatWidth;
  public final float[] ratings;
  /** 1 iff rating >= threshold. */
  public final float[] labels;
  /** rating - 1, in 0..4. */
  public final int[] ratingClasses;
  /**
   * Positions of the user and item id fields (the dataset's user_field and item_field) among the token fields (-1
   * if absent).
   */
  public final int userColumn;
  public final int itemColumn;
  /** The raw (file) id of each user and item id; index 0 is PAD. */
  public final String[] userTokens;
  public final String[] itemTokens;

  Dataset(String name, List<Field> fields, int rows, int[] tokens, int tokenWidth, int[][] seqs, int[] seqLens,
      float[] floats, int floatWidth, float[] ratings, float[] labels, int[] ratingClasses, int userColumn,
      int itemColumn, String[] userTokens, String[] itemTokens) {
    this.name = name;
    this.fields = List.copyOf(fields);
    this.rows = rows;
    this.tokens = tokens;
    this.tokenWidth = tokenWidth;
    this.seqs = seqs;
    this.seqLens = seqLens;
    this.floats = floats;
    this.floatWidth = floatWidth;
    this.ratings = ratings;
    this.labels = labels;
    this.ratingClasses = ratingClasses;
    this.userColumn = userColumn;
    this.itemColumn = itemColumn;
    this.userTokens = userTokens;
    this.itemTokens = itemTokens;
  }

  public List<Field> tokenFields() {
    return fields.stream().filter(f -> f.type() == FieldType.TOKEN).toList();
  }

  public List<Field> seqFields() {
    return fields.stream().filter(f -> f.type() == FieldType.TOKEN_SEQ).toList();
  }

  public List<Field> floatFields() {
    return fields.stream().filter(f -> f.type() == FieldType.FLOAT).toList();
  }

  public int userId(int row) {
    return tokens[row * tokenWidth + userColumn];
  }

  public int itemId(int row) {
    return tokens[row * tokenWidth + itemColumn];
  }

  /** Number of users including PAD, as RecBole counts them. */
  public int userVocab() {
    return tokenFields().get(userColumn).vocab();
  }

  public int itemVocab() {
    return tokenFields().get(itemColumn).vocab();
  }

  public String describe() {
    return String.format("%s: %,d interactions, %,d users, %,d items, fields %s", name, rows, userVocab() - 1,
        itemVocab() - 1, fields.stream().map(Field::name).toList());
  }
}
