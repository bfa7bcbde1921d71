package org.ctrlab.cli;

import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.io.PrintStream;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.ctrlab.api.v1.CtrlabGrpc;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** {@code ctrlab}: the command line of a ctrlab server. */
@Command(name = "ctrlab", mixinStandardHelpOptions = true, version = "ctrlab 0.1.0",
    description = "Run CTR experiments on a shared ctrlab server.",
    defaultValueProvider = Ctrlab.Defaults.class,
    subcommands = {RunCommands.Train.class, RunCommands.Compare.class, RunCommands.Watch.class,
        RunCommands.Runs.class, RunCommands.Show.class, RunCommands.Cancel.class, RunCommands.Delete.class,
        AnalysisCommands.Evaluate.class, AnalysisCommands.Perturb.class, AnalysisCommands.Inspect.class,
        StudyCommands.class, Reproduce.class,
        ServerCommands.Backbones.class, ServerCommands.Datasets.class, ServerCommands.Info.class,
        picocli.AutoComplete.GenerateCompletion.class, CommandLine.HelpCommand.class},
    footer = {"", "Server, token and TLS come from --server/--token/--tls/--ca-cert, else CTRLAB_SERVER, CTRLAB_TOKEN,",
        "CTRLAB_TLS, CTRLAB_CA_CERT, else the file ~/.config/ctrlab/config.properties (lines server=host:port,",
        "token=..., tls=true, ca_cert=/path/ca.pem, client_cert=..., client_key=...).",
        "Shell completion: source <(ctrlab generate-completion)",
        "Exit codes: 0 ok, 1 the run failed or was cancelled, 2 bad usage, 3 the server refused the request,",
        "            4 the server is unreachable.", "",
        "Example:", "  ctrlab train --dataset synthetic --backbone DCNV2 --head RATING --watch"})
public final class Ctrlab {
  static final int EXIT_RUN_FAILED = 1;
  static final int EXIT_REFUSED = 3;
  static final int EXIT_UNREACHABLE = 4;

  @Option(names = "--server", scope = ScopeType.INHERIT,
      description = "Server address host:port (default: $CTRLAB_SERVER, the config file, or localhost:50051).")
  String server;

  @Option(names = "--token", scope = ScopeType.INHERIT,
      description = "Access token (default: $CTRLAB_TOKEN or the config file).")
  String token;

  @Option(names = "--tls", scope = ScopeType.INHERIT, negatable = true,
      description = "Speak TLS to the server (default: $CTRLAB_TLS, the config file's tls=true, or off).")
  boolean tls;

  @Option(names = "--ca-cert", scope = ScopeType.INHERIT,
      description = "PEM file of the CA that signed the server's certificate (default: $CTRLAB_CA_CERT, the config"
          + " file, or the system's trusted CAs); implies --tls.")
  String caCert;

  @Option(names = "--client-cert", scope = ScopeType.INHERIT,
      description = "Your certificate (PEM) for a server that asks for one (mutual TLS); with --client-key.")
  String clientCert;

  @Option(names = "--client-key", scope = ScopeType.INHERIT, description = "Your certificate's private key (PEM).")
  String clientKey;

  /** Defaults for --server and --token: environment, then ~/.config/ctrlab/config.properties, then built-in. */
  public static final class Defaults implements CommandLine.IDefaultValueProvider {
    static java.nio.file.Path configFile() {
      String xdg = System.getenv("XDG_CONFIG_HOME");
      java.nio.file.Path base = xdg != null && !xdg.isEmpty() ? java.nio.file.Path.of(xdg)
          : java.nio.file.Path.of(System.getProperty("user.home"), ".config");
      return base.resolve("ctrlab").resolve("config.properties");
    }

    @Override
    public String defaultValue(CommandLine.Model.ArgSpec arg) {
      if (!(arg instanceof CommandLine.Model.OptionSpec o)) {
        return null;
      }
      String key = switch (o.longestName()) {
        case "--server" -> "server";
        case "--token" -> "token";
        case "--tls" -> "tls";
        case "--ca-cert" -> "ca_cert";
        case "--client-cert" -> "client_cert";
        case "--client-key" -> "client_key";
        default -> null;
      };
      if (key == null) {
        return null;
      }
      String env = System.getenv("CTRLAB_" + key.toUpperCase(java.util.Locale.ROOT));
      if (env != null && !env.isEmpty()) {
        return env;
      }
      java.nio.file.Path f = configFile();
      if (java.nio.file.Files.isRegularFile(f)) {
        java.util.Properties p = new java.util.Properties();
        try (var in = java.nio.file.Files.newBufferedReader(f)) {
          p.load(in);
        } catch (java.io.IOException e) {
          throw new IllegalStateException("cannot read " + f + ": " + e.getMessage(), e);
        }
        if (p.getProperty(key) != null) {
          return p.getProperty(key).strip();
        }
      }
      return key.equals("server") ? "localhost:50051" : null;
    }
  }

  @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print JSON instead of tables.")
  boolean json;

  private ManagedChannel channel;
  private java.io.PrintWriter warnings = new java.io.PrintWriter(System.err, true);

  CtrlabGrpc.CtrlabBlockingStub blocking() {
    return CtrlabGrpc.newBlockingStub(channel()).withCallCredentials(credentials());
  }

  CtrlabGrpc.CtrlabStub async() {
    return CtrlabGrpc.newStub(channel()).withCallCredentials(credentials());
  }

  private synchronized ManagedChannel channel() {
    if (channel == null) {
      NettyChannelBuilder b = NettyChannelBuilder.forTarget(server);
      if (tls || caCert != null || clientCert != null) {
        try {
          io.netty.handler.ssl.SslContextBuilder ssl = io.grpc.netty.GrpcSslContexts.forClient();
          if (caCert != null) {
            ssl.trustManager(new java.io.File(caCert));
          }
          if ((clientCert == null) != (clientKey == null)) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                "--client-cert and --client-key go together");
          }
          if (clientCert != null) {
            ssl.keyManager(new java.io.File(clientCert), new java.io.File(clientKey));
          }
          b.sslContext(ssl.build());
        } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
          throw new CommandLine.ParameterException(new CommandLine(this), "cannot set up TLS: " + e.getMessage());
        }
      } else {
        b.usePlaintext();
        String warning = plaintextTokenWarning(server, token);
        if (warning != null) {
          warnings.println(warning);
        }
      }
      channel = b.build();
    }
    return channel;
  }

  /**
   * The warning printed before a token is sent in clear text to another machine, or null: a plaintext connection
   * to a host that is not loopback lets anyone on the path read the token. Names are resolved as the channel would;
   * one that does not resolve is taken as remote.
   */
  static String plaintextTokenWarning(String target, String token) {
    if (token == null || token.isEmpty() || isLoopback(target)) {
      return null;
    }
    return "warning: sending your token to " + target + " without TLS: anyone on the network path can read it and"
        + " act as you; use --tls (with --ca-cert) for a server on another machine";
  }

  /** Whether a target (host:port, [v6]:port, dns:///host:port, unix:...) names this machine. */
  static boolean isLoopback(String target) {
    String t = target.strip();
    if (t.startsWith("unix:")) {
      return true;
    }
    t = t.replaceFirst("^dns:(//[^/]*)?/", "");
    String host = t.startsWith("[") ? t.substring(1, Math.max(1, t.indexOf(']')))
        : t.lastIndexOf(':') > 0 && t.indexOf(':') == t.lastIndexOf(':') ? t.substring(0, t.indexOf(':')) : t;
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    try {
      for (java.net.InetAddress a : java.net.InetAddress.getAllByName(host)) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return true;
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  private CallCredentials credentials() {
    String t = token;
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor ex, MetadataApplier applier) {
        Metadata m = new Metadata();
        if (t != null && !t.isEmpty()) {
          m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + t);
        }
        applier.apply(m);
      }
    };
  }

  void printJson(java.io.PrintWriter out, MessageOrBuilder m) {
    try {
      out.println(Safe.json(JsonFormat.printer().preservingProtoFieldNames().print(m)));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  void close() {
    if (channel != null) {
      channel.shutdownNow();
      try {
        channel.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  static CommandLine commandLine(Ctrlab root) {
    CommandLine cl = new CommandLine(root);
    cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
      if (ex instanceof StatusRuntimeException s) {
        String code = s.getStatus().getCode().name();
        String d = s.getStatus().getDescription();
        cmd.getErr().println("error: " + code + (d == null ? "" : ": " + Safe.lines(d)));
        return s.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE ? EXIT_UNREACHABLE : EXIT_REFUSED;
      }
      throw ex;
    });
    return cl;
  }

  public static int run(String[] args, PrintStream out, PrintStream err) {
    Ctrlab root = new Ctrlab();
    CommandLine cl = commandLine(root);
    cl.setOut(new java.io.PrintWriter(out, true));
    cl.setErr(new java.io.PrintWriter(err, true));
    root.warnings = cl.getErr();
    try {
      return cl.execute(args);
    } finally {
      root.close();
    }
  }

  public static void main(String[] args) {
    System.setProperty("java.awt.headless", "true"); // reproduce draws PNGs; no display is needed
    System.exit(run(args, System.out, System.err));
  }
}
