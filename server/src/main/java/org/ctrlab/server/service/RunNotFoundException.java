package org.ctrlab.server.service;

/** No run has the given id. */
public final class RunNotFoundException extends NotFoundException {
  public RunNotFoundException(String runId) {
    super("no run with id '" + runId + "'");
  }
}
