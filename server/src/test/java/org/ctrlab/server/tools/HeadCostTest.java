package org.ctrlab.server.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.ctrlab.server.TestData;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HeadCostTest {
  @Test
  void ratioIsOfTotalsAndTheIntervalSpansTheRoundRatios() {
    // Rounds of 10 steps: BINARY 100 and 200 ns, RATING 110 and 190 ns.
    var r = new HeadCost.Result("X", new long[] {100, 200}, new long[] {110, 190}, 10, null);
    assertEquals(300.0 / 300.0, r.ratio(), 1e-12);
    assertEquals(300 / 1e6 / 20, r.msPerStep(r.binaryNanos()), 1e-15);
    double[] ci = r.interval95();
    // Resampled totals range from both rounds = round 2 (190/200) to both = round 1 (110/100).
    assertTrue(ci[0] >= 0.95 - 1e-12 && ci[0] < 1.0, Arrays.toString(ci));
    assertTrue(ci[1] <= 1.10 + 1e-12 && ci[1] > 1.0, Arrays.toString(ci));
  }

  @Test
  void aConstantRatioHasAZeroWidthInterval() {
    var r = new HeadCost.Result("X", new long[] {100, 200, 400}, new long[] {105, 210, 420}, 1, null);
    assertEquals(1.05, r.ratio(), 1e-12);
    double[] ci = r.interval95();
    assertEquals(1.05, ci[0], 1e-12);
    assertEquals(1.05, ci[1], 1e-12);
  }

  /** head-cost on WideDeep over the generated data, one TensorFlow thread. */
  private static HeadCost.Result measureWideDeep(Path dir, int rounds, int steps, int warmup, int profile) {
    Dataset ds = TestData.loadSmall(dir);
    RunConfigs rc = new RunConfigs(Configs.packaged(),
        new DatasetRegistry(dir, List.of(TestData.syntheticSpec()), Map.of(), false));
    HeadCost hc = new HeadCost();
    hc.rounds = rounds;
    hc.steps = steps;
    hc.warmup = warmup;
    hc.profile = profile;
    hc.options.threads = 1;
    return hc.measure(rc, ds, "WideDeep");
  }

  @Test
  void measuresEveryRoundOfBothHeads(@TempDir Path dir) {
    HeadCost.Result r = measureWideDeep(dir, 3, 2, 1, 0);
    assertEquals(3, r.binaryNanos().length);
    assertTrue(Arrays.stream(r.binaryNanos()).allMatch(t -> t > 0), Arrays.toString(r.binaryNanos()));
    assertTrue(Arrays.stream(r.ratingNanos()).allMatch(t -> t > 0), Arrays.toString(r.ratingNanos()));
    assertTrue(r.ratio() > 0 && Double.isFinite(r.ratio()));
    assertEquals(null, r.profile());
  }

  @Test
  void profileSeparatesTheHeadsOps(@TempDir Path dir) {
    HeadCost.Profile p = measureWideDeep(dir, 1, 1, 0, 2).profile();
    // Only the RATING head's cross-entropy takes a log-sum-exp (Max, Exp, Log); both run the embedding lookup.
    Map<String, double[]> byType = p.diff(k -> k.substring(0, k.indexOf(' ')));
    for (String type : List.of("Max", "Exp", "Log")) {
      assertEquals(0.0, byType.get(type)[0], type);
      assertTrue(byType.get(type)[1] > 0, type);
    }
    assertTrue(byType.get("GatherV2")[0] > 0 && byType.get("GatherV2")[1] > 0);
  }
}
