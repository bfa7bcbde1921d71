package org.ctrlab.server.data;

/** The RecBole atomic-file column types ctrlab reads. */
public enum FieldType {
  TOKEN,
  TOKEN_SEQ,
  FLOAT;

  /** Parses the type part of a typed header ({@code name:token}); null for a type ctrlab does not read. */
  static FieldType parse(String t) {
    switch (t) {
      case "token":
        return TOKEN;
      case "token_seq":
        return TOKEN_SEQ;
      case "float":
        return FLOAT;
      default:
        return null;
    }
  }
}
