package org.ctrlab.server.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt64;

/**
 * The randomness of a net's training pass: a key per random op (from the run's seed and the op's index, so that
 * runs repeat), the step counter that with an op's key seeds its stateless draws, and the dropout masks a training
 * pass may feed instead. In towers, every tower's random ops get the first tower's keys, so that a layer's mask is
 * one mask over the whole batch, each tower taking its rows of it.
 */
public final class RandomOps {
  private final long seed;
  private final Operand<TInt64> step;
  private long keys;
  private long towerKeys = -1;
  private long towerKeysEnd;
  private final List<Dropout.Slot> slots = new ArrayList<>();
  private final Map<Long, Dropout.Slot> slotsByKey = new HashMap<>();

  RandomOps(Ops tf, long seed) {
    this.seed = seed;
    this.step = tf.withName("rng_step").placeholderWithDefault(tf.constant(0L), Shape.scalar());
  }

  /**
   * The counter that, with an op's key, seeds the stateless random ops of a training pass (dropout masks): the
   * trainer feeds the global step, so every step draws fresh masks and a run repeats exactly. Defaults to 0.
   */
  public Operand<TInt64> step() {
    return step;
  }

  /** A key for the next random op, from the run's seed and the op's index. */
  public long nextKey() {
    return seed * 0x9E3779B97F4A7C15L + (++keys);
  }

  /** The [2] seed of a stateless random op: its key and the step. */
  public Operand<TInt64> statelessSeed(Ops tf, long key) {
    return tf.stack(List.of(tf.constant(key), step));
  }

  /** Registers a dropout mask that a training pass may feed. */
  public void addDropoutSlot(Dropout.Slot slot) {
    slots.add(slot);
    slotsByKey.put(slot.key(), slot);
  }

  /** The dropout slot registered under a random op's key, or null. */
  public Dropout.Slot dropoutSlot(long key) {
    return slotsByKey.get(key);
  }

  public List<Dropout.Slot> dropoutSlots() {
    return Collections.unmodifiableList(slots);
  }

  /** A tower starts: from the second on, its keys repeat the first tower's. */
  void startTower() {
    if (towerKeys < 0) {
      towerKeys = keys;
    } else {
      towerKeysEnd = Math.max(towerKeysEnd, keys);
      keys = towerKeys;
    }
  }

  /** The towers of a pass end: later ops get fresh keys, past every tower's. */
  void endTowers() {
    keys = Math.max(towerKeysEnd, keys);
    towerKeys = -1;
    towerKeysEnd = 0;
  }
}
