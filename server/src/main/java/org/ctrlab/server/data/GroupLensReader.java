package org.ctrlab.server.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads MovieLens-1M in its GroupLens form: {@code ratings.dat} ({@code UserID::MovieID::Rating[::Timestamp]}),
 * {@code users.dat} ({@code UserID::Gender::Age::Occupation::Zip}) and {@code movies.dat}
 * ({@code MovieID::Title (Year)::Genre|Genre}, Latin-1), each optionally xz- or gzip-compressed. Columns get the
 * names of RecBole's ml-1m atomic files, so one dataset config serves both forms.
 */
final class GroupLensReader {
  private static final Charset LATIN1 = StandardCharsets.ISO_8859_1;
  private static final Pattern YEAR = Pattern.compile("\\((\\d{4})\\)\\s*$");

  private GroupLensReader() {}

  static boolean present(Path dir) {
    return TextFiles.exists(dir, "ratings.dat");
  }

  static RawData read(Path dir, DatasetSpec spec) {
    RawData data = new RawData();
    data.inter = data.newTable("inter");
    List<String> ic = spec.columns("inter");
    for (String c : ic) {
      data.inter.addColumn(c, c.equals(spec.ratingField) || c.equals("timestamp") ? FieldType.FLOAT : FieldType.TOKEN);
    }
    read(dir, "ratings.dat", StandardCharsets.UTF_8, 3, 4, (file, lineNo, p) -> {
      int row = data.inter.newRow();
      for (String c : ic) {
        switch (c) {
          case "user_id" -> data.inter.setToken(c, row, id(file, lineNo, "UserID", p.get(0)));
          case "item_id" -> data.inter.setToken(c, row, id(file, lineNo, "MovieID", p.get(1)));
          case "rating" -> data.inter.setFloat(c, row, AtomicReader.parseFloat(file, lineNo, c, p.get(2), spec));
          case "timestamp" -> data.inter.setFloat(c, row, p.size() > 3 ? Float.parseFloat(p.get(3)) : Float.NaN);
          default -> throw new IllegalArgumentException("ratings.dat has no column " + c);
        }
      }
    });
    List<String> uc = spec.columns("user");
    if (!uc.isEmpty() && TextFiles.exists(dir, "users.dat")) {
      data.user = data.newTable("user");
      for (String c : uc) {
        data.user.addColumn(c, FieldType.TOKEN);
      }
      read(dir, "users.dat", StandardCharsets.UTF_8, 5, 5, (file, lineNo, p) -> {
        int row = data.user.newRow();
        for (String c : uc) {
          int col = switch (c) {
            case "user_id" -> 0;
            case "gender" -> 1;
            case "age" -> 2;
            case "occupation" -> 3;
            case "zip_code" -> 4;
            default -> throw new IllegalArgumentException("users.dat has no column " + c);
          };
          String v = col == 0 ? id(file, lineNo, "UserID", p.get(0)) : p.get(col);
          data.user.setToken(c, row, v);
        }
      });
    }
    List<String> mc = spec.columns("item");
    if (!mc.isEmpty() && TextFiles.exists(dir, "movies.dat")) {
      data.item = data.newTable("item");
      for (String c : mc) {
        data.item.addColumn(c, c.equals("genre") || c.equals("movie_title") ? FieldType.TOKEN_SEQ : FieldType.TOKEN);
      }
      read(dir, "movies.dat", LATIN1, 3, 3, (file, lineNo, p) -> {
        int row = data.item.newRow();
        for (String c : mc) {
          switch (c) {
            case "item_id" -> data.item.setToken(c, row, id(file, lineNo, "MovieID", p.get(0)));
            case "release_year" -> {
              Matcher m = YEAR.matcher(p.get(1));
              data.item.setToken(c, row, m.find() ? m.group(1) : "");
            }
            case "genre" -> data.item.setSeq(c, row, p.get(2).split("\\|"));
            case "movie_title" -> data.item.setSeq(c, row, p.get(1).split(" "));
            default -> throw new IllegalArgumentException("movies.dat has no column " + c);
          }
        }
      });
    }
    return data;
  }

  private interface LineSink {
    void accept(String file, long lineNo, List<String> parts);
  }

  private static void read(Path dir, String name, Charset cs, int minParts, int maxParts, LineSink sink) {
    Path file = TextFiles.find(dir, name).orElseThrow();
    String shown = file.getFileName().toString();
    try (BufferedReader r = TextFiles.open(file, cs)) {
      String line;
      long lineNo = 0;
      while ((line = r.readLine()) != null) {
        lineNo++;
        if (line.isEmpty()) {
          continue;
        }
        List<String> p = AtomicReader.split(line, "::");
        if (p.size() < minParts || p.size() > maxParts) {
          String want = minParts == maxParts ? String.valueOf(minParts) : minParts + " or " + maxParts;
          throw DataFormatException.at(shown, lineNo, "expected " + want + " fields separated by '::', found "
              + p.size());
        }
        sink.accept(shown, lineNo, p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  private static String id(String file, long line, String what, String v) {
    for (int i = 0; i < v.length(); i++) {
      if (!Character.isDigit(v.charAt(i))) {
        throw DataFormatException.at(file, line, what + " '" + v + "' is not a whole number");
      }
    }
    if (v.isEmpty()) {
      throw DataFormatException.at(file, line, "empty " + what);
    }
    return v;
  }
}
