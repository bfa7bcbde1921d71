package org.ctrlab.server.service;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;

/**
 * Per-user bearer tokens. The token file has one {@code user token} pair per line ('#' starts a comment). With no
 * file, every caller is the user "local". With a file, a call without a known token is UNAUTHENTICATED.
 */
public final class Auth implements ServerInterceptor {
  public static final Context.Key<String> USER = Context.key("ctrlab-user");
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final Map<String, String> userByToken;

  private Auth(Map<String, String> userByToken) {
    this.userByToken = userByToken;
  }

  public static Auth open() {
    return new Auth(null);
  }

  public static Auth fromFile(Path file) throws IOException {
    Map<String, String> m = new HashMap<>();
    int lineNo = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      lineNo++;
      String t = line.strip();
      if (t.isEmpty() || t.startsWith("#")) {
        continue;
      }
      String[] p = t.split("\\s+");
      if (p.length != 2) {
        throw new IOException(file + " line " + lineNo + ": expected 'user token'");
      }
      m.put(p[1], p[0]);
    }
    if (m.isEmpty()) {
      throw new IOException(file + " has no 'user token' line");
    }
    return new Auth(m);
  }

  public boolean required() {
    return userByToken != null;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String user = "local";
    if (userByToken != null) {
      String h = headers.get(AUTHORIZATION);
      if (h == null || !h.startsWith("Bearer ")) {
        call.close(Status.UNAUTHENTICATED.withDescription(
            "this server needs a token: send the header 'authorization: Bearer <token>' (ctrlab --token, "
                + "or CTRLAB_TOKEN)"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
      user = lookup(h.substring("Bearer ".length()).strip());
      if (user == null) {
        call.close(Status.UNAUTHENTICATED.withDescription("unknown token"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
    }
    return Contexts.interceptCall(Context.current().withValue(USER, user), call, headers, next);
  }

  /** Constant-time comparison against every known token. */
  private String lookup(String token) {
    String found = null;
    byte[] t = token.getBytes(StandardCharsets.UTF_8);
    for (Map.Entry<String, String> e : userByToken.entrySet()) {
      if (MessageDigest.isEqual(t, e.getKey().getBytes(StandardCharsets.UTF_8))) {
        found = e.getValue();
      }
    }
    return found;
  }
}
