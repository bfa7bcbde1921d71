package org.ctrlab.server.data;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Prepared datasets on disk in their columnar form, so that a worker process maps the arrays back instead of
 * parsing and filtering the raw files again. A cache file is keyed by the dataset's configuration, the names, sizes
 * and modification times of its source files and this format's version: change any of them and the dataset is
 * prepared again. Files are written to a temporary name and renamed, so readers never see half a file.
 */
public final class DatasetCache {
  private static final int MAGIC = 0x43544c44; // "CTLD"
  /** Bump when the preparation pipeline or this layout changes. */
  private static final int VERSION = 1;

  private DatasetCache() {}

  /** The cache file of a dataset as its source files are now. */
  public static Path file(Path cacheDir, DatasetSpec spec, Path sourceDir) throws IOException {
    return cacheDir.resolve(spec.name + "-" + fingerprint(spec, sourceDir) + ".columns");
  }

  static String fingerprint(DatasetSpec spec, Path dir) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    md.update(("v" + VERSION + "\n" + spec.configText + "\n").getBytes(StandardCharsets.UTF_8));
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : files.filter(Files::isRegularFile).sorted().toList()) {
        md.update((p.getFileName() + " " + Files.size(p) + " " + Files.getLastModifiedTime(p).toMillis() + "\n")
            .getBytes(StandardCharsets.UTF_8));
      }
    }
    return HexFormat.of().formatHex(md.digest(), 0, 8);
  }

  public static Optional<Dataset> read(Path file) {
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
      if (b.getInt() != MAGIC || b.getInt() != VERSION) {
        return Optional.empty();
      }
      String name = str(b);
      int nFields = b.getInt();
      List<Field> fields = new ArrayList<>();
      for (int i = 0; i < nFields; i++) {
        fields.add(new Field(str(b), FieldType.values()[b.getInt()], b.getInt(), b.getInt(), str(b)));
      }
      int rows = b.getInt();
      int tokenWidth = b.getInt();
      int[] tokens = ints(b);
      int[] seqLens = ints(b);
      int[][] seqs = new int[seqLens.length][];
      for (int s = 0; s < seqs.length; s++) {
        seqs[s] = ints(b);
      }
      int floatWidth = b.getInt();
      float[] floats = floats(b);
      float[] ratings = floats(b);
      float[] labels = floats(b);
      int[] classes = ints(b);
      int userColumn = b.getInt();
      int itemColumn = b.getInt();
      String[] users = strs(b);
      String[] items = strs(b);
      return Optional.of(new Dataset(name, fields, rows, tokens, tokenWidth, seqs, seqLens, floats, floatWidth,
          ratings, labels, classes, userColumn, itemColumn, users, items));
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // unreadable or from another layout: prepare it again
    }
  }

  public static void write(Path file, Dataset d) throws IOException {
    org.ctrlab.server.files.PrivateFiles.createDirectories(file.getParent());
    Path tmp = file.resolveSibling(file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    try (DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(
        org.ctrlab.server.files.PrivateFiles.newOutputStream(tmp), 1 << 20))) {
      Le le = new Le(out);
      le.i(MAGIC);
      le.i(VERSION);
      le.s(d.name);
      le.i(d.fields.size());
      for (Field f : d.fields) {
        le.s(f.name());
        le.i(f.type().ordinal());
        le.i(f.vocab());
        le.i(f.seqLen());
        le.s(f.source());
      }
      le.i(d.rows);
      le.i(d.tokenWidth);
      le.ints(d.tokens);
      le.ints(d.seqLens);
      for (int[] s : d.seqs) {
        le.ints(s);
      }
      le.i(d.floatWidth);
      le.floats(d.floats);
      le.floats(d.ratings);
      le.floats(d.labels);
      le.ints(d.ratingClasses);
      le.i(d.userColumn);
      le.i(d.itemColumn);
      le.strs(d.userTokens);
      le.strs(d.itemTokens);
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    // Older preparations of the same dataset (its files or config have changed since) are of no more use.
    String prefix = d.name + "-";
    try (Stream<Path> old = Files.list(file.getParent())) {
      for (Path p : old.toList()) {
        String n = p.getFileName().toString();
        if (n.startsWith(prefix) && n.endsWith(".columns") && !p.equals(file)
            && n.length() == file.getFileName().toString().length()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** Little-endian writes in bulk (the reader maps the file in that order). */
  private static final class Le {
    private final DataOutputStream out;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

    Le(DataOutputStream out) {
      this.out = out;
    }

    void i(int v) throws IOException {
      out.writeInt(Integer.reverseBytes(v));
    }

    void s(String v) throws IOException {
      if (v == null) {
        i(-1);
        return;
      }
      byte[] b = v.getBytes(StandardCharsets.UTF_8);
      i(b.length);
      out.write(b);
    }

    void strs(String[] v) throws IOException {
      i(v.length);
      for (String x : v) {
        s(x);
      }
    }

    void ints(int[] v) throws IOException {
      i(v.length);
      for (int k = 0; k < v.length; ) {
        buf.clear();
        int n = Math.min(v.length - k, buf.capacity() / 4);
        buf.asIntBuffer().put(v, k, n);
        out.write(buf.array(), 0, n * 4);
        k += n;
      }
    }

    void floats(float[] v) throws IOException {
      i(v.length);
      for (int k = 0; k < v.length; ) {
        buf.clear();
        int n = Math.min(v.length - k, buf.capacity() / 4);
        buf.asFloatBuffer().put(v, k, n);
        out.write(buf.array(), 0, n * 4);
        k += n;
      }
    }
  }

  private static String str(ByteBuffer b) {
    int n = b.getInt();
    if (n < 0) {
      return null;
    }
    byte[] x = new byte[n];
    b.get(x);
    return new String(x, StandardCharsets.UTF_8);
  }

  private static String[] strs(ByteBuffer b) {
    String[] out = new String[b.getInt()];
    for (int i = 0; i < out.length; i++) {
      out[i] = str(b);
    }
    return out;
  }

  private static int[] ints(ByteBuffer b) {
    int[] v = new int[b.getInt()];
    b.asIntBuffer().get(v);
    b.position(b.position() + v.length * 4);
    return v;
  }

  private static float[] floats(ByteBuffer b) {
    float[] v = new float[b.getInt()];
    b.asFloatBuffer().get(v);
    b.position(b.position() + v.length * 4);
    return v;
  }
}
