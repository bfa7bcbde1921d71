package org.ctrlab.server.auth;

/** Who makes a call: a user of the token file, or "local" (an admin) on a server without tokens. */
public record Caller(String user, boolean admin) {
  public static final Caller LOCAL = new Caller("local", true);

  /** Whether this caller may act on something owned by {@code owner}. */
  public boolean owns(String owner) {
    return admin || user.equals(owner);
  }
}
