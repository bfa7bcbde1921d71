package org.ctrlab.server.files;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * Files and folders readable by the server's user only, whatever the umask: a run folder holds other users'
 * records, checkpoints and logs, which the API guards, so the file system must not hand them out either. Folders are
 * created 700 and files 600; on a file system without POSIX permissions they are created as usual.
 */
public final class PrivateFiles {
  private static final Set<PosixFilePermission> DIR = PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> OTHERS = EnumSet.of(PosixFilePermission.GROUP_READ,
      PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
      PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

  private PrivateFiles() {}

  private static boolean posix(Path p) {
    Path probe = p.toAbsolutePath();
    while (probe != null && !Files.exists(probe)) {
      probe = probe.getParent();
    }
    return probe != null && probe.getFileSystem().supportedFileAttributeViews().contains("posix");
  }

  /** Creates a folder and its missing parents as 700 (existing ones are left as they are); returns it. */
  public static Path createDirectories(Path dir) throws IOException {
    Path abs = dir.toAbsolutePath();
    if (Files.isDirectory(abs)) {
      return dir;
    }
    Path parent = abs.getParent();
    if (parent != null && !Files.exists(parent)) {
      createDirectories(parent);
    }
    try {
      if (posix(abs)) {
        Files.createDirectory(abs, PosixFilePermissions.asFileAttribute(DIR));
        Files.setPosixFilePermissions(abs, DIR); // the umask may have taken bits the attribute asked for; none others
      } else {
        Files.createDirectory(abs);
      }
    } catch (FileAlreadyExistsException raced) {
      if (!Files.isDirectory(abs)) {
        throw raced;
      }
    }
    return dir;
  }

  /** Takes group and others' permissions off an existing file or folder; returns whether any were there. */
  public static boolean restrict(Path p) throws IOException {
    if (!Files.exists(p) || !posix(p)) {
      return false;
    }
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
    if (perms.stream().noneMatch(OTHERS::contains)) {
      return false;
    }
    perms.removeAll(OTHERS);
    Files.setPosixFilePermissions(p, perms);
    return true;
  }

  /** Creates an empty file as 600 if it does not exist (its folder as 700); an existing one is restricted. */
  public static Path createFile(Path file) throws IOException {
    createDirectories(file.toAbsolutePath().getParent());
    try {
      if (posix(file)) {
        Files.createFile(file, attribute());
      } else {
        Files.createFile(file);
      }
    } catch (FileAlreadyExistsException exists) {
      restrict(file);
    }
    return file;
  }

  /** Opens a file for writing (created 600, truncated if it exists), with the given extra options. */
  public static OutputStream newOutputStream(Path file, StandardOpenOption... options) throws IOException {
    createFile(file);
    return Files.newOutputStream(file, options.length == 0
        ? new StandardOpenOption[] {StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING} : options);
  }

  /** The attribute that creates a file as 600 (with {@code Files.createFile} or a channel). */
  public static FileAttribute<Set<PosixFilePermission>> attribute() {
    return PosixFilePermissions.asFileAttribute(FILE);
  }
}
