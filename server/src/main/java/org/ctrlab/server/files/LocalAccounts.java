package org.ctrlab.server.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Who else can log in to this box: the accounts a server without tokens would make administrators. */
public final class LocalAccounts {
  private LocalAccounts() {}

  /**
   * The people's accounts in a passwd file other than {@code self}: a uid from 1000 (Debian's first for people)
   * other than nobody's, and a login shell. Unreadable: none.
   */
  public static List<String> others(Path passwd, String self) {
    List<String> out = new ArrayList<>();
    List<String> lines;
    try {
      lines = Files.readAllLines(passwd);
    } catch (IOException e) {
      return out;
    }
    for (String line : lines) {
      String[] f = line.split(":", -1);
      if (f.length < 7 || f[0].equals(self)) {
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
}
