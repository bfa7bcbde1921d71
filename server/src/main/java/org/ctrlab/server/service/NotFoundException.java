package org.ctrlab.server.service;

/** A run, study or other record that does not exist (NOT_FOUND). */
public class NotFoundException extends RuntimeException {
  public NotFoundException(String message) {
    super(message);
  }
}
