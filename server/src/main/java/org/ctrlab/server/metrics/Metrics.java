package org.ctrlab.server.metrics;

import java.util.Arrays;

/** Predictive metrics of METHOD.md section 3.1, computed over all rows at once. */
public final class Metrics {
  private Metrics() {}

  /**
   * Global ROC-AUC: the Mann-Whitney statistic with average ranks for tied scores (equal to sklearn's trapezoidal
   * ROC-AUC). Sorts (score, index) pairs packed in longs, so no object per row. NaN if one class is absent.
   */
  public static double auc(float[] scores, float[] labels, int n) {
    long[] keys = new long[n];
    long pos = 0;
    for (int i = 0; i < n; i++) {
      keys[i] = ((long) sortable(scores[i]) << 32) | i;
      if (labels[i] > 0.5f) {
        pos++;
      }
    }
    long neg = n - pos;
    if (pos == 0 || neg == 0) {
      return Double.NaN;
    }
    Arrays.sort(keys);
    double rankSumPos = 0;
    int i = 0;
    while (i < n) {
      int j = i;
      int key = (int) (keys[i] >> 32);
      while (j + 1 < n && (int) (keys[j + 1] >> 32) == key) {
        j++;
      }
      double avgRank = (i + j) / 2.0 + 1; // ranks i+1..j+1
      for (int k = i; k <= j; k++) {
        if (labels[(int) keys[k]] > 0.5f) {
          rankSumPos += avgRank;
        }
      }
      i = j + 1;
    }
    return (rankSumPos - pos * (pos + 1) / 2.0) / ((double) pos * neg);
  }

  /** Mean binary cross-entropy with p clipped to [1e-15, 1 - 1e-15]. */
  public static double logloss(float[] scores, float[] labels, int n) {
    double eps = 1e-15;
    double sum = 0;
    for (int i = 0; i < n; i++) {
      double p = Math.min(Math.max(scores[i], eps), 1 - eps);
      sum += labels[i] > 0.5f ? -Math.log(p) : -Math.log(1 - p);
    }
    return sum / n;
  }

  /** A float's bits as an int whose signed order is the float's order (for finite floats and infinities). */
  static int sortable(float f) {
    int bits = Float.floatToIntBits(f == 0f ? 0f : f); // -0.0 and 0.0 tie
    return bits ^ ((bits >> 31) & 0x7fffffff);
  }
}
