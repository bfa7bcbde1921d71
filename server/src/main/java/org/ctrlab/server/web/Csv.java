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

  /** A field, quoted when it holds a comma, a quote or a line break; a leading =, +, - or @ is kept from formulas. */
  static String field(String s) {
    if (!s.isEmpty() && "=+-@".indexOf(s.charAt(0)) >= 0 && !s.matches("-?[0-9.eE+-]+")) {
      s = "'" + s;
    }
    if (s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")) {
      return "\"" + s.replace("\"", "\"\"") + "\"";
    }
    return s;
  }
}
