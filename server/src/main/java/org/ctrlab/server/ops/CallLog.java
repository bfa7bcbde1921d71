package org.ctrlab.server.ops;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.ctrlab.server.auth.Auth;
import org.ctrlab.server.auth.Caller;

/**
 * The outermost interceptor: one log line per call when it ends (user, method, status, milliseconds; never a token
 * or a request's content) and the call's latency in the metrics. Health checks are counted but logged only at DEBUG.
 */
public final class CallLog implements ServerInterceptor {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CallLog.class);

  private final ServerMetrics metrics;

  public CallLog(ServerMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    long t0 = System.nanoTime();
    AtomicReference<Caller> who = new AtomicReference<>();
    AtomicBoolean recorded = new AtomicBoolean();
    String method = call.getMethodDescriptor().getFullMethodName();
    java.util.function.Consumer<Status.Code> record = code -> {
      if (!recorded.compareAndSet(false, true)) {
        return;
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      metrics.call(method, code.name(), seconds);
      Caller c = who.get();
      var event = method.startsWith("grpc.health.") ? LOG.atDebug() : LOG.atInfo();
      event.addKeyValue("user", c == null ? "-" : c.user()).addKeyValue("method", method)
          .addKeyValue("status", code.name())
          .addKeyValue("ms", String.format(java.util.Locale.ROOT, "%.1f", seconds * 1e3)).log("call");
    };
    ServerCall<Q, R> logged = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        record.accept(status.getCode());
        super.close(status, trailers);
      }
    };
    ServerCall.Listener<Q> listener = Contexts.interceptCall(Context.current().withValue(Auth.SLOT, who), logged,
        headers, next);
    // A call its client cancels (a watch given up, a deadline passed) is never closed by the server: it is
    // recorded as CANCELLED when gRPC says so.
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onCancel() {
        record.accept(Status.Code.CANCELLED);
        super.onCancel();
      }
    };
  }
}
