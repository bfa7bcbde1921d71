package org.ctrlab.server.data;

/**
 * One model input field. {@code vocab} counts ids including the PAD id 0 (floats: 2, as RecBole's float table);
 * {@code seqLen} is the padded length of a token sequence (0 otherwise).
 */
public record Field(String name, FieldType type, int vocab, int seqLen) {}
