package org.ctrlab.server.service;

import io.grpc.Status;

/** A request refused for a reason that has its own status: someone else's run, or a full queue. */
public final class Refusal extends RuntimeException {
  public final Status.Code code;

  private Refusal(Status.Code code, String message) {
    super(message);
    this.code = code;
  }

  public static Refusal permission(String message) {
    return new Refusal(Status.Code.PERMISSION_DENIED, message);
  }

  public static Refusal exhausted(String message) {
    return new Refusal(Status.Code.RESOURCE_EXHAUSTED, message);
  }

  public static Refusal unavailable(String message) {
    return new Refusal(Status.Code.UNAVAILABLE, message);
  }
}
