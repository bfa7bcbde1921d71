package org.ctrlab.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MetricsTest {
  /** AUC as the probability that a random positive outscores a random negative, ties counting one half. */
  static double pairwiseAuc(float[] s, float[] y) {
    double num = 0;
    long pairs = 0;
    for (int i = 0; i < s.length; i++) {
      for (int j = 0; j < s.length; j++) {
        if (y[i] == 1 && y[j] == 0) {
          pairs++;
          num += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
        }
      }
    }
    return num / pairs;
  }

  @Test
  void aucWithTiesMatchesPairwiseCount() {
    float[] s = {0.1f, 0.4f, 0.35f, 0.8f, 0.4f, 0.4f, 0.1f, 0.9f, 0.35f, 0.0f};
    float[] y = {0, 0, 1, 1, 1, 0, 1, 1, 0, 0};
    // By hand: 5 positives x 5 negatives; wins+ties/2 per positive 2.5, 5, 4, 1.5, 5 = 18 of 25.
    assertEquals(0.72, pairwiseAuc(s, y), 1e-12);
    assertEquals(0.72, Metrics.auc(s, y, s.length), 1e-12);
  }

  @Test
  void aucMatchesPairwiseOnRandomScoresWithManyTies() {
    SplittableRandom r = new SplittableRandom(1);
    float[] s = new float[400];
    float[] y = new float[400];
    for (int i = 0; i < s.length; i++) {
      s[i] = r.nextInt(20) / 20f - 0.5f; // negative and positive scores, many ties, including -0/0
      y[i] = r.nextDouble() < 0.4 ? 1 : 0;
    }
    assertEquals(pairwiseAuc(s, y), Metrics.auc(s, y, s.length), 1e-12);
  }

  @Test
  void aucIsNanWithOneClass() {
    assertTrue(Double.isNaN(Metrics.auc(new float[] {0.2f, 0.3f}, new float[] {1, 1}, 2)));
  }

  @Test
  void loglossByHandWithClipping() {
    float[] s = {0.9f, 0.2f, 1.0f, 0.0f};
    float[] y = {1, 0, 0, 0};
    // p = 1 with y = 0 is clipped to 1 - 1e-15, whose complement in double is 9.992e-16.
    double expected = (-Math.log(0.9f) - Math.log(1 - (double) 0.2f) - Math.log(1 - (1 - 1e-15)) - Math.log(1)) / 4;
    assertEquals(expected, Metrics.logloss(s, y, 4), 1e-9);
  }
}
