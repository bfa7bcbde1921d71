package org.ctrlab.server.files;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalAccountsTest {
  @TempDir
  Path tmp;

  @Test
  void peopleWhoCanLogInAreFoundAndServiceAccountsAreNot() throws Exception {
    Path passwd = tmp.resolve("passwd");
    Files.write(passwd, List.of(
        "root:x:0:0:root:/root:/bin/bash",
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
        "postgres:x:104:110:PostgreSQL:/var/lib/postgresql:/bin/bash",
        "alice:x:1000:1000:Alice:/home/alice:/bin/bash",
        "ctrlab:x:1001:1001::/srv/ctrlab:/bin/bash",
        "bob:x:1002:1002:Bob:/home/bob:/usr/bin/zsh",
        "svc:x:1003:1003::/srv:/bin/false",
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/sh",
        "broken line"));
    assertEquals(List.of("alice", "bob"), LocalAccounts.others(passwd, "ctrlab"));
    assertEquals(List.of(), LocalAccounts.others(tmp.resolve("missing"), "ctrlab"));
  }

  @Test
  void theNameServiceIsAskedFirstAndThePasswdFileServesWhenItCannotAnswer() throws Exception {
    Path passwd = tmp.resolve("passwd");
    Files.write(passwd, List.of("alice:x:1000:1000:Alice:/home/alice:/bin/bash"));
    // An LDAP account the file does not have, listed by the name service (here a stand-in command).
    List<String> ldap = List.of("sh", "-c", "echo 'alice:x:1000:1000::/home/alice:/bin/bash'; "
        + "echo 'carol:*:20001:20001:Carol:/home/carol:/bin/bash'; echo 'alice:x:1000:1000::/home/alice:/bin/sh'");
    assertEquals(List.of("alice", "carol"), LocalAccounts.others(ldap, passwd, "ctrlab"));
    assertEquals(List.of("alice"), LocalAccounts.others(List.of("no-such-command-ctrlab"), passwd, "ctrlab"));
    assertEquals(List.of("alice"), LocalAccounts.others(List.of("sh", "-c", "exit 2"), passwd, "ctrlab"));
  }
}
