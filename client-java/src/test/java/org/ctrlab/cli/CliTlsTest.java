package org.ctrlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.ctrlab.server.CtrlabServer;
import org.ctrlab.server.ServerOptions;
import org.ctrlab.server.auth.TokenFile;
import org.ctrlab.server.data.SyntheticData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI speaking TLS to a real server, by flags and, as a user sets it up once, by its config file. */
class CliTlsTest {
  @TempDir
  static Path tmp;

  static CtrlabServer server;
  static String token;
  static Path certs;

  @BeforeAll
  static void start() throws Exception {
    certs = tmp.resolve("certs");
    Process p = new ProcessBuilder("bash", Path.of("..", "scripts", "make-certs.sh").toAbsolutePath().toString(),
        certs.toString(), "ctrlab-test").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), "make-certs.sh needs openssl: " + out);
    new SyntheticData(300, 100, 20, 30, 3).write(tmp.resolve("data").resolve("synthetic"));
    token = TokenFile.add(tmp.resolve("tokens.txt"), "alice", false);
    server = new CtrlabServer(new ServerOptions().port(0).dataDir(tmp.resolve("data")).runDir(tmp.resolve("runs"))
        .tokens(tmp.resolve("tokens.txt")).tls(certs.resolve("server.pem"), certs.resolve("server.key"), null)
        .threads(2).allowDownload(false)).start();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static CliLoopbackTest.Out cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Ctrlab.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new CliLoopbackTest.Out(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void flagsGiveATlsConnectionAndPlaintextIsRefused() {
    String addr = "localhost:" + server.port();
    var ok = cli("--server", addr, "--token", token, "--tls", "--ca-cert", certs.resolve("ca.pem").toString(),
        "info");
    assertEquals(0, ok.code(), ok.err());
    assertTrue(ok.out().contains("you         alice") && ok.out().contains("TLS"), ok.out());
    var plain = cli("--server", addr, "--token", token, "info");
    assertEquals(4, plain.code(), "a plaintext client cannot reach a TLS server: " + plain.err());
    var untrusted = cli("--server", addr, "--token", token, "--tls", "info");
    assertEquals(4, untrusted.code(), "the test CA is not among the system's: " + untrusted.err());
  }

  @Test
  void theConfigFileSetsServerTokenAndTlsOnce() throws Exception {
    Path config = tmp.resolve("xdg").resolve("ctrlab").resolve("config.properties");
    Files.createDirectories(config.getParent());
    Files.writeString(config, "server=localhost:" + server.port() + "\ntoken=" + token + "\ntls=true\nca_cert="
        + certs.resolve("ca.pem") + "\n");
    List<String> cmd = List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), "org.ctrlab.cli.Ctrlab", "info");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("XDG_CONFIG_HOME", tmp.resolve("xdg").toString());
    pb.environment().remove("CTRLAB_SERVER");
    pb.environment().remove("CTRLAB_TOKEN");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), out);
    assertTrue(out.contains("you         alice") && out.contains("TLS"), out);
    // The environment wins over the file.
    pb.environment().put("CTRLAB_TOKEN", "ctl_not-a-token");
    p = pb.start();
    out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(3, p.waitFor(), out);
    assertTrue(out.contains("UNAUTHENTICATED: unknown or revoked token"), out);
  }
}
