package org.ctrlab.server.service;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.ctrlab.server.auth.Auth;

/**
 * Counts the server-streaming calls (WatchRun, Predict) each user and each connection holds open and refuses one
 * past {@link StreamLimits#perUser} or {@link StreamLimits#perConnection} with RESOURCE_EXHAUSTED naming the limit.
 * A stream's place is freed when it ends, however it ends. Runs inside {@link Auth}, which names the caller.
 */
public final class StreamGuard implements ServerInterceptor {
  private static final io.grpc.Context.Key<Runnable> RELEASE = io.grpc.Context.key("ctrlab-stream-release");

  private final StreamLimits limits;
  private final Map<String, Integer> byUser = new ConcurrentHashMap<>();
  private final Map<SocketAddress, Integer> byConnection = new ConcurrentHashMap<>();

  public StreamGuard(StreamLimits limits) {
    this.limits = limits;
  }

  /**
   * What gives the current stream's place back at once, for a stream the server ends because its client stopped
   * reading: such a call's status waits on the wire behind the data the client never takes, and gRPC reports it
   * ended only when the client reads, cancels or its connection closes (at the latest by the idle or age limit).
   * Nothing for a call that is not a counted stream.
   */
  public static Runnable releaser() {
    Runnable r = RELEASE.get();
    return r == null ? () -> {} : r;
  }

  /** Streams the user holds open now. */
  public int open(String user) {
    return byUser.getOrDefault(user, 0);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    if (call.getMethodDescriptor().getType() != MethodDescriptor.MethodType.SERVER_STREAMING) {
      return next.startCall(call, headers);
    }
    String user = Auth.caller().user();
    SocketAddress conn = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    String refused = null;
    int u = up(byUser, user);
    if (u > limits.perUser()) {
      refused = String.format("%s has %d streams open (WatchRun, Predict): at most %d per user"
          + " (--max-streams-per-user); end some first", user, u - 1, limits.perUser());
    } else if (conn != null) {
      int c = up(byConnection, conn);
      if (c > limits.perConnection()) {
        refused = String.format("this connection has %d streams open (WatchRun, Predict): at most %d per"
            + " connection (--max-streams-per-connection)", c - 1, limits.perConnection());
        down(byConnection, conn);
      }
    }
    if (refused != null) {
      down(byUser, user);
      call.close(Status.RESOURCE_EXHAUSTED.withDescription(refused), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    AtomicBoolean released = new AtomicBoolean();
    Runnable release = () -> {
      if (released.compareAndSet(false, true)) {
        down(byUser, user);
        if (conn != null) {
          down(byConnection, conn);
        }
      }
    };
    ServerCall.Listener<Q> listener;
    try {
      listener = io.grpc.Contexts.interceptCall(io.grpc.Context.current().withValue(RELEASE, release), call, headers,
          next);
    } catch (RuntimeException e) {
      release.run();
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onComplete() {
        release.run();
        super.onComplete();
      }

      @Override
      public void onCancel() {
        release.run();
        super.onCancel();
      }
    };
  }

  /**
   * One more for key; returns its count. A count and its removal at zero change under the map's lock for the key, so
   * that a stream counted as another ends is never counted in an entry being removed.
   */
  private static <K> int up(Map<K, Integer> m, K key) {
    return m.merge(key, 1, Integer::sum);
  }

  /** One fewer for key; the entry goes at zero. */
  private static <K> void down(Map<K, Integer> m, K key) {
    m.computeIfPresent(key, (k, v) -> v > 1 ? v - 1 : null);
  }
}
