package org.ctrlab.cli;

/**
 * Text from the server made safe to print on a terminal: run names, tags, messages and logs are other users' free
 * text, and an escape sequence in one could recolour, move the cursor over or hide another user's listing. Control
 * characters (C0, DEL, C1) and the bidirectional overrides that reorder what a line shows become '?'.
 */
final class Safe {
  private Safe() {}

  /** For one line (a table cell): every control character, newlines included, becomes '?'. */
  static String text(String s) {
    return clean(s, false);
  }

  /** For a block of lines: as {@link #text}, but line breaks stay. */
  static String lines(String s) {
    return clean(s, true);
  }

  /**
   * For JSON text: the characters a terminal acts on that JSON leaves as they are (DEL, C1, bidirectional overrides;
   * C0 is escaped already) become {@code \\uXXXX} escapes, so the JSON means the same and prints safely.
   */
  static String json(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean bad = actsPastC0(c);
      if (bad && b == null) {
        b = new StringBuilder(s.length() + 16).append(s, 0, i);
      }
      if (b != null) {
        if (bad) {
          b.append(String.format("\\u%04x", (int) c));
        } else {
          b.append(c);
        }
      }
    }
    return b == null ? s : b.toString();
  }

  /** DEL, C1 controls and the bidirectional overrides and isolates: what a terminal acts on beyond C0. */
  private static boolean actsPastC0(char c) {
    return (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
  }

  private static String clean(String s, boolean keepNewlines) {
    if (s == null) {
      return "";
    }
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean bad = (c < 0x20 && !(keepNewlines && c == '\n')) || actsPastC0(c);
      if (bad && b == null) {
        b = new StringBuilder(s.length()).append(s, 0, i);
      }
      if (b != null) {
        b.append(bad ? '?' : c);
      }
    }
    return b == null ? s : b.toString();
  }
}
