package org.ctrlab.server.files;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

/**
 * Forcing files and folders to disk, so that what a store record says exists (a finished run's checkpoint) survives
 * a power loss: a file's content is forced before it is renamed into place, and the folder after, because a rename
 * lives in the folder.
 */
public final class Durable {
  private Durable() {}

  /** What writes a file's content. */
  @FunctionalInterface
  public interface Body {
    void write(java.io.DataOutputStream out) throws IOException;
  }

  /** What {@link #replace} writes a file's new content to first, beside it (left behind by a write cut short). */
  public static final String TMP_SUFFIX = ".tmp";

  /**
   * Replaces a file whole, durably: the content is written to FILE.tmp (created readable by its owner only), forced
   * to disk, renamed over the file, and the folder synced, so a kill or a power loss at any moment leaves the
   * previous file or the new one, and once this returns the new one stays.
   */
  public static void replace(Path file, Body body) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + TMP_SUFFIX);
    PrivateFiles.createFile(tmp);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      java.io.DataOutputStream out = new java.io.DataOutputStream(new java.io.BufferedOutputStream(
          java.nio.channels.Channels.newOutputStream(ch), 1 << 16));
      body.write(out);
      out.flush();
      ch.force(true);
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    syncDirectory(file.toAbsolutePath().getParent());
  }

  /** Forces a folder's entries (creations, renames, removals) to disk; a file system that cannot is left as is. */
  public static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // some file systems cannot sync a folder; the files' own content is on disk
    }
  }

  /** Forces a file's content and metadata to disk. */
  public static void force(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  /** Forces every regular file directly in a folder, then the folder itself. */
  public static void forceFolder(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        force(f);
      }
    }
    syncDirectory(dir);
  }
}
