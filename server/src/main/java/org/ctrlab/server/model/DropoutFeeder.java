package org.ctrlab.server.model;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.ctrlab.server.nn.Dropout;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * Draws the dropout masks of training steps in Java ({@link Dropout#draw}) and feeds them to the graph's mask slots.
 * After feeding step t it starts drawing step t+1's masks on a background thread while TensorFlow runs step t, so
 * a step rarely waits for them. Masks depend only on (slot, step, batch size): what is fed is the same whether it
 * was drawn ahead or not. The tensors fed are closed by {@link #close()} after the step.
 */
final class DropoutFeeder implements AutoCloseable {
  private final List<Dropout.Slot> slots;
  private final float[][] buffers;
  private final List<TFloat32> open = new ArrayList<>();
  private final ExecutorService drawer;
  private CompletableFuture<Void> ahead;
  private long aheadStep = -1;
  private int aheadRows;

  DropoutFeeder(List<Dropout.Slot> slots) {
    this.slots = List.copyOf(slots);
    this.buffers = new float[slots.size()][];
    this.drawer = slots.isEmpty() ? null : Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "ctrlab-dropout-masks");
      t.setDaemon(true);
      return t;
    });
  }

  /** Feeds every slot's mask for a batch of the given size at a step, then starts drawing the next step's. */
  void feed(Session.Runner r, int batchSize, long step) {
    if (slots.isEmpty()) {
      return;
    }
    if (ahead != null) {
      try {
        ahead.join();
      } catch (RuntimeException e) {
        aheadStep = -1; // draw this step's masks here instead
      } finally {
        ahead = null;
      }
    }
    // A mask drawn ahead for at least as many rows is, in its prefix, the mask for fewer (a short last batch).
    if (aheadStep != step || aheadRows < batchSize) {
      drawAll(batchSize, step);
    }
    for (int i = 0; i < slots.size(); i++) {
      Dropout.Slot s = slots.get(i);
      int n = batchSize * s.rowSize();
      TFloat32 t = TFloat32.tensorOf(Shape.of(batchSize).append(s.rowShape()),
          DataBuffers.of(buffers[i], true, false).slice(0, n)); // copies, so the buffers are free again
      open.add(t);
      r.feed(s.mask(), t);
    }
    aheadStep = step + 1;
    aheadRows = batchSize;
    ahead = CompletableFuture.runAsync(() -> drawAll(batchSize, step + 1), drawer);
  }

  private void drawAll(int batchSize, long step) {
    for (int i = 0; i < slots.size(); i++) {
      Dropout.Slot s = slots.get(i);
      int n = Math.multiplyExact(batchSize, s.rowSize());
      if (buffers[i] == null || buffers[i].length < n) {
        buffers[i] = new float[n];
      }
      Dropout.draw(buffers[i], n, s.p(), s.key(), step);
    }
  }

  /** Closes the tensors fed since the last close. */
  @Override
  public void close() {
    open.forEach(TFloat32::close);
    open.clear();
  }

  /** Stops the background thread (the model is closing). */
  void shutdown() {
    if (drawer != null) {
      drawer.shutdownNow();
    }
  }
}
