package org.ctrlab.server.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The token file: one user a line, {@code USER sha256:HASH [admin]}, '#' starting a comment. Only the SHA-256 of
 * each token is stored (tokens are 256 random bits, so a fast hash is enough); {@link #add} prints the token once.
 * A line holding a token itself (the older {@code USER TOKEN} form) is still read, with a warning. A user or a hash
 * that appears twice makes the whole file invalid, with the lines named.
 */
public final class TokenFile {
  private static final Pattern USER = Pattern.compile("[A-Za-z0-9._@-]{1,64}");
  private static final Pattern HASH = Pattern.compile("sha256:[0-9a-f]{64}");
  private static final SecureRandom RANDOM = new SecureRandom();

  /** One user's line. */
  public record Entry(String user, String hash, boolean admin, int line) {}

  /** What a file holds, and what an operator should hear about it. */
  public record Contents(List<Entry> entries, List<String> warnings) {}

  private TokenFile() {}

  /** The stored form of a token. */
  public static String hash(String token) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A new random token: "ctl_" and 43 URL-safe characters (256 bits). */
  public static String newToken() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return "ctl_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  public static Contents read(Path file) throws IOException {
    return read(file, false);
  }

  /**
   * Reads the file; an empty one is refused unless {@code mayBeEmpty} (a running server's reload after the last
   * user was revoked: nobody may call then).
   */
  public static Contents read(Path file, boolean mayBeEmpty) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IOException("the token file " + file + " does not exist (create it with 'ctrlab-server token add"
          + " USER --file " + file + "')");
    } catch (IOException e) {
      throw new IOException("cannot read the token file " + file + ": " + e.getMessage());
    }
    List<Entry> entries = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    Map<String, Integer> users = new HashMap<>();
    Map<String, Integer> hashes = new HashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      int no = i + 1;
      String t = lines.get(i).strip();
      if (t.isEmpty() || t.startsWith("#")) {
        continue;
      }
      String[] p = t.split("\\s+");
      if (p.length < 2 || p.length > 3 || (p.length == 3 && !p[2].equals("admin"))) {
        throw new IOException(file + " line " + no + ": expected 'USER sha256:HASH' or 'USER sha256:HASH admin'");
      }
      if (!USER.matcher(p[0]).matches()) {
        throw new IOException(file + " line " + no + ": a user name is 1 to 64 letters, digits or ._@-");
      }
      String hash;
      if (p[1].startsWith("sha256:")) {
        if (!HASH.matcher(p[1]).matches()) {
          throw new IOException(file + " line " + no + ": a hash is 'sha256:' and 64 lowercase hex digits");
        }
        hash = p[1];
      } else {
        hash = hash(p[1]);
        warnings.add(file + " line " + no + " holds " + p[0] + "'s token in plain text; 'ctrlab-server token add'"
            + " stores only hashes");
      }
      Integer prev = users.putIfAbsent(p[0], no);
      if (prev != null) {
        throw new IOException(file + " line " + no + ": user " + p[0] + " already has a token on line " + prev);
      }
      prev = hashes.putIfAbsent(hash, no);
      if (prev != null) {
        throw new IOException(file + " line " + no + ": the same token as line " + prev + " (tokens must differ)");
      }
      entries.add(new Entry(p[0], hash, p.length == 3, no));
    }
    if (entries.isEmpty() && !mayBeEmpty) {
      throw new IOException(file + " has no user (add one with 'ctrlab-server token add USER --file " + file + "')");
    }
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (perms.stream().anyMatch(x -> x.name().startsWith("GROUP") || x.name().startsWith("OTHERS"))) {
        warnings.add(file + " can be read by others than its owner (" + PosixFilePermissions.toString(perms)
            + "); chmod 600 it");
      }
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system
    }
    return new Contents(entries, warnings);
  }

  /** Adds a user with a new token and returns the token (shown once; only its hash is written). */
  public static String add(Path file, String user, boolean admin) throws IOException {
    if (!USER.matcher(user).matches()) {
      throw new IllegalArgumentException("a user name is 1 to 64 letters, digits or ._@-, got '" + user + "'");
    }
    List<String> lines = Files.exists(file) ? Files.readAllLines(file, StandardCharsets.UTF_8)
        : new ArrayList<>(List.of("# ctrlab tokens: USER sha256:HASH [admin]. Made by 'ctrlab-server token add'."));
    if (Files.exists(file)) {
      for (Entry e : read(file, true).entries()) {
        if (e.user().equals(user)) {
          throw new IllegalArgumentException(user + " already has a token (line " + e.line()
              + "); revoke it first with 'ctrlab-server token revoke " + user + "'");
        }
      }
    }
    String token = newToken();
    lines.add(user + " " + hash(token) + (admin ? " admin" : ""));
    write(file, lines);
    return token;
  }

  /** Removes a user's line; returns whether there was one. */
  public static boolean revoke(Path file, String user) throws IOException {
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    List<String> kept = new ArrayList<>();
    boolean found = false;
    for (String l : lines) {
      String[] p = l.strip().split("\\s+");
      if (!l.strip().startsWith("#") && p.length >= 2 && p[0].equals(user)) {
        found = true;
      } else {
        kept.add(l);
      }
    }
    if (found) {
      write(file, kept);
    }
    return found;
  }

  /** Replaces the file whole, readable by its owner only. */
  private static void write(Path file, List<String> lines) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, ".tokens", ".tmp");
    try {
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException e) {
      // not POSIX
    }
    Files.write(tmp, lines, StandardCharsets.UTF_8);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
