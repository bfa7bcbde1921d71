package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.Metrics;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.junit.jupiter.api.Test;

/** The runs table's rows, order and shared columns, from hand-made records. */
class RunTableTest {
  static Run run(String id, Head head, long seed, RunState state, Double testAuc) {
    Run.Builder b = Run.newBuilder().setRunId(id).setOwner("alice").setState(state).setCreatedUnixMs(1000 + seed)
        .setRequest(TrainRequest.newBuilder().setName("n").addTags("t"))
        .setResolved(ResolvedConfig.newBuilder().setDataset("ml-1m").setBackbone("DCNV2").setHead(head)
            .setRatingWeight(0.7).setSeed(seed));
    if (testAuc != null) {
      b.setTest(Metrics.newBuilder().setAuc(testAuc)).setValid(Metrics.newBuilder().setAuc(testAuc - 0.01));
    }
    return b.build();
  }

  @Test
  void aRowShowsWhatIsThereAndNothingElse() {
    RunTable.Row done = RunTable.row(run("a", Head.RATING, 1, RunState.SUCCEEDED, 0.8), null, "s1");
    assertEquals(0.7, done.ratingWeight());
    assertEquals(0.8, done.testAuc());
    assertNull(done.queuePosition());
    assertEquals("s1", done.study());
    RunTable.Row binary = RunTable.row(run("b", Head.BINARY, 1, RunState.QUEUED, null), 3, "");
    assertNull(binary.ratingWeight(), "a BINARY run has no rating weight");
    assertEquals(3, binary.queuePosition());
    assertNull(binary.testAuc());
    // A running run: no test metrics yet, its best validation AUC so far.
    Run running = run("c", Head.BINARY, 1, RunState.RUNNING, null).toBuilder()
        .addEpochs(EpochResult.newBuilder().setEpoch(1).setValidAuc(0.71))
        .addEpochs(EpochResult.newBuilder().setEpoch(2).setValidAuc(0.74))
        .addEpochs(EpochResult.newBuilder().setEpoch(3).setValidAuc(0.73)).build();
    RunTable.Row r = RunTable.row(running, 7, "");
    assertEquals(0.74, r.validAuc());
    assertNull(r.queuePosition(), "only a queued run has a queue position");
    assertNull(r.testAuc());
  }

  @Test
  void sortingPutsEmptyValuesLastInBothDirections() {
    List<RunTable.Row> rows = new ArrayList<>(List.of(
        RunTable.row(run("a", Head.BINARY, 1, RunState.SUCCEEDED, 0.80), null, ""),
        RunTable.row(run("b", Head.BINARY, 2, RunState.QUEUED, null), 0, ""),
        RunTable.row(run("c", Head.BINARY, 3, RunState.SUCCEEDED, 0.82), null, ""),
        RunTable.row(run("d", Head.BINARY, 4, RunState.SUCCEEDED, 0.79), null, "")));
    RunTable.sort(rows, "test_auc", true);
    assertEquals(List.of("c", "a", "d", "b"), rows.stream().map(RunTable.Row::runId).toList());
    RunTable.sort(rows, "test_auc", false);
    assertEquals(List.of("d", "a", "c", "b"), rows.stream().map(RunTable.Row::runId).toList());
    RunTable.sort(rows, "seed", true); // numbers as numbers
    assertEquals(List.of("d", "c", "b", "a"), rows.stream().map(RunTable.Row::runId).toList());
    RunTable.sort(rows, "state", false); // text as text
    assertEquals("QUEUED", rows.get(0).state());
  }

  @Test
  void sharedColumnsAreThoseEveryRowAgreesOn() {
    List<RunTable.Row> rows = List.of(
        RunTable.row(run("a", Head.RATING, 1, RunState.SUCCEEDED, 0.80), null, ""),
        RunTable.row(run("b", Head.RATING, 2, RunState.SUCCEEDED, 0.81), null, ""));
    Map<String, Object> shared = RunTable.shared(rows);
    assertEquals("RATING", shared.get("head"));
    assertEquals("DCNV2", shared.get("backbone"));
    assertEquals(0.7, shared.get("rating_weight"));
    assertFalse(shared.containsKey("seed"));
    assertFalse(shared.containsKey("run_id"));
    assertTrue(RunTable.shared(rows.subList(0, 1)).isEmpty(), "one run shares nothing with others");
  }

  @Test
  void aQueryWithAnUnknownColumnOrHeadIsRefused() {
    var e = assertThrows(IllegalArgumentException.class, () -> new RunTable.Query(null, null, null, null, null, null,
        null, null, "nope", true, 0, 0));
    assertTrue(e.getMessage().startsWith("unknown sort column 'nope'; use one of run_id, owner"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new RunTable.Query(null, null, null, null, "SMOOTH", null,
        null, null, null, true, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new RunTable.Query(null, null, null, null, null, null,
        null, null, null, true, -1, 0));
  }
}
