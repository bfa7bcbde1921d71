package org.ctrlab.server.data;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A dictionary from raw token strings to dense codes 0..n-1, in order of first appearance. */
final class Vocab {
  private final Map<String, Integer> codes = new HashMap<>();
  private final List<String> tokens = new ArrayList<>();

  int code(String token) {
    Integer c = codes.get(token);
    if (c == null) {
      c = tokens.size();
      codes.put(token, c);
      tokens.add(token);
    }
    return c;
  }

  int size() {
    return tokens.size();
  }

  String token(int code) {
    return tokens.get(code);
  }
}
