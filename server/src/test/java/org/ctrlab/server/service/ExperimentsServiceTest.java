package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.InspectRequest;
import org.ctrlab.api.v1.LipschitzEstimate;
import org.ctrlab.api.v1.Metrics;
import org.ctrlab.api.v1.PerturbMode;
import org.ctrlab.api.v1.PerturbRequest;
import org.ctrlab.api.v1.PerturbResult;
import org.ctrlab.api.v1.PredictRequest;
import org.ctrlab.api.v1.Prediction;
import org.ctrlab.api.v1.Run;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Evaluate with ranking metrics, Perturb, Inspect's Lipschitz estimate and Predict on trained runs. */
class ExperimentsServiceTest {
  @TempDir
  static Path tmp;

  static Fixture f;
  static String binary;
  static String rating;

  @BeforeAll
  static void train() throws Exception {
    f = new Fixture(tmp);
    binary = f.stub.train(Fixture.quick().setMaxEpochs(3).build()).getRunId();
    rating = f.stub.train(Fixture.quick().setMaxEpochs(3).setHead(Head.RATING).build()).getRunId();
    ServiceTest.watch(f, binary, 0);
    ServiceTest.watch(f, rating, 0);
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void rankingMetricsAreReportedPerK() {
    Metrics m = f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(binary).addRankingK(10).addRankingK(20)
        .build()).getMetrics();
    for (String k : List.of("ndcg@10", "recall@10", "ndcg@20", "recall@20")) {
      double v = m.getRankingOrThrow(k);
      assertTrue(v > 0 && v < 1, k + " = " + v);
    }
    assertTrue(m.getRankingOrThrow("recall@20") >= m.getRankingOrThrow("recall@10"));
    Metrics again = f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(binary).addRankingK(10).build())
        .getMetrics();
    assertEquals(m.getRankingOrThrow("ndcg@10"), again.getRankingOrThrow("ndcg@10"), 1e-12);
  }

  @Test
  void perturbationDegradesWithSigmaAndIsSeeded() {
    PerturbRequest req = PerturbRequest.newBuilder().setRunId(binary).addSigmas(0).addSigmas(0.05).addSigmas(2.0)
        .setNoiseSeed(7).build();
    List<PerturbResult> r = f.stub.perturb(req).getResultsList();
    Run run = f.stub.getRun(GetRunRequest.newBuilder().setRunId(binary).build());
    assertEquals(run.getTest().getAuc(), r.get(0).getMetrics().getAuc(), 1e-6); // sigma 0 = clean test AUC
    assertTrue(r.get(2).getMetrics().getAuc() < r.get(0).getMetrics().getAuc() - 0.01, r.toString());
    assertEquals(r, f.stub.perturb(req).getResultsList()); // same seed, same noise
    List<PerturbResult> other = f.stub.perturb(req.toBuilder().setNoiseSeed(8).build()).getResultsList();
    assertTrue(other.get(1).getMetrics().getAuc() != r.get(1).getMetrics().getAuc());
    List<PerturbResult> tables = f.stub.perturb(req.toBuilder().setMode(PerturbMode.TABLES).build())
        .getResultsList();
    assertEquals(run.getTest().getAuc(), tables.get(0).getMetrics().getAuc(), 1e-6);
    assertTrue(tables.get(2).getMetrics().getAuc() < run.getTest().getAuc() - 0.01);
    // Tables are restored afterwards.
    assertEquals(run.getTest().getAuc(), f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(binary).build())
        .getMetrics().getAuc(), 1e-6);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> f.stub.perturb(PerturbRequest.newBuilder().setRunId(binary).addSigmas(-1).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
  }

  @Test
  void aCallThatChangesTheTablesHasAModelOfItsOwn() {
    Run run = f.stub.getRun(GetRunRequest.newBuilder().setRunId(binary).build());
    org.ctrlab.server.data.Dataset ds = org.ctrlab.server.TestData.loadSmall(tmp.resolve("same-data"));
    int[] rows = org.ctrlab.server.data.DataSplit.of(ds.rows, run.getResolved().getSeed()).test;
    try (ModelCache cache = new ModelCache(tmp.resolve("runs"), 1, 4);
        ModelCache.Lease own = cache.own(run, ds);
        ModelCache.Lease shared = cache.acquire(run, ds)) {
      float[] before = org.ctrlab.server.train.Trainer.evaluate(shared.model(), ds, rows, 512).scores();
      var tables = own.model().embeddingTables();
      List<float[]> zeros = new ArrayList<>();
      tables.forEach(t -> zeros.add(new float[t.size()]));
      org.ctrlab.server.nn.Net.assign(own.model().session(), tables, zeros);
      org.junit.jupiter.api.Assertions.assertArrayEquals(before,
          org.ctrlab.server.train.Trainer.evaluate(shared.model(), ds, rows, 512).scores(),
          "the shared model, serving other calls meanwhile, is untouched");
      float[] changed = org.ctrlab.server.train.Trainer.evaluate(own.model(), ds, rows, 512).scores();
      assertTrue(!java.util.Arrays.equals(before, changed), "the call's own model changed");
    }
  }

  @Test
  void lipschitzEstimateIsOrdered() {
    LipschitzEstimate l = f.stub.inspect(InspectRequest.newBuilder().setRunId(rating).setLipschitz(true)
        .setLipschitzRows(500).build()).getLipschitz();
    assertEquals(500, l.getRows());
    assertTrue(l.getMedian() > 0 && l.getMedian() <= l.getP95() && l.getP95() <= l.getMax(), l.toString());
  }

  @Test
  void predictionsStreamRowsWithRawIds() {
    List<Prediction> rows = new ArrayList<>();
    f.stub.predict(PredictRequest.newBuilder().setRunId(binary).setLimit(1000).build())
        .forEachRemaining(b -> rows.addAll(b.getRowsList()));
    assertEquals(1000, rows.size());
    List<Prediction> all = new ArrayList<>();
    f.stub.predict(PredictRequest.newBuilder().setRunId(binary).build()).forEachRemaining(b -> all.addAll(
        b.getRowsList()));
    assertEquals(f.stub.getRun(GetRunRequest.newBuilder().setRunId(binary).build()).getTest().getRows(), all.size());
    assertEquals(rows, all.subList(0, 1000));
    for (Prediction p : rows) {
      assertEquals(p.getRating() >= 4 ? 1f : 0f, p.getLabel());
      assertTrue(p.getScore() > 0 && p.getScore() < 1);
      assertTrue(Integer.parseInt(p.getUser()) >= 1 && Integer.parseInt(p.getItem()) >= 1);
    }
  }
}
