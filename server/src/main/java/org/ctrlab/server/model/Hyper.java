package org.ctrlab.server.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** A backbone's resolved hyperparameters: numbers as Double, lists as double[], text as String, flags as Boolean. */
public final class Hyper {
  private final Map<String, Object> values;

  public Hyper(Map<String, Object> values) {
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
  }

  public Map<String, Object> values() {
    return values;
  }

  private Object get(String name) {
    Object v = values.get(name);
    if (v == null) {
      throw new IllegalArgumentException("hyperparameter " + name + " is not set");
    }
    return v;
  }

  public double d(String name) {
    return ((Number) get(name)).doubleValue();
  }

  public int i(String name) {
    return (int) Math.round(d(name));
  }

  public boolean flag(String name) {
    return (Boolean) get(name);
  }

  public String text(String name) {
    return (String) get(name);
  }

  public double[] doubles(String name) {
    return (double[]) get(name);
  }

  public int[] ints(String name) {
    double[] d = doubles(name);
    int[] out = new int[d.length];
    for (int k = 0; k < d.length; k++) {
      out[k] = (int) Math.round(d[k]);
    }
    return out;
  }
}
