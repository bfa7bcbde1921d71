package org.ctrlab.server.model.backbone;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiFunction;
import org.ctrlab.server.model.Hyper;

/** The backbones the server offers, by name. Adding one: its class, one line here, and configs/models/NAME.yaml. */
public final class Backbones {
  private static final Map<String, BiFunction<BackboneContext, Hyper, Backbone>> ALL = new LinkedHashMap<>();

  static {
    ALL.put("WideDeep", WideDeep::new);
    ALL.put("NFM", NFM::new);
    ALL.put("xDeepFM", XDeepFM::new);
    ALL.put("AutoInt", AutoInt::new);
    ALL.put("FiGNN", FiGNN::new);
    ALL.put("DCNV2", DCNV2::new);
    ALL.put("EulerNet", EulerNet::new);
  }

  private Backbones() {}

  public static Iterable<String> names() {
    return ALL.keySet();
  }

  public static boolean exists(String name) {
    return ALL.containsKey(name);
  }

  public static Backbone create(String name, BackboneContext c, Hyper h) {
    var f = ALL.get(name);
    if (f == null) {
      throw new IllegalArgumentException("unknown backbone " + name + "; known: " + ALL.keySet());
    }
    return f.apply(c, h);
  }
}
