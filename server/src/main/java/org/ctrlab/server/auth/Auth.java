package org.ctrlab.server.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Per-user bearer tokens from a {@link TokenFile}. Every call but the gRPC health checks carries
 * {@code authorization: Bearer TOKEN}; a missing, unknown or revoked token is UNAUTHENTICATED. The file is read again
 * when it changes (checked at most once a second), so {@code ctrlab-server token add/revoke} take effect without a
 * restart. A file that cannot be used after a change (emptied, removed, unreadable, invalid) refuses every token
 * (fail closed), is logged once, and is tried again every second until it can be used. Without a file every caller
 * is {@link Caller#LOCAL}.
 */
public final class Auth implements ServerInterceptor {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Auth.class);

  /** The caller of the current call. */
  public static final Context.Key<Caller> CALLER = Context.key("ctrlab-caller");
  /** Installed by an interceptor outside this one (the call log) to learn who called. */
  public static final Context.Key<AtomicReference<Caller>> SLOT = Context.key("ctrlab-caller-slot");
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final String HEALTH = "grpc.health.v1.Health/";

  private final Path file;
  private volatile Map<String, Caller> byHash;
  private volatile long loadedModified;
  private volatile long checkedAt;
  /** The modification time of the file as it last failed to load (logged once), or Long.MIN_VALUE. */
  private volatile long failedModified = Long.MIN_VALUE;

  private Auth(Path file, Map<String, Caller> byHash, long modified) {
    this.file = file;
    this.byHash = byHash;
    this.loadedModified = modified;
  }

  public static Auth open() {
    return new Auth(null, null, 0);
  }

  /** Reads the token file; a missing, unreadable or invalid one is an IOException with a one-line message. */
  public static Auth fromFile(Path file) throws IOException {
    long modified = modified(file);
    return new Auth(file, load(file, false), modified);
  }

  private static long modified(Path file) {
    try {
      return Files.getLastModifiedTime(file).toMillis();
    } catch (IOException e) {
      return -1;
    }
  }

  private static Map<String, Caller> load(Path file, boolean mayBeEmpty) throws IOException {
    TokenFile.Contents c = TokenFile.read(file, mayBeEmpty);
    c.warnings().forEach(w -> LOG.warn(w));
    Map<String, Caller> m = new HashMap<>();
    for (TokenFile.Entry e : c.entries()) {
      m.put(e.hash(), new Caller(e.user(), e.admin()));
    }
    LOG.atInfo().addKeyValue("file", file).addKeyValue("users", m.size()).log("tokens loaded");
    return Map.copyOf(m);
  }

  public boolean required() {
    return file != null;
  }

  /** The caller of the current call ({@link Caller#LOCAL} outside a call or without tokens). */
  public static Caller caller() {
    Caller c = CALLER.get();
    return c == null ? Caller.LOCAL : c;
  }

  /**
   * Who an {@code Authorization} header's value names: {@link Caller#LOCAL} on a server without tokens, the token's
   * user with one, nothing for a missing, malformed, unknown or revoked token.
   */
  public java.util.Optional<Caller> authenticate(String authorization) {
    if (file == null) {
      return java.util.Optional.of(Caller.LOCAL);
    }
    if (authorization == null || !authorization.startsWith("Bearer ")) {
      return java.util.Optional.empty();
    }
    return java.util.Optional.ofNullable(current().get(TokenFile.hash(authorization.substring("Bearer ".length())
        .strip())));
  }

  private Map<String, Caller> current() {
    long now = System.currentTimeMillis();
    if (now - checkedAt > 1000) {
      checkedAt = now;
      long m = modified(file);
      if (m != loadedModified) {
        try {
          byHash = load(file, true);
          loadedModified = m;
          failedModified = Long.MIN_VALUE;
        } catch (IOException e) {
          // Fail closed: a token revoked by removing or breaking the file must not keep working. The load is tried
          // again every second (a chown or chmod that mends it does not change its modification time).
          byHash = Map.of();
          if (m != failedModified) {
            failedModified = m;
            LOG.error("the token file changed and cannot be used; every token is refused until it is mended: {}",
                e.getMessage());
          }
        }
      }
    }
    return byHash;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    if (call.getMethodDescriptor().getFullMethodName().startsWith(HEALTH)) {
      return next.startCall(call, headers);
    }
    Caller caller = Caller.LOCAL;
    if (file != null) {
      String h = headers.get(AUTHORIZATION);
      if (h == null || !h.startsWith("Bearer ")) {
        call.close(Status.UNAUTHENTICATED.withDescription(
            "this server needs a token: send the header 'authorization: Bearer <token>' (ctrlab --token, "
                + "or CTRLAB_TOKEN)"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
      caller = authenticate(h).orElse(null);
      if (caller == null) {
        call.close(Status.UNAUTHENTICATED.withDescription("unknown or revoked token"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
    }
    AtomicReference<Caller> slot = SLOT.get();
    if (slot != null) {
      slot.set(caller);
    }
    return Contexts.interceptCall(Context.current().withValue(CALLER, caller), call, headers, next);
  }
}
