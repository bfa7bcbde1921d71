package org.ctrlab.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenFileTest {
  @TempDir
  Path tmp;

  @Test
  void addStoresOnlyTheHashAndPrintsATokenThatMatchesIt() throws IOException {
    Path f = tmp.resolve("tokens.txt");
    String alice = TokenFile.add(f, "alice", false);
    String ops = TokenFile.add(f, "ops", true);
    assertTrue(alice.matches("ctl_[A-Za-z0-9_-]{43}"), alice);
    String text = Files.readString(f);
    assertFalse(text.contains(alice) || text.contains(ops), "no token in the file");
    assertTrue(text.contains("alice " + TokenFile.hash(alice) + "\n"));
    assertTrue(text.contains("ops " + TokenFile.hash(ops) + " admin"));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    TokenFile.Contents c = TokenFile.read(f);
    assertEquals(List.of("alice", "ops"), c.entries().stream().map(TokenFile.Entry::user).toList());
    assertTrue(c.entries().get(1).admin());
    assertTrue(c.warnings().isEmpty(), c.warnings().toString());
    IllegalArgumentException again = assertThrows(IllegalArgumentException.class, () -> TokenFile.add(f, "alice",
        false));
    assertTrue(again.getMessage().startsWith("alice already has a token"), again.getMessage());
    assertTrue(TokenFile.revoke(f, "alice"));
    assertFalse(TokenFile.revoke(f, "alice"));
    assertEquals(List.of("ops"), TokenFile.read(f).entries().stream().map(TokenFile.Entry::user).toList());
  }

  @Test
  void duplicatesAreRefusedNamingTheLines() throws IOException {
    Path f = tmp.resolve("t.txt");
    String h = TokenFile.hash("x");
    Files.writeString(f, "# users\nalice " + h + "\nbob " + TokenFile.hash("y") + "\nalice " + TokenFile.hash("z")
        + "\n");
    IOException e = assertThrows(IOException.class, () -> TokenFile.read(f));
    assertEquals(f + " line 4: user alice already has a token on line 2", e.getMessage());
    Files.writeString(f, "alice " + h + "\nbob " + h + "\n");
    e = assertThrows(IOException.class, () -> TokenFile.read(f));
    assertEquals(f + " line 2: the same token as line 1 (tokens must differ)", e.getMessage());
    Files.writeString(f, "alice sha256:nothex\n");
    assertTrue(assertThrows(IOException.class, () -> TokenFile.read(f)).getMessage().contains("line 1"));
    Files.writeString(f, "alice " + h + " root\n");
    assertTrue(assertThrows(IOException.class, () -> TokenFile.read(f)).getMessage().contains("line 1"));
  }

  @Test
  void plainTokensAndLooseFilesAreWarnedAboutWithoutTheToken() throws IOException {
    Path f = tmp.resolve("old.txt");
    Files.writeString(f, "alice s3cret-value\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
    TokenFile.Contents c = TokenFile.read(f);
    assertEquals(TokenFile.hash("s3cret-value"), c.entries().get(0).hash());
    assertEquals(2, c.warnings().size(), c.warnings().toString());
    assertTrue(c.warnings().get(0).contains("in plain text"));
    assertTrue(c.warnings().get(1).contains("chmod 600"));
    assertTrue(c.warnings().stream().noneMatch(w -> w.contains("s3cret")), "a warning never shows the token");
  }

  @Test
  void aMissingFileIsOneClearLine() {
    IOException e = assertThrows(IOException.class, () -> TokenFile.read(tmp.resolve("nope.txt")));
    assertTrue(e.getMessage().startsWith("the token file " + tmp.resolve("nope.txt") + " does not exist"),
        e.getMessage());
    assertFalse(e.getMessage().contains("\n"));
  }
}
