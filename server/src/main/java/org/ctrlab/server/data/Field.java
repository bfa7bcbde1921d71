package org.ctrlab.server.data;

/**
 * One model input field. {@code vocab} counts ids including the PAD id 0 (floats: 2, as RecBole's float table);
 * {@code seqLen} is the padded length of a token sequence (0 otherwise); {@code source} is the file kind it comes
 * from ("inter", "user" or "item"), so that ranking can swap in another item's features.
 */
public record Field(String name, FieldType type, int vocab, int seqLen, String source) {
  public Field(String name, FieldType type, int vocab, int seqLen) {
    this(name, type, vocab, seqLen, "inter");
  }
}
