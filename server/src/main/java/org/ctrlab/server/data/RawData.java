package org.ctrlab.server.data;

import java.util.HashMap;
import java.util.Map;

/** The three tables of a dataset as read, before filtering (user and item may be null). */
final class RawData {
  final Map<String, Vocab> vocabs = new HashMap<>();
  RawTable inter;
  RawTable user;
  RawTable item;

  RawTable newTable(String kind) {
    return new RawTable(kind, vocabs);
  }
}
