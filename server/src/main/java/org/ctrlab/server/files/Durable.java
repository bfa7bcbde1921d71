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
