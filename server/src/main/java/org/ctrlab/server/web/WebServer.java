package org.ctrlab.server.web;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * The dashboard's HTTP server (the JDK's own): the page and its read-only JSON API on one port, over TLS with the
 * gRPC server's certificate when it has one (and asking for a client certificate when it does). Requests are served
 * by a few threads with a short queue; past it a connection is refused rather than queued without bound.
 */
public final class WebServer implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(WebServer.class);

  /** TLS settings: the server's certificate and key (PEM), and the CA that signs client certificates (or null). */
  public record Tls(Path cert, Path key, Path clientCa) {}

  private final HttpServer http;
  private final ThreadPoolExecutor pool;
  private final boolean tls;

  static {
    // A connection that sends half a request (or half a TLS handshake) and stalls would hold a thread for ever:
    // the JDK's server has no time limit unless told (seconds; read once, before its first server is created).
    if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
      System.setProperty("sun.net.httpserver.maxReqTime", "20");
    }
    if (System.getProperty("sun.net.httpserver.maxRspTime") == null) {
      System.setProperty("sun.net.httpserver.maxRspTime", "60");
    }
  }

  public WebServer(String host, int port, Tls tls, WebApi api) throws IOException {
    this.tls = tls != null;
    InetSocketAddress at = new InetSocketAddress(host, port);
    try {
      http = tls == null ? HttpServer.create(at, 64) : https(at, tls);
    } catch (java.net.BindException e) {
      throw new java.io.IOException("the dashboard's port " + host + ":" + port + " is in use (" + e.getMessage()
          + "): give another --http-port, or -1 for no dashboard", e);
    }
    pool = new ThreadPoolExecutor(4, 4, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(64), r -> {
      Thread t = new Thread(r, "ctrlab-web");
      t.setDaemon(true);
      return t;
    });
    pool.allowCoreThreadTimeOut(true);
    http.setExecutor(pool);
    http.createContext("/api/", api);
    http.createContext("/", new StaticFiles());
  }

  private static HttpServer https(InetSocketAddress at, Tls tls) throws IOException {
    HttpsServer s = HttpsServer.create(at, 64);
    SSLContext ssl = sslContext(tls);
    boolean clientCerts = tls.clientCa() != null;
    s.setHttpsConfigurator(new HttpsConfigurator(ssl) {
      @Override
      public void configure(HttpsParameters p) {
        javax.net.ssl.SSLParameters params = ssl.getDefaultSSLParameters();
        params.setNeedClientAuth(clientCerts);
        p.setSSLParameters(params);
      }
    });
    return s;
  }

  /** A JDK SSLContext from the same PEM files the gRPC server reads (Netty parses them). */
  static SSLContext sslContext(Tls tls) throws IOException {
    SslContextBuilder b = SslContextBuilder.forServer(tls.cert().toFile(), tls.key().toFile())
        .sslProvider(SslProvider.JDK);
    if (tls.clientCa() != null) {
      b.trustManager(tls.clientCa().toFile()).clientAuth(ClientAuth.REQUIRE);
    }
    return ((JdkSslContext) b.build()).context();
  }

  public WebServer start() {
    http.start();
    LOG.atInfo().addKeyValue("address", http.getAddress().getHostString() + ":" + port()).addKeyValue("tls", tls)
        .log("dashboard serving");
    return this;
  }

  public int port() {
    return http.getAddress().getPort();
  }

  @Override
  public void close() {
    http.stop(0);
    pool.shutdownNow();
  }
}
