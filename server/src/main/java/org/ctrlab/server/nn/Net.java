package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The graph under construction and its variables. Layers create their {@link Param}s here when they are built and
 * may then be applied any number of times (a training pass and an evaluation pass share the same variables). While a
 * training pass is built it also knows the batch's rows and the tower being built; its random ops' keys are
 * {@link #random}'s.
 */
public final class Net {
  public final Graph graph;
  public final Ops tf;
  private final List<Param> params = new ArrayList<>();
  private final List<Op> trainUpdates = new ArrayList<>();
  private final long seed;
  /** Keys and seeds of the random ops, and the dropout masks a training pass may feed. */
  public final RandomOps random;
  private Operand<TInt32> batchRows;
  private Tower tower;
  private boolean rowsCoupled;

  /**
   * One of the row ranges a training pass is split into, built as its own copy of the model's ops on the same
   * variables: rows [begin, begin + rows) of the batch ([1] tensors).
   */
  public record Tower(int index, Operand<TInt32> begin, Operand<TInt32> rows) {}

  public Net(Graph graph, long seed) {
    this.graph = graph;
    this.tf = Ops.create(graph);
    this.seed = seed;
    this.random = new RandomOps(tf, seed);
  }

  /** Starts building a tower: its random ops get the same keys as the first tower's ({@link RandomOps}). */
  public void beginTower(Tower t) {
    random.startTower();
    tower = t;
  }

  /** Ends the towers of a pass: later ops are built over the whole batch again, with fresh keys. */
  public void endTowers() {
    random.endTowers();
    tower = null;
  }

  /** Marks the net as holding a layer whose training output for a row depends on other rows (BatchNorm). */
  public void markRowsCoupled() {
    rowsCoupled = true;
  }

  /** Whether a layer couples a batch's rows in training, so that the batch cannot be split into towers. */
  public boolean rowsCoupled() {
    return rowsCoupled;
  }

  /** The tower being built, or null outside towers. */
  public Tower tower() {
    return tower;
  }

  /**
   * Sets the batch size as a [1] tensor computed from the input placeholders only (no path from any variable), so
   * that ops shaped by it stay out of the gradient graph.
   */
  public void setBatchRows(Operand<TInt32> rows) {
    this.batchRows = rows;
  }

  /** The batch size as a [1] tensor, or null when the net has no input placeholders. */
  public Operand<TInt32> batchRows() {
    return batchRows;
  }

  /** Creates a float variable with its read, restore placeholder and assign ops. */
  public Param param(String name, Shape shape, Init init, Param.Group group, boolean trainable) {
    String unique = uniqueName(name);
    Ops scoped = tf;
    for (String part : unique.split("/")) {
      scoped = scoped.withSubScope(part);
    }
    Variable<TFloat32> var = scoped.withName("var").variable(shape, TFloat32.class);
    Operand<TFloat32> read = scoped.withName("read").identity(var);
    Placeholder<TFloat32> feed = scoped.withName("feed").placeholder(TFloat32.class, Placeholder.shape(shape));
    Assign<TFloat32> assign = scoped.withName("assign").assign(var, feed);
    Param p = new Param(unique, shape, var, read, feed, assign, init, group, trainable);
    params.add(p);
    return p;
  }

  public Param weight(String name, Shape shape, Init init) {
    return param(name, shape, init, Param.Group.OTHER, true);
  }

  private String uniqueName(String name) {
    String n = name;
    int k = 1;
    while (true) {
      final String candidate = n;
      if (params.stream().noneMatch(p -> p.name.equals(candidate))) {
        return candidate;
      }
      n = name + "_" + (k++);
    }
  }

  public List<Param> params() {
    return Collections.unmodifiableList(params);
  }

  public List<Param> trainable() {
    return params.stream().filter(p -> p.trainable).toList();
  }

  /** An op (such as a BatchNorm running-statistics update) to run with every training step. */
  public void addTrainUpdate(Op op) {
    trainUpdates.add(op);
  }

  public List<Op> trainUpdates() {
    return Collections.unmodifiableList(trainUpdates);
  }

  /** Draws every parameter's initial value from a generator seeded by the run's seed and assigns it. */
  public void initialize(Session session) {
    SplittableRandom rng = new SplittableRandom(seed);
    List<float[]> values = new ArrayList<>();
    for (Param p : params) {
      values.add(p.init.values(p.shape, rng));
    }
    assign(session, params, values);
  }

  /** Assigns values to parameters in one session run. */
  public static void assign(Session session, List<Param> ps, List<float[]> values) {
    if (ps.isEmpty()) {
      return;
    }
    List<TFloat32> tensors = new ArrayList<>();
    try {
      Session.Runner r = session.runner();
      for (int i = 0; i < ps.size(); i++) {
        Param p = ps.get(i);
        float[] v = values.get(i);
        if (v.length != p.size()) {
          throw new IllegalArgumentException("value for " + p.name + " has " + v.length + " elements, shape "
              + p.shape + " needs " + p.size());
        }
        TFloat32 t = TFloat32.tensorOf(p.shape, DataBuffers.of(v, true, false));
        tensors.add(t);
        r.feed(p.feed, t).addTarget(p.assign);
      }
      r.run().close();
    } finally {
      tensors.forEach(TFloat32::close);
    }
  }

  /** Reads the current values of parameters in one session run. */
  public static List<float[]> read(Session session, List<Param> ps) {
    Session.Runner r = session.runner();
    for (Param p : ps) {
      r.fetch(p.read);
    }
    List<float[]> out = new ArrayList<>();
    try (Result res = r.run()) {
      for (int i = 0; i < ps.size(); i++) {
        float[] v = new float[ps.get(i).size()];
        ((TFloat32) res.get(i)).copyTo(DataBuffers.of(v, false, false));
        out.add(v);
      }
    }
    return out;
  }
}
