package org.ctrlab.server.service;

import java.util.UUID;
import java.util.regex.Pattern;

/** Run and study ids: 12 lowercase hex digits. A malformed one is refused without being echoed in full. */
final class Ids {
  private static final Pattern ID = Pattern.compile("[0-9a-f]{12}");

  private Ids() {}

  static String next() {
    return UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  /** Checks an id from a request; {@code what} names the field, e.g. "run_id". */
  static String check(String what, String id) {
    if (id.isEmpty()) {
      throw new IllegalArgumentException(what + " is required");
    }
    if (!ID.matcher(id).matches()) {
      throw new IllegalArgumentException(what + " must be 12 lowercase hex digits (as 'ctrlab runs' shows), got "
          + quote(id));
    }
    return id;
  }

  /** A user-supplied string for an error message: at most 24 printable characters, quoted, with its length. */
  static String quote(String s) {
    StringBuilder b = new StringBuilder("'");
    s.codePoints().limit(24).forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    b.append('\'');
    if (s.length() > 24) {
      b.append(String.format("... (%,d characters)", s.length()));
    }
    return b.toString();
  }
}
