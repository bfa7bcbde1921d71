package org.ctrlab.server.experiments;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.Field;
import org.ctrlab.server.model.BatchFeeder;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.train.Cancellation;

/**
 * Sampled ranking metrics of METHOD.md section 3.2: for every test positive (rating >= 4) of a user, draw
 * {@code negatives} item ids uniformly from 1..items-1 with replacement, rejecting the user's used items (train rows
 * of any rating, valid and test positives); a user's candidates are their test positives and the distinct draws,
 * each scored as the user's row with that item's features; Recall@K = hits@K / P_u, NDCG@K = DCG@K / IDCG@K,
 * averaged over users with a test positive.
 */
public final class Ranking {
  private Ranking() {}

  /** Candidates of all users: a row holding the candidate item, the row giving the user side, relevance, and where each user starts. */
  record Candidates(int[] itemRows, int[] baseRows, boolean[] relevant, int[] userStart) {
    int users() {
      return userStart.length - 1;
    }
  }

  public static Map<String, Double> evaluate(CtrModel model, Dataset ds, DataSplit split, List<Integer> ks,
      int negatives, long seed, int batchSize) {
    return evaluate(model, ds, split, ks, negatives, seed, batchSize, Cancellation.NONE);
  }

  public static Map<String, Double> evaluate(CtrModel model, Dataset ds, DataSplit split, List<Integer> ks,
      int negatives, long seed, int batchSize, Cancellation cancel) {
    Candidates c = candidates(ds, split, negatives, seed);
    float[] scores = score(model, ds, c, batchSize, cancel);
    return metrics(scores, c, ks);
  }

  static Candidates candidates(Dataset ds, DataSplit split, int negatives, long seed) {
    int nItems = ds.itemVocab();
    long[] used = usedPairs(ds, split);
    // One row per item, to take its features from.
    int[] itemRow = new int[nItems];
    Arrays.fill(itemRow, -1);
    for (int r = 0; r < ds.rows; r++) {
      int i = ds.itemId(r);
      if (itemRow[i] < 0) {
        itemRow[i] = r;
      }
    }
    // Test positives grouped by user, users in id order.
    int[] pos = Arrays.stream(split.test).filter(r -> ds.labels[r] > 0.5f).toArray();
    long[] byUser = new long[pos.length];
    for (int k = 0; k < pos.length; k++) {
      byUser[k] = ((long) ds.userId(pos[k]) << 32) | pos[k];
    }
    Arrays.sort(byUser);
    SplittableRandom rng = new SplittableRandom(seed);
    IntList items = new IntList();
    IntList bases = new IntList();
    BoolList rel = new BoolList();
    IntList starts = new IntList();
    boolean[] mark = new boolean[nItems];
    int k = 0;
    while (k < byUser.length) {
      int user = (int) (byUser[k] >>> 32);
      int end = k;
      while (end < byUser.length && (int) (byUser[end] >>> 32) == user) {
        end++;
      }
      starts.add(items.size);
      int base = (int) byUser[k];
      int from = items.size;
      for (int q = k; q < end; q++) {
        int item = ds.itemId((int) byUser[q]);
        if (!mark[item]) {
          mark[item] = true;
          items.add(itemRow[item]);
          bases.add(base);
          rel.add(true);
        }
      }
      for (int q = k; q < end; q++) {
        for (int n = 0; n < negatives; n++) {
          int item = -1;
          for (int tries = 0; tries < 10_000; tries++) {
            int cand = 1 + rng.nextInt(nItems - 1);
            if (Arrays.binarySearch(used, ((long) user << 32) | cand) < 0) {
              item = cand;
              break;
            }
          }
          if (item > 0 && !mark[item] && itemRow[item] >= 0) {
            mark[item] = true;
            items.add(itemRow[item]);
            bases.add(base);
            rel.add(false);
          }
        }
      }
      for (int q = from; q < items.size; q++) {
        mark[ds.itemId(items.data[q])] = false;
      }
      k = end;
    }
    starts.add(items.size);
    return new Candidates(items.trim(), bases.trim(), rel.trim(), starts.trim());
  }

  /** Sorted (user << 32 | item) keys of every user's used items. */
  static long[] usedPairs(Dataset ds, DataSplit split) {
    long[] keys = new long[split.train.length + split.valid.length + split.test.length];
    int n = 0;
    for (int r : split.train) {
      keys[n++] = ((long) ds.userId(r) << 32) | ds.itemId(r);
    }
    for (int[] part : new int[][] {split.valid, split.test}) {
      for (int r : part) {
        if (ds.labels[r] > 0.5f) {
          keys[n++] = ((long) ds.userId(r) << 32) | ds.itemId(r);
        }
      }
    }
    keys = Arrays.copyOf(keys, n);
    Arrays.sort(keys);
    return keys;
  }

  static float[] score(CtrModel model, Dataset ds, Candidates c, int batchSize) {
    return score(model, ds, c, batchSize, Cancellation.NONE);
  }

  static float[] score(CtrModel model, Dataset ds, Candidates c, int batchSize, Cancellation cancel) {
    List<Field> tok = ds.tokenFields();
    List<Field> seq = ds.seqFields();
    List<Field> flt = ds.floatFields();
    boolean[] tokFromItem = new boolean[tok.size()];
    for (int i = 0; i < tokFromItem.length; i++) {
      tokFromItem[i] = i == ds.itemColumn || tok.get(i).source().equals("item");
    }
    boolean[] seqFromItem = new boolean[seq.size()];
    for (int i = 0; i < seqFromItem.length; i++) {
      seqFromItem[i] = seq.get(i).source().equals("item");
    }
    boolean[] fltFromItem = new boolean[flt.size()];
    for (int i = 0; i < fltFromItem.length; i++) {
      fltFromItem[i] = flt.get(i).source().equals("item");
    }
    float[] scores = new float[c.itemRows().length];
    try (BatchFeeder f = new BatchFeeder(ds, batchSize)) {
      for (int from = 0; from < scores.length; from += batchSize) {
        cancel.check();
        int n = Math.min(batchSize, scores.length - from);
        for (int j = 0; j < n; j++) {
          f.fillMixed(j, c.baseRows()[from + j], c.itemRows()[from + j], tokFromItem, seqFromItem, fltFromItem);
        }
        f.setSize(n);
        model.predict(f, scores, from);
      }
    }
    return scores;
  }

  static Map<String, Double> metrics(float[] scores, Candidates c, List<Integer> ks) {
    double[] ndcg = new double[ks.size()];
    double[] recall = new double[ks.size()];
    for (int u = 0; u < c.users(); u++) {
      int from = c.userStart()[u];
      int to = c.userStart()[u + 1];
      float[] s = Arrays.copyOfRange(scores, from, to);
      boolean[] rel = Arrays.copyOfRange(c.relevant(), from, to);
      for (int q = 0; q < ks.size(); q++) {
        double[] nr = userMetrics(s, rel, ks.get(q));
        ndcg[q] += nr[0];
        recall[q] += nr[1];
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    for (int q = 0; q < ks.size(); q++) {
      out.put("ndcg@" + ks.get(q), ndcg[q] / c.users());
      out.put("recall@" + ks.get(q), recall[q] / c.users());
    }
    return out;
  }

  /** NDCG@K and Recall@K of one user's candidates (higher score ranks first; ties keep candidate order). */
  public static double[] userMetrics(float[] scores, boolean[] relevant, int k) {
    int n = scores.length;
    long[] keys = new long[n];
    int positives = 0;
    for (int i = 0; i < n; i++) {
      keys[i] = ((long) sortableDescending(scores[i]) << 32) | i;
      positives += relevant[i] ? 1 : 0;
    }
    Arrays.sort(keys);
    double dcg = 0;
    int hits = 0;
    for (int r = 0; r < Math.min(k, n); r++) {
      if (relevant[(int) keys[r]]) {
        hits++;
        dcg += 1 / log2(r + 2);
      }
    }
    double idcg = 0;
    for (int r = 0; r < Math.min(positives, k); r++) {
      idcg += 1 / log2(r + 2);
    }
    return new double[] {idcg == 0 ? 0 : dcg / idcg, positives == 0 ? 0 : hits / (double) positives};
  }

  private static double log2(double x) {
    return Math.log(x) / Math.log(2);
  }

  private static int sortableDescending(float f) {
    int bits = Float.floatToIntBits(f == 0f ? 0f : f);
    int asc = bits ^ ((bits >> 31) & 0x7fffffff);
    return ~asc;
  }

  private static final class IntList {
    int[] data = new int[1024];
    int size;

    void add(int v) {
      if (size == data.length) {
        data = Arrays.copyOf(data, size * 2);
      }
      data[size++] = v;
    }

    int[] trim() {
      return Arrays.copyOf(data, size);
    }
  }

  private static final class BoolList {
    boolean[] data = new boolean[1024];
    int size;

    void add(boolean v) {
      if (size == data.length) {
        data = Arrays.copyOf(data, size * 2);
      }
      data[size++] = v;
    }

    boolean[] trim() {
      return Arrays.copyOf(data, size);
    }
  }

}
