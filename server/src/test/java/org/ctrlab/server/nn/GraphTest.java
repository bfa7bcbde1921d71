package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/** A small graph for layer tests: build ops on {@link #net}, then set parameters and fetch values. */
public class GraphTest implements AutoCloseable {
  public final Graph graph = new Graph();
  public final Net net = new Net(graph, 1);
  private Session session;

  public Session session() {
    if (session == null) {
      session = new Session(graph);
      net.initialize(session);
    }
    return session;
  }

  /** Sets every parameter of the net, in creation order. */
  public void set(float[]... values) {
    List<Param> ps = net.params().subList(0, values.length);
    Net.assign(session(), ps, List.of(values));
  }

  /** Fetches a float tensor as a flat array, feeding the given tensors. */
  public float[] eval(Operand<TFloat32> x, Map<Operand<?>, Tensor> feeds) {
    Session.Runner r = session().runner();
    feeds.forEach(r::feed);
    r.fetch(x);
    try (Result res = r.run()) {
      TFloat32 t = (TFloat32) res.get(0);
      float[] out = new float[(int) t.shape().size()];
      t.copyTo(DataBuffers.of(out, false, false));
      return out;
    }
  }

  public float[] eval(Operand<TFloat32> x) {
    return eval(x, Map.of());
  }

  public static float[] flat(float[][] m) {
    List<Float> l = new ArrayList<>();
    for (float[] r : m) {
      for (float v : r) {
        l.add(v);
      }
    }
    float[] out = new float[l.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = l.get(i);
    }
    return out;
  }

  @Override
  public void close() {
    if (session != null) {
      session.close();
    }
    graph.close();
  }
}
