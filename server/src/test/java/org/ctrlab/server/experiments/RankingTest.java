package org.ctrlab.server.experiments;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ctrlab.server.TestData;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RankingTest {
  @TempDir
  Path tmp;

  static double lg(int r) {
    return Math.log(r + 1) / Math.log(2);
  }

  @Test
  void ndcgAndRecallOfOneUserByHand() {
    // Six candidates; relevant ones score 0.9 (rank 1) and 0.5 (rank 4); a third relevant one ranks last.
    float[] s = {0.5f, 0.9f, 0.7f, 0.6f, 0.1f, 0.05f};
    boolean[] rel = {true, true, false, false, false, true};
    double[] at3 = Ranking.userMetrics(s, rel, 3);
    // Top 3: 0.9 (rel), 0.7, 0.6 -> DCG = 1/log2(2) = 1; IDCG@3 with 3 positives = 1 + 1/log2(3) + 1/log2(4).
    assertEquals(1 / (1 + 1 / lg(2) + 1 / lg(3)), at3[0], 1e-12);
    assertEquals(1 / 3.0, at3[1], 1e-12);
    double[] at5 = Ranking.userMetrics(s, rel, 5);
    // Ranks 1 and 4 hit: DCG = 1 + 1/log2(5); recall = 2/3 (denominator is all positives, not min(P, K)).
    assertEquals((1 + 1 / lg(4)) / (1 + 1 / lg(2) + 1 / lg(3)), at5[0], 1e-12);
    assertEquals(2 / 3.0, at5[1], 1e-12);
  }

  @Test
  void metricsAverageOverUsers() {
    Ranking.Candidates c = new Ranking.Candidates(new int[5], new int[5],
        new boolean[] {true, false, false, true, false}, new int[] {0, 3, 5});
    float[] scores = {0.9f, 0.1f, 0.2f, 0.3f, 0.8f}; // user 1 ranks its positive first, user 2 second
    Map<String, Double> m = Ranking.metrics(scores, c, List.of(1, 2));
    assertEquals(0.5, m.get("recall@1"), 1e-12);
    assertEquals(1.0, m.get("recall@2"), 1e-12);
    assertEquals((1 + 1 / lg(2)) / 2, m.get("ndcg@2"), 1e-12);
  }

  @Test
  void candidatesAreTestPositivesAndUnusedSampledItems() {
    Dataset ds = TestData.loadSmall(tmp);
    DataSplit split = DataSplit.of(ds.rows, 4);
    Ranking.Candidates c = Ranking.candidates(ds, split, 100, 11);
    long[] used = Ranking.usedPairs(ds, split);
    Set<Integer> usersWithPositives = new HashSet<>();
    for (int r : split.test) {
      if (ds.labels[r] > 0.5f) {
        usersWithPositives.add(ds.userId(r));
      }
    }
    assertEquals(usersWithPositives.size(), c.users());
    int positives = 0;
    for (int u = 0; u < c.users(); u++) {
      Set<Integer> items = new HashSet<>();
      int user = ds.userId(c.baseRows()[c.userStart()[u]]);
      for (int q = c.userStart()[u]; q < c.userStart()[u + 1]; q++) {
        int item = ds.itemId(c.itemRows()[q]);
        assertTrue(items.add(item), "duplicate candidate");
        assertEquals(user, ds.userId(c.baseRows()[q]));
        boolean isUsed = Arrays.binarySearch(used, ((long) user << 32) | item) >= 0;
        // Relevant candidates are the user's test positives (used); every other one is an unused item.
        assertEquals(c.relevant()[q], isUsed);
        positives += c.relevant()[q] ? 1 : 0;
      }
    }
    assertEquals(Arrays.stream(split.test).filter(r -> ds.labels[r] > 0.5f).count(), positives);
    // Seeded: the same seed draws the same candidates.
    assertArrayEquals(c.itemRows(), Ranking.candidates(ds, split, 100, 11).itemRows());
  }
}
