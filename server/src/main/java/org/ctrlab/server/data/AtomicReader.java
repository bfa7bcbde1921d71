package org.ctrlab.server.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads RecBole atomic files ({@code NAME.inter}, {@code NAME.user}, {@code NAME.item}): tab-separated, a typed
 * header {@code field:token|token_seq|float}, token sequences split on single spaces.
 */
final class AtomicReader {
  private AtomicReader() {}

  static boolean present(Path dir, String name) {
    return TextFiles.exists(dir, name + ".inter");
  }

  static RawData read(Path dir, DatasetSpec spec) {
    RawData data = new RawData();
    data.inter = readTable(data, dir, spec.name + ".inter", "inter", spec);
    if (!spec.columns("user").isEmpty() && TextFiles.exists(dir, spec.name + ".user")) {
      data.user = readTable(data, dir, spec.name + ".user", "user", spec);
    }
    if (!spec.columns("item").isEmpty() && TextFiles.exists(dir, spec.name + ".item")) {
      data.item = readTable(data, dir, spec.name + ".item", "item", spec);
    }
    return data;
  }

  private static RawTable readTable(RawData data, Path dir, String fileName, String kind, DatasetSpec spec) {
    Path file = TextFiles.find(dir, fileName).orElseThrow();
    String shown = file.getFileName().toString();
    List<String> wanted = spec.columns(kind);
    RawTable t = data.newTable(kind);
    try (BufferedReader r = TextFiles.open(file, StandardCharsets.UTF_8)) {
      String header = r.readLine();
      if (header == null) {
        throw DataFormatException.at(shown, 1, "empty file, expected a header like user_id:token");
      }
      String[] cols = header.split("\t", -1);
      int[] colIndex = new int[wanted.size()];
      FieldType[] colType = new FieldType[wanted.size()];
      for (int w = 0; w < wanted.size(); w++) {
        colIndex[w] = -1;
        for (int c = 0; c < cols.length; c++) {
          String[] nt = cols[c].split(":", 2);
          if (nt.length == 2 && nt[0].equals(wanted.get(w))) {
            colIndex[w] = c;
            colType[w] = FieldType.parse(nt[1]);
            if (colType[w] == null) {
              throw DataFormatException.at(shown, 1, "column " + cols[c] + " has a type ctrlab cannot read"
                  + " (token, token_seq or float)");
            }
          }
        }
        if (colIndex[w] < 0) {
          throw DataFormatException.at(shown, 1, "no column " + wanted.get(w) + " in header '" + header + "'");
        }
        t.addColumn(wanted.get(w), colType[w]);
      }
      String line;
      long lineNo = 1;
      while ((line = r.readLine()) != null) {
        lineNo++;
        if (line.isEmpty()) {
          continue;
        }
        String[] parts = line.split("\t", -1);
        if (parts.length != cols.length) {
          throw DataFormatException.at(shown, lineNo, "expected " + cols.length + " tab-separated values, found "
              + parts.length);
        }
        int row = t.newRow();
        for (int w = 0; w < colIndex.length; w++) {
          String v = parts[colIndex[w]];
          String field = wanted.get(w);
          switch (colType[w]) {
            case TOKEN -> t.setToken(field, row, v);
            case TOKEN_SEQ -> t.setSeq(field, row, v.split(" "));
            case FLOAT -> t.setFloat(field, row, parseFloat(shown, lineNo, field, v, spec));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    return t;
  }

  static float parseFloat(String file, long line, String field, String v, DatasetSpec spec) {
    if (v.isEmpty()) {
      if (field.equals(spec.ratingField)) {
        throw DataFormatException.at(file, line, "missing " + field);
      }
      return Float.NaN;
    }
    float f;
    try {
      f = Float.parseFloat(v);
    } catch (NumberFormatException e) {
      throw DataFormatException.at(file, line, field + " '" + v + "' is not a number");
    }
    if (field.equals(spec.ratingField) && !(f >= 1 && f <= 5 && f == Math.rint(f))) {
      throw DataFormatException.at(file, line, field + " " + v + " is not a whole rating from 1 to 5");
    }
    return f;
  }

  static List<String> split(String s, String sep) {
    List<String> out = new ArrayList<>();
    int start = 0;
    int i;
    while ((i = s.indexOf(sep, start)) >= 0) {
      out.add(s.substring(start, i));
      start = i + sep.length();
    }
    out.add(s.substring(start));
    return out;
  }
}
