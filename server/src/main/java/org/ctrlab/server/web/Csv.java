package org.ctrlab.server.web;

import java.util.List;
import org.ctrlab.server.service.RunTable;

/** The runs table as CSV (RFC 4180): a header of column names, then a line per run. */
final class Csv {
  private Csv() {}

  static String of(List<RunTable.Row> rows) {
    StringBuilder b = new StringBuilder();
    List<RunTable.Column> cols = RunTable.COLUMNS;
    for (int i = 0; i < cols.size(); i++) {
      b.append(i == 0 ? "" : ",").append(cols.get(i).name());
    }
    b.append("\r\n");
    for (RunTable.Row r : rows) {
      for (int i = 0; i < cols.size(); i++) {
        Object v = cols.get(i).value().apply(r);
        b.append(i == 0 ? "" : ",").append(v == null ? "" : field(v.toString()));
      }
      b.append("\r\n");
    }
    return b.toString();
  }

  /** A plain decimal number, which a spreadsheet reads as one and never as a formula. */
  private static final java.util.regex.Pattern NUMBER =
      java.util.regex.Pattern.compile("-?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?");

  /**
   * A field, quoted when it holds a comma, a quote or a line break; a leading =, +, -, @, tab or carriage return is
   * kept from formulas (with a quote before it) unless the field is a plain number.
   */
  static String field(String s) {
    if (!s.isEmpty() && "=+-@\t\r".indexOf(s.charAt(0)) >= 0 && !NUMBER.matcher(s).matches()) {
      s = "'" + s;
    }
    if (s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")) {
      return "\"" + s.replace("\"", "\"\"") + "\"";
    }
    return s;
  }
}
