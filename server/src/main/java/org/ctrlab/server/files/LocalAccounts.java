package org.ctrlab.server.files;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Who else can log in to this box: the accounts a server without tokens would make administrators. */
public final class LocalAccounts {
  private LocalAccounts() {}

  /**
   * The people's accounts other than {@code self} as the name service lists them ({@code getent passwd}: local
   * accounts and, where the box lists them, LDAP's or SSSD's), else as /etc/passwd does.
   */
  public static List<String> others(String self) {
    return others(List.of("getent", "passwd"), Path.of("/etc/passwd"), self);
  }

  /** As {@link #others(String)}, with the listing command's output, else the passwd file's lines. */
  static List<String> others(List<String> command, Path passwd, String self) {
    List<String> listed = run(command);
    return listed != null ? people(listed, self) : others(passwd, self);
  }

  /**
   * The people's accounts in a passwd file other than {@code self}: a uid from 1000 (Debian's first for people)
   * other than nobody's, and a login shell. Unreadable: none.
   */
  public static List<String> others(Path passwd, String self) {
    try {
      return people(Files.readAllLines(passwd), self);
    } catch (IOException e) {
      return new ArrayList<>();
    }
  }

  private static List<String> people(List<String> lines, String self) {
    List<String> out = new ArrayList<>();
    for (String line : lines) {
      String[] f = line.split(":", -1);
      if (f.length < 7 || f[0].equals(self) || out.contains(f[0])) {
        continue;
      }
      int uid;
      try {
        uid = Integer.parseInt(f[2]);
      } catch (NumberFormatException e) {
        continue;
      }
      String shell = f[6].strip();
      if (uid >= 1000 && uid != 65534 && !shell.isEmpty() && !shell.endsWith("nologin") && !shell.endsWith("false")) {
        out.add(f[0]);
      }
    }
    return out;
  }

  /** The command's output lines, or null if it cannot run, fails or takes over 5 s (a name service down). */
  private static List<String> run(List<String> command) {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    } catch (IOException e) {
      return null;
    }
    try {
      p.getOutputStream().close();
      // Read on another thread so that a hung name service cannot hold the server's start past the timeout.
      var out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        try {
          return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
          return null;
        }
      });
      if (!p.waitFor(5, TimeUnit.SECONDS) || p.exitValue() != 0) {
        return null;
      }
      String text = out.get(5, TimeUnit.SECONDS);
      return text == null ? null : text.lines().toList();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (IOException | java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      return null;
    } finally {
      p.destroyForcibly();
    }
  }
}
