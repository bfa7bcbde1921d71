package org.ctrlab.server.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.ctrlab.server.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The prepared dataset a worker maps from disk is the one the server prepared, until a source file changes. */
class DatasetCacheTest {
  @TempDir
  Path tmp;

  DatasetRegistry registry(Path data, Path cache) {
    return new DatasetRegistry(data, List.of(TestData.syntheticSpec()), Map.of(), false, cache);
  }

  static void assertSame(Dataset a, Dataset b) {
    assertEquals(a.name, b.name);
    assertEquals(a.fields, b.fields);
    assertEquals(a.rows, b.rows);
    assertArrayEquals(a.tokens, b.tokens);
    assertEquals(a.seqs.length, b.seqs.length);
    for (int s = 0; s < a.seqs.length; s++) {
      assertArrayEquals(a.seqs[s], b.seqs[s]);
    }
    assertArrayEquals(a.seqLens, b.seqLens);
    assertArrayEquals(a.floats, b.floats);
    assertArrayEquals(a.ratings, b.ratings);
    assertArrayEquals(a.labels, b.labels);
    assertArrayEquals(a.ratingClasses, b.ratingClasses);
    assertEquals(a.userColumn, b.userColumn);
    assertEquals(a.itemColumn, b.itemColumn);
    assertArrayEquals(a.userTokens, b.userTokens);
    assertArrayEquals(a.itemTokens, b.itemTokens);
  }

  @Test
  void aCachedDatasetIsReadBackIdenticalAndRebuiltWhenItsFilesChange() throws Exception {
    Path data = tmp.resolve("data");
    Path cache = tmp.resolve("cache");
    TestData.small().write(data.resolve("synthetic"));
    Dataset built = registry(data, cache).load("synthetic");
    Path file = DatasetCache.file(cache, TestData.syntheticSpec(), data.resolve("synthetic"));
    assertTrue(Files.isRegularFile(file));
    Dataset mapped = DatasetCache.read(file).orElseThrow();
    assertSame(built, mapped);
    assertSame(built, registry(data, cache).load("synthetic"));

    // A source file touched: another key, prepared again, and the stale preparation removed.
    Path ratings = data.resolve("synthetic").resolve("ratings.dat");
    Files.setLastModifiedTime(ratings, FileTime.fromMillis(Files.getLastModifiedTime(ratings).toMillis() + 5000));
    Path again = DatasetCache.file(cache, TestData.syntheticSpec(), data.resolve("synthetic"));
    assertNotEquals(file, again);
    registry(data, cache).load("synthetic");
    assertTrue(Files.isRegularFile(again));
    assertTrue(Files.notExists(file));
  }

  @Test
  void aDamagedCacheFileIsIgnored() throws Exception {
    Path data = tmp.resolve("data");
    Path cache = tmp.resolve("cache");
    TestData.small().write(data.resolve("synthetic"));
    Dataset built = registry(data, cache).load("synthetic");
    Path file = DatasetCache.file(cache, TestData.syntheticSpec(), data.resolve("synthetic"));
    byte[] b = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(b, b.length / 3));
    assertTrue(DatasetCache.read(file).isEmpty());
    assertSame(built, registry(data, cache).load("synthetic"));
  }
}
