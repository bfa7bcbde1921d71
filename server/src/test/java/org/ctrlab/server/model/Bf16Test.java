package org.ctrlab.server.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.Head;
import org.ctrlab.server.Devices;
import org.ctrlab.server.TestData;
import org.ctrlab.server.data.Dataset;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bf16 training: where the CPU has it, the session's graph really computes in bfloat16 (the rewrite's casts are in
 * the step that runs) while the variables stay float32 and still learn; without the flag nothing is cast.
 */
class Bf16Test {
  @TempDir
  static Path tmp;

  static Dataset data;

  @BeforeAll
  static void load() throws Exception {
    data = TestData.loadSmall(tmp);
  }

  /** The names of the ops a traced training step ran that the bf16 rewrite inserted. */
  static List<String> casts(CtrModel m) {
    int[] rows = new int[512];
    Arrays.setAll(rows, i -> i * 7 % data.rows);
    try (BatchFeeder f = new BatchFeeder(data, rows.length)) {
      f.fill(rows, 0, rows.length);
      Map<String, Double> ops = m.profileStep(f, 1e-3f, 1);
      return ops.keySet().stream().filter(k -> k.contains("Bf16") || k.contains("BF16")).toList();
    }
  }

  static ModelConfig config(boolean bf16) {
    return new ModelConfig("DCNV2", BackbonesTest.small("DCNV2"), Head.RATING, Aggregation.LOGIT_SUM, 0.7, 8, 0.0,
        3, 2, bf16);
  }

  @Test
  void float32RunsAreNotCast() {
    try (CtrModel m = new CtrModel(config(false), data)) {
      assertEquals(List.of(), casts(m));
    }
  }

  @Test
  void bf16RunsComputeInBf16WithFloat32MasterWeights() {
    Assumptions.assumeFalse(Devices.bf16().isEmpty(), "SKIPPED: this CPU cannot train in bf16 ("
        + Devices.noBf16Reason() + "); the server refuses bf16 runs here, which ServiceTest checks");
    try (CtrModel m = new CtrModel(config(true), data)) {
      List<float[]> before = m.snapshot();
      List<String> casts = casts(m);
      assertFalse(casts.isEmpty(), "the step ran no bf16 cast: the rewrite did not happen");
      List<float[]> after = m.snapshot();
      // float32 master weights: the checkpointed variables are float32 and the step changed them.
      assertEquals(before.size(), after.size());
      boolean changed = false;
      for (int i = 0; i < before.size(); i++) {
        changed |= !Arrays.equals(before.get(i), after.get(i));
      }
      assertTrue(changed, "the step updated the float32 weights");
    }
  }
}
