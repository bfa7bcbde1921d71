package org.ctrlab.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.CtrlabGrpc;
import org.ctrlab.api.v1.ServerInfo;
import org.ctrlab.api.v1.ServerInfoRequest;
import org.ctrlab.server.auth.Auth;
import org.ctrlab.server.auth.TokenFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real TLS: certificates made by scripts/make-certs.sh (openssl, as the deploy guide does), a server with mutual
 * TLS on loopback, a trusted client, and the clients it must turn away.
 */
class TlsTest {
  @TempDir
  static Path tmp;

  static Path certs;
  static Path rogue;

  /** Runs the repository's certificate script. */
  static void makeCerts(Path dir, String... clients) throws Exception {
    Path script = Path.of("..", "scripts", "make-certs.sh").toAbsolutePath().normalize();
    List<String> cmd = new java.util.ArrayList<>(List.of("bash", script.toString(), dir.toString(), "ctrlab-test"));
    cmd.addAll(List.of(clients));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), "make-certs.sh (needs openssl, which scripts/install-test-deps.sh installs): " + out);
  }

  @BeforeAll
  static void certificates() throws Exception {
    certs = tmp.resolve("certs");
    rogue = tmp.resolve("rogue");
    makeCerts(certs, "alice");
    makeCerts(rogue, "mallory"); // signed by another CA
    TestData.small().write(tmp.resolve("data").resolve("synthetic"));
  }

  static ServerOptions options() {
    return new ServerOptions().port(0).dataDir(tmp.resolve("data")).runDir(tmp.resolve("runs")).threads(2)
        .allowDownload(false);
  }

  static ManagedChannel tls(int port, Path ca, Path cert, Path key) throws IOException {
    SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(ca.toFile());
    if (cert != null) {
      ssl.keyManager(cert.toFile(), key.toFile());
    }
    return NettyChannelBuilder.forAddress("localhost", port).sslContext(ssl.build()).build();
  }

  static ServerInfo info(ManagedChannel ch, String token) {
    Metadata m = new Metadata();
    m.put(Auth.AUTHORIZATION, "Bearer " + token);
    try {
      return CtrlabGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m))
          .withDeadlineAfter(10, TimeUnit.SECONDS).getServerInfo(ServerInfoRequest.getDefaultInstance());
    } finally {
      ch.shutdownNow();
    }
  }

  @Test
  void callsGoOverMutualTlsAndUntrustedClientsAreTurnedAway() throws Exception {
    Path tokens = tmp.resolve("tokens.txt");
    String alice = TokenFile.add(tokens, "alice", false);
    try (CtrlabServer s = new CtrlabServer(options().tokens(tokens).tls(certs.resolve("server.pem"),
        certs.resolve("server.key"), certs.resolve("ca.pem"))).start()) {
      ServerInfo i = info(tls(s.port(), certs.resolve("ca.pem"), certs.resolve("alice.pem"),
          certs.resolve("alice.key")), alice);
      assertTrue(i.getTls());
      assertEquals("alice", i.getUser());
      // No client certificate, one from another CA, a client that does not trust the server, plaintext: all fail.
      for (ManagedChannel bad : List.of(
          tls(s.port(), certs.resolve("ca.pem"), null, null),
          tls(s.port(), certs.resolve("ca.pem"), rogue.resolve("mallory.pem"), rogue.resolve("mallory.key")),
          tls(s.port(), rogue.resolve("ca.pem"), certs.resolve("alice.pem"), certs.resolve("alice.key")),
          NettyChannelBuilder.forAddress("localhost", s.port()).usePlaintext().build())) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> info(bad, alice));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      }
      // The container's health check: 'ctrlab-server health' over the same mutual TLS, with no token.
      String at = "localhost:" + s.port();
      assertEquals(0, health("--server", at, "--ca-cert", certs.resolve("ca.pem").toString(), "--client-cert",
          certs.resolve("alice.pem").toString(), "--client-key", certs.resolve("alice.key").toString()));
      assertEquals(2, health("--server", at, "--ca-cert", certs.resolve("ca.pem").toString()), "no client cert");
      assertEquals(2, health("--server", at, "--ca-cert", rogue.resolve("ca.pem").toString(), "--client-cert",
          certs.resolve("alice.pem").toString(), "--client-key", certs.resolve("alice.key").toString()),
          "a server it does not trust");
      s.close();
      assertEquals(2, health("--server", at, "--ca-cert", certs.resolve("ca.pem").toString(), "--client-cert",
          certs.resolve("alice.pem").toString(), "--client-key", certs.resolve("alice.key").toString(),
          "--timeout", "2"), "a stopped server");
    }
  }

  @Test
  void theDashboardSpeaksTheSameMutualTls() throws Exception {
    Path tokens = tmp.resolve("tokens-web.txt");
    String alice = TokenFile.add(tokens, "alice", false);
    try (CtrlabServer s = new CtrlabServer(options().runDir(tmp.resolve("runs-web")).tokens(tokens).httpPort(0)
        .tls(certs.resolve("server.pem"), certs.resolve("server.key"), certs.resolve("ca.pem"))).start()) {
      java.net.URI me = java.net.URI.create("https://localhost:" + s.httpPort() + "/api/me");
      var ok = https(certs.resolve("ca.pem"), certs.resolve("alice.pem"), certs.resolve("alice.key")).send(
          java.net.http.HttpRequest.newBuilder(me).header("Authorization", "Bearer " + alice).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertEquals(200, ok.statusCode(), ok.body());
      assertTrue(ok.body().contains("\"user\":\"alice\""), ok.body());
      // Without a client certificate, or in clear text, nothing is answered.
      var noCert = https(certs.resolve("ca.pem"), null, null);
      assertThrows(java.io.IOException.class, () -> noCert.send(java.net.http.HttpRequest.newBuilder(me).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()));
      assertThrows(java.io.IOException.class, () -> java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://localhost:" + s.httpPort() + "/api/me"))
              .build(), java.net.http.HttpResponse.BodyHandlers.ofString()));
    }
  }

  /** An HTTPS client trusting the test CA, with a client certificate when given one. */
  static java.net.http.HttpClient https(Path ca, Path cert, Path key) throws IOException {
    SslContextBuilder b = SslContextBuilder.forClient().sslProvider(io.netty.handler.ssl.SslProvider.JDK)
        .trustManager(ca.toFile());
    if (cert != null) {
      b.keyManager(cert.toFile(), key.toFile());
    }
    return java.net.http.HttpClient.newBuilder().sslContext(((io.netty.handler.ssl.JdkSslContext) b.build())
        .context()).connectTimeout(java.time.Duration.ofSeconds(5)).build();
  }

  /** Runs 'ctrlab-server health ARGS' and returns its exit code. */
  static int health(String... args) {
    return new picocli.CommandLine(new org.ctrlab.server.ops.HealthCommand()).execute(args);
  }

  @Test
  void aServerOnTheNetworkNeedsTlsAndTokensUnlessToldInsecure() throws Exception {
    IllegalArgumentException noTls = assertThrows(IllegalArgumentException.class,
        () -> new CtrlabServer(options().host("0.0.0.0").tokens(tmp.resolve("tokens.txt"))));
    assertTrue(noTls.getMessage().startsWith("refusing to listen on 0.0.0.0 without TLS"), noTls.getMessage());
    IllegalArgumentException noTokens = assertThrows(IllegalArgumentException.class,
        () -> new CtrlabServer(options().host("0.0.0.0").tls(certs.resolve("server.pem"), certs.resolve("server.key"),
            null)));
    assertTrue(noTokens.getMessage().startsWith("refusing to listen on 0.0.0.0 without tokens"));
    try (CtrlabServer s = new CtrlabServer(options().host("0.0.0.0").insecure(true)).start()) {
      assertTrue(s.port() > 0);
    }
  }

  @Test
  void aBadStartIsOneLineNotAStackTrace() throws Exception {
    Process p = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), "org.ctrlab.server.ServerMain", "--port", "0", "--run-dir",
        tmp.resolve("runs2").toString(), "--tokens", tmp.resolve("missing.txt").toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, p.waitFor());
    List<String> lines = err.lines().filter(l -> l.startsWith("ctrlab-server:")).toList();
    assertEquals(1, lines.size(), err);
    assertTrue(lines.get(0).startsWith("ctrlab-server: the token file " + tmp.resolve("missing.txt")
        + " does not exist"), lines.get(0));
    assertTrue(!err.contains("\tat "), "no stack trace: " + err);
    Files.writeString(tmp.resolve("dup.txt"), "a " + TokenFile.hash("1") + "\na " + TokenFile.hash("2") + "\n");
    p = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), "org.ctrlab.server.ServerMain", "--port", "0", "--run-dir",
        tmp.resolve("runs2").toString(), "--tokens", tmp.resolve("dup.txt").toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, p.waitFor());
    assertTrue(err.contains("ctrlab-server: " + tmp.resolve("dup.txt") + " line 2: user a already has a token on line 1"),
        err);
  }
}
