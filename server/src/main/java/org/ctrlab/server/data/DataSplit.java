package org.ctrlab.server.data;

import java.util.SplittableRandom;

/**
 * The seeded global random split of METHOD.md section 2.1 step 9: one permutation of all interactions, then
 * floor(0.1 N) validation and floor(0.1 N) test rows, the rest (taken first) for training.
 */
public final class DataSplit {
  public final int[] train;
  public final int[] valid;
  public final int[] test;

  private DataSplit(int[] train, int[] valid, int[] test) {
    this.train = train;
    this.valid = valid;
    this.test = test;
  }

  public static DataSplit of(int rows, long seed) {
    int[] perm = permutation(rows, new SplittableRandom(seed));
    int nValid = (int) Math.floor(0.1 * rows);
    int nTest = nValid;
    int nTrain = rows - nValid - nTest;
    int[] train = new int[nTrain];
    int[] valid = new int[nValid];
    int[] test = new int[nTest];
    System.arraycopy(perm, 0, train, 0, nTrain);
    System.arraycopy(perm, nTrain, valid, 0, nValid);
    System.arraycopy(perm, nTrain + nValid, test, 0, nTest);
    return new DataSplit(train, valid, test);
  }

  public int[] rows(org.ctrlab.api.v1.Split split) {
    return switch (split) {
      case TRAIN -> train;
      case VALID -> valid;
      default -> test;
    };
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  public static int[] permutation(int n, SplittableRandom rng) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    shuffle(p, rng);
    return p;
  }

  public static void shuffle(int[] p, SplittableRandom rng) {
    for (int i = p.length - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
  }
}
