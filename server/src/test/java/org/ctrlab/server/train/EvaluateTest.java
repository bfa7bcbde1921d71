package org.ctrlab.server.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import org.ctrlab.api.v1.Head;
import org.ctrlab.server.TestData;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.model.BatchFeeder;
import org.ctrlab.server.model.CtrModel;
import org.junit.jupiter.api.Test;

/** Evaluation runs two callers on a two-thread model; the scores are the ones a batch-by-batch loop gives. */
class EvaluateTest {
  static final Dataset data = TestData.sharedSmall();

  @Test
  void concurrentCallersScoreEveryRowInItsPlace() {
    // threads = 2 in ResumeTest's config: two callers take the 100-row batches in turn.
    try (CtrModel m = new CtrModel(ResumeTest.config(Head.RATING), data)) {
      int[] rows = DataSplit.of(data.rows, 3).test;
      float[] expected = new float[rows.length];
      try (BatchFeeder f = new BatchFeeder(data, 100)) {
        for (int from = 0; from < rows.length; from += 100) {
          f.fill(rows, from, Math.min(rows.length, from + 100));
          m.predict(f, expected, from);
        }
      }
      Trainer.Evaluation e = Trainer.evaluate(m, data, rows, 100);
      assertEquals(rows.length, e.rows());
      assertArrayEquals(expected, e.scores(), 1e-6f);
      assertEquals(e.auc(), Trainer.evaluate(m, data, rows, rows.length).auc(), 1e-6, "one batch: one caller");
    }
  }

  @Test
  void cancellingStopsEveryCaller() {
    try (CtrModel m = new CtrModel(ResumeTest.config(Head.BINARY), data)) {
      int[] rows = DataSplit.of(data.rows, 3).test;
      AtomicInteger polls = new AtomicInteger();
      assertThrows(CancellationException.class,
          () -> Trainer.evaluate(m, data, rows, 50, () -> polls.incrementAndGet() > 3));
      int after = polls.get();
      assertTrue(after < rows.length / 50, "stopped early: " + after + " polls");
      // Nothing keeps running once it has thrown: the count does not move.
      assertEquals(after, polls.get());
    }
  }

  @Test
  void aFailureInTheOtherCallerReachesTheCallerAndStopsBoth() {
    try (CtrModel m = new CtrModel(ResumeTest.config(Head.BINARY), data)) {
      int[] rows = DataSplit.of(data.rows, 3).test;
      AtomicInteger polls = new AtomicInteger();
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> Trainer.evaluate(m, data, rows, 20,
          () -> {
            polls.incrementAndGet();
            if (Thread.currentThread().getName().equals("ctrlab-eval")) {
              throw new IllegalStateException("the extra caller failed");
            }
            return false;
          }));
      assertEquals("the extra caller failed", e.getMessage());
      int after = polls.get();
      assertTrue(after < rows.length / 20, "stopped early: " + after + " polls of " + rows.length / 20);
      assertEquals(after, polls.get(), "nothing runs after evaluate has thrown");
    }
  }

  @Test
  void aValidationSplitWithOneLabelIsRefusedBeforeTraining() {
    int[] valid = DataSplit.of(data.rows, 3).valid;
    int[] negatives = java.util.Arrays.stream(valid).filter(r -> data.labels[r] < 0.5f).toArray();
    int[] positives = java.util.Arrays.stream(valid).filter(r -> data.labels[r] > 0.5f).toArray();
    Trainer.requireBothClasses(data, valid);
    RunFailure e = assertThrows(RunFailure.class, () -> Trainer.requireBothClasses(data, negatives));
    assertTrue(e.getMessage().contains("only non-clicks (label 0)"), e.getMessage());
    e = assertThrows(RunFailure.class, () -> Trainer.requireBothClasses(data, positives));
    assertTrue(e.getMessage().contains("only clicks (label 1)"), e.getMessage());
    assertThrows(RunFailure.class, () -> Trainer.requireBothClasses(data, new int[0]));
  }
}
