package org.ctrlab.server.nn;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * A float variable of the graph with what it needs around it: a value read ({@link #read}, an Identity, so that
 * gradients and the C++ gradient functions never see a reference type), and a placeholder plus assign op made at
 * build time, so that initialising, restoring a checkpoint or perturbing never adds an op to a built graph.
 */
public final class Param {
  /** Parameter groups of METHOD.md section 4.2 / Inspect. */
  public enum Group {
    EMBEDDING,
    OTHER,
    /** Not part of the model: optimizer slots. */
    SLOT
  }

  public final String name;
  public final Shape shape;
  public final Variable<TFloat32> var;
  public final Operand<TFloat32> read;
  public final Placeholder<TFloat32> feed;
  public final Assign<TFloat32> assign;
  public final Init init;
  public final Group group;
  /** Trained by the optimizer (false for BatchNorm running statistics and optimizer slots). */
  public final boolean trainable;

  Param(String name, Shape shape, Variable<TFloat32> var, Operand<TFloat32> read, Placeholder<TFloat32> feed,
      Assign<TFloat32> assign, Init init, Group group, boolean trainable) {
    this.name = name;
    this.shape = shape;
    this.var = var;
    this.read = read;
    this.feed = feed;
    this.assign = assign;
    this.init = init;
    this.group = group;
    this.trainable = trainable;
  }

  public int size() {
    return (int) shape.size();
  }

  /** Part of a checkpoint: every model variable, trainable or running statistic, but no optimizer slot. */
  public boolean inCheckpoint() {
    return group != Group.SLOT;
  }
}
