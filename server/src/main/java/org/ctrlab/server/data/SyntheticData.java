package org.ctrlab.server.data;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Writes a MovieLens-shaped dataset in GroupLens form with planted structure, so that tests and the built-in demo
 * exercise the real parsers and a model has something to learn: a rating comes from a user-item latent dot product,
 * an item bias, and a gender x genre affinity, plus noise, cut at the quantiles of ML-1M's rating distribution.
 */
public final class SyntheticData {
  static final String[] GENRES = {"Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
      "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
      "Thriller", "War", "Western"};
  private static final int[] AGES = {1, 18, 25, 35, 45, 50, 56};
  /** Cumulative share of ratings 1..4 in ML-1M (the rest are 5s). */
  private static final double[] CUTS = {0.0562, 0.1637, 0.4248, 0.7737};

  public final int users;
  public final int items;
  public final int minPerUser;
  public final int maxPerUser;
  public final long seed;

  public SyntheticData(int users, int items, int minPerUser, int maxPerUser, long seed) {
    this.users = users;
    this.items = items;
    this.minPerUser = minPerUser;
    this.maxPerUser = maxPerUser;
    this.seed = seed;
  }

  /** The built-in default: 3,000 users, 800 movies, about 120,000 ratings. */
  public static SyntheticData standard() {
    return new SyntheticData(3000, 800, 20, 60, 42);
  }

  /** Writes ratings.dat, users.dat and movies.dat into dir; returns the number of ratings. */
  public int write(Path dir) {
    SplittableRandom rng = new SplittableRandom(seed);
    int dim = 4;
    double[][] a = gaussians(rng, users + 1, dim);
    double[][] b = gaussians(rng, items + 1, dim);
    double[] bias = new double[items + 1];
    boolean[] female = new boolean[users + 1];
    boolean[] romance = new boolean[items + 1];
    try {
      Files.createDirectories(dir);
      try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("users.dat"), StandardCharsets.UTF_8)) {
        for (int u = 1; u <= users; u++) {
          female[u] = rng.nextDouble() < 0.3;
          w.write(u + "::" + (female[u] ? "F" : "M") + "::" + AGES[rng.nextInt(AGES.length)] + "::"
              + rng.nextInt(21) + "::" + (10000 + rng.nextInt(90000)) + "\n");
        }
      }
      try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("movies.dat"), StandardCharsets.ISO_8859_1)) {
        for (int i = 1; i <= items; i++) {
          bias[i] = 0.6 * rng.nextGaussian();
          int ng = 1 + rng.nextInt(3);
          StringBuilder g = new StringBuilder();
          for (int k = 0; k < ng; k++) {
            String genre = GENRES[rng.nextInt(GENRES.length)];
            romance[i] |= genre.equals("Romance") || genre.equals("Drama");
            g.append(k == 0 ? "" : "|").append(genre);
          }
          w.write(i + "::Movie " + i + " (" + (1950 + rng.nextInt(51)) + ")::" + g + "\n");
        }
      }
      // Choose the rated pairs, score them, and cut the scores at ML-1M's rating quantiles.
      int[] pu = new int[users * maxPerUser];
      int[] pi = new int[users * maxPerUser];
      double[] score = new double[users * maxPerUser];
      int n = 0;
      boolean[] seen = new boolean[items + 1];
      for (int u = 1; u <= users; u++) {
        int k = minPerUser + rng.nextInt(maxPerUser - minPerUser + 1);
        int[] chosen = new int[k];
        int c = 0;
        while (c < k) {
          int i = 1 + (int) (items * Math.pow(rng.nextDouble(), 1.6)); // popular items are rated more
          if (!seen[i]) {
            seen[i] = true;
            chosen[c++] = i;
          }
        }
        Arrays.sort(chosen);
        for (int i : chosen) {
          seen[i] = false;
          double dot = 0;
          for (int d = 0; d < dim; d++) {
            dot += a[u][d] * b[i][d];
          }
          double affinity = romance[i] ? (female[u] ? 0.8 : -0.4) : 0;
          pu[n] = u;
          pi[n] = i;
          score[n] = 0.7 * dot + bias[i] + affinity + 0.5 * rng.nextGaussian();
          n++;
        }
      }
      double[] sorted = Arrays.copyOf(score, n);
      Arrays.sort(sorted);
      double[] cut = new double[CUTS.length];
      for (int c = 0; c < CUTS.length; c++) {
        cut[c] = sorted[(int) (CUTS[c] * (n - 1))];
      }
      try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("ratings.dat"), StandardCharsets.UTF_8)) {
        for (int r = 0; r < n; r++) {
          int rating = 1;
          while (rating <= CUTS.length && score[r] > cut[rating - 1]) {
            rating++;
          }
          w.write(pu[r] + "::" + pi[r] + "::" + rating + "::" + (978300000 + r) + "\n");
        }
      }
      return n;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write synthetic data to " + dir, e);
    }
  }

  private static double[][] gaussians(SplittableRandom rng, int n, int dim) {
    double[][] out = new double[n][dim];
    for (double[] row : out) {
      for (int d = 0; d < dim; d++) {
        row[d] = rng.nextGaussian();
      }
    }
    return out;
  }
}
