package org.ctrlab.server.data;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/** Opens a data file by its plain name, or the same name with .xz or .gz appended. */
public final class TextFiles {
  private TextFiles() {}

  /** The path that exists for {@code name} in {@code dir}: plain, .xz or .gz, in that order. */
  public static Optional<Path> find(Path dir, String name) {
    for (String suffix : new String[] {"", ".xz", ".gz"}) {
      Path p = dir.resolve(name + suffix);
      if (Files.isRegularFile(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  public static boolean exists(Path dir, String name) {
    return find(dir, name).isPresent();
  }

  public static BufferedReader open(Path file, Charset charset) {
    try {
      InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
      String n = file.getFileName().toString();
      if (n.endsWith(".xz")) {
        in = new XZInputStream(in);
      } else if (n.endsWith(".gz")) {
        in = new GZIPInputStream(in, 1 << 16);
      }
      return new BufferedReader(new InputStreamReader(in, charset), 1 << 16);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open " + file, e);
    }
  }
}
