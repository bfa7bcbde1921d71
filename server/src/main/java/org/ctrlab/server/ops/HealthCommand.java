package org.ctrlab.server.ops;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ctrlab-server health}: asks a server's gRPC health service whether it is SERVING; exit 0 if so, 1 if not
 * (NOT_SERVING while it drains), 2 if it cannot be reached. For container health checks; it needs no token.
 */
@Command(name = "health", mixinStandardHelpOptions = true,
    description = "Check a server's gRPC health service (exit 0 SERVING, 1 not serving, 2 unreachable).")
public final class HealthCommand implements Callable<Integer> {
  @Option(names = "--server", description = "host:port (default: ${DEFAULT-VALUE}).")
  String server = "localhost:50051";

  @Option(names = "--tls", description = "The server speaks TLS.")
  boolean tls;

  @Option(names = "--ca-cert", description = "CA of the server's certificate (PEM); implies --tls.")
  Path caCert;

  @Option(names = "--client-cert", description = "Client certificate (PEM) for a server that requires one"
      + " (--tls-client-ca); with --client-key.")
  Path clientCert;

  @Option(names = "--client-key", description = "The client certificate's key (PKCS#8 PEM).")
  Path clientKey;

  @Option(names = "--timeout", description = "Seconds to wait (default: ${DEFAULT-VALUE}).")
  int timeout = 5;

  @Override
  public Integer call() throws Exception {
    NettyChannelBuilder b = NettyChannelBuilder.forTarget(server);
    if ((clientCert == null) != (clientKey == null)) {
      System.err.println("--client-cert and --client-key go together");
      return 2;
    }
    if (tls || caCert != null || clientCert != null) {
      var ssl = GrpcSslContexts.forClient();
      if (caCert != null) {
        ssl.trustManager(caCert.toFile());
      }
      if (clientCert != null) {
        ssl.keyManager(clientCert.toFile(), clientKey == null ? null : clientKey.toFile());
      }
      b.sslContext(ssl.build());
    } else {
      b.usePlaintext();
    }
    ManagedChannel ch = b.build();
    try {
      HealthCheckResponse r = HealthGrpc.newBlockingStub(ch).withDeadlineAfter(timeout, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      System.out.println(r.getStatus());
      return r.getStatus() == HealthCheckResponse.ServingStatus.SERVING ? 0 : 1;
    } catch (StatusRuntimeException e) {
      System.out.println("unreachable: " + e.getStatus().getCode());
      return 2;
    } finally {
      ch.shutdownNow();
    }
  }
}
