package org.ctrlab.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** A plain-text table with aligned columns (numbers right-aligned). */
final class Table {
  private final List<String> header;
  private final List<List<String>> rows = new ArrayList<>();

  Table(String... header) {
    this.header = List.of(header);
  }

  Table row(Object... cells) {
    List<String> r = new ArrayList<>();
    for (Object c : cells) {
      r.add(c == null ? "" : Safe.text(c.toString()));
    }
    rows.add(r);
    return this;
  }

  boolean isEmpty() {
    return rows.isEmpty();
  }

  void print(PrintWriter out) {
    int[] w = new int[header.size()];
    for (int i = 0; i < w.length; i++) {
      w[i] = header.get(i).length();
      for (List<String> r : rows) {
        w[i] = Math.max(w[i], i < r.size() ? r.get(i).length() : 0);
      }
    }
    out.println(line(header, w, false));
    StringBuilder sep = new StringBuilder();
    for (int i = 0; i < w.length; i++) {
      sep.append(i == 0 ? "" : "  ").append("-".repeat(w[i]));
    }
    out.println(sep);
    for (List<String> r : rows) {
      out.println(line(r, w, true));
    }
  }

  private static String line(List<String> cells, int[] w, boolean alignNumbers) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < w.length; i++) {
      String c = i < cells.size() ? cells.get(i) : "";
      boolean right = alignNumbers && c.matches("-?[0-9][0-9,.]*%?( s)?");
      String cell = right ? " ".repeat(w[i] - c.length()) + c : c + " ".repeat(w[i] - c.length());
      sb.append(i == 0 ? "" : "  ").append(i == w.length - 1 && !right ? c : cell);
    }
    return sb.toString().stripTrailing();
  }
}
