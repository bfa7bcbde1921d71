package org.ctrlab.server.data;

/** A data file that cannot be read as its format says; the message names the file and, where known, the line. */
public final class DataFormatException extends RuntimeException {
  public DataFormatException(String message) {
    super(message);
  }

  public static DataFormatException at(String file, long line, String what) {
    return new DataFormatException(file + " line " + line + ": " + what);
  }
}
