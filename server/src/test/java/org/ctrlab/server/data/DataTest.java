package org.ctrlab.server.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ctrlab.server.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataTest {
  @TempDir
  Path tmp;

  private static DatasetSpec spec(int kcore) {
    return new DatasetSpec(Map.of("name", "tiny", "load_col", Map.of(
        "inter", List.of("user_id", "item_id", "rating"),
        "user", List.of("user_id", "age", "gender", "occupation"),
        "item", List.of("item_id", "release_year", "genre")),
        "user_kcore", kcore, "item_kcore", kcore, "threshold", 4));
  }

  private Path write(String name, String content, java.nio.charset.Charset cs) throws IOException {
    Path d = tmp.resolve("tiny");
    Files.createDirectories(d);
    Files.writeString(d.resolve(name), content, cs);
    return d;
  }

  private void groupLensTiny() throws IOException {
    write("users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n", StandardCharsets.UTF_8);
    // Movie 30 has a Latin-1 title; 40 has no rating and so drops out.
    write("movies.dat", "10::Toy Story (1995)::Animation|Children's|Comedy\n20::Heat (1995)::Action\n"
        + "30::Caf\u00e9 (1987)::Drama|Comedy\n40::Unseen (2000)::Horror\n", StandardCharsets.ISO_8859_1);
    write("ratings.dat", "1::10::5::978300760\n1::20::3::978302109\n2::10::4\n2::30::1::978301968\n"
        + "3::20::2::978300275\n3::30::4::978824291\n", StandardCharsets.UTF_8);
  }

  @Test
  void readsGroupLensFilesIntoSevenFieldsInEmbeddingOrder() throws IOException {
    groupLensTiny();
    Dataset d = DatasetRegistry.loadFrom(spec(1), tmp.resolve("tiny"));
    assertEquals(List.of("genre", "user_id", "item_id", "age", "gender", "occupation", "release_year"),
        d.fields.stream().map(Field::name).toList());
    assertEquals(6, d.rows);
    // Vocabularies count PAD: 3 users, 3 rated movies, 5 genres (Animation, Children's, Comedy, Action, Drama).
    assertEquals(4, d.userVocab());
    assertEquals(4, d.itemVocab());
    Field genre = d.fields.get(0);
    assertEquals(6, genre.vocab());
    assertEquals(3, genre.seqLen());
    assertEquals(3, d.fields.get(6).vocab()); // release years 1995 and 1987, plus PAD
    assertArrayEquals(new float[] {1, 0, 1, 0, 0, 1}, d.labels);
    assertArrayEquals(new int[] {4, 2, 3, 0, 1, 3}, d.ratingClasses);
    // Row 0 is user 1 on Toy Story: genres are the first three genre ids, PAD-free.
    assertArrayEquals(new int[] {1, 2, 3}, Arrays.copyOfRange(d.seqs[0], 0, 3));
    // Row 1 is user 1 on Heat: one genre, then PAD.
    assertArrayEquals(new int[] {4, 0, 0}, Arrays.copyOfRange(d.seqs[0], 3, 6));
    // The same user gets the same features on every row.
    assertEquals(d.tokens[3], d.tokens[d.tokenWidth + 3]);
  }

  @Test
  void kcoreIsIteratedUntilStable() {
    // Users 0,1,2; items 0,1,2. Item 2 has one rating, removing it leaves user 2 with one rating, removing that
    // leaves item 1 with one rating... the 2-core is users {0,1} x items {0,1}.
    int[] u = {0, 0, 1, 1, 2, 2, 0};
    int[] it = {0, 1, 0, 1, 1, 2, 0};
    boolean[] keep = new boolean[u.length];
    Arrays.fill(keep, true);
    DatasetBuilder.kcore(keep, u, it, 3, 3, 2, 2);
    assertArrayEquals(new boolean[] {true, true, true, true, false, false, true}, keep);
    int[] u2 = {0, 1, 1, 2};
    int[] i2 = {0, 0, 1, 1};
    boolean[] k2 = {true, true, true, true};
    DatasetBuilder.kcore(k2, u2, i2, 3, 2, 2, 2); // a chain: nothing survives a 2-core
    assertArrayEquals(new boolean[] {false, false, false, false}, k2);
  }

  @Test
  void readsRecBoleAtomicFiles() throws IOException {
    Path d = write("tiny.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        + "u1\ti1\t5\t1\nu1\ti2\t2\t2\nu2\ti1\t4\t3\n", StandardCharsets.UTF_8);
    write("tiny.user", "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        + "u1\t18\tF\t3\t11\nu2\t25\tM\t\t12\n", StandardCharsets.UTF_8);
    write("tiny.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\tgenre:token_seq\n"
        + "i1\tA B\t1990\tDrama Comedy\ni2\tC\t1991\tHorror\n", StandardCharsets.UTF_8);
    Dataset ds = DatasetRegistry.loadFrom(spec(1), d);
    assertEquals(3, ds.rows);
    assertEquals(4, ds.fields.get(0).vocab()); // Drama, Comedy, Horror + PAD
    // u2's occupation is missing: PAD id 0.
    int occ = ds.fields.stream().filter(f -> f.type() == FieldType.TOKEN).map(Field::name).toList()
        .indexOf("occupation");
    assertEquals(0, ds.tokens[2 * ds.tokenWidth + occ]);
  }

  @Test
  void malformedLineIsReportedWithFileAndLine() throws IOException {
    groupLensTiny();
    write("ratings.dat", "1::10::5::978300760\n1::20\n", StandardCharsets.UTF_8);
    DataFormatException e = assertThrows(DataFormatException.class,
        () -> DatasetRegistry.loadFrom(spec(1), tmp.resolve("tiny")));
    assertEquals("ratings.dat line 2: expected 3 or 4 fields separated by '::', found 2", e.getMessage());
    write("ratings.dat", "1::10::5::978300760\n1::20::7\n", StandardCharsets.UTF_8);
    e = assertThrows(DataFormatException.class, () -> DatasetRegistry.loadFrom(spec(1), tmp.resolve("tiny")));
    assertEquals("ratings.dat line 2: rating 7 is not a whole rating from 1 to 5", e.getMessage());
  }

  @Test
  void readsXzCompressedFiles() throws IOException {
    groupLensTiny();
    Path d = tmp.resolve("tiny");
    byte[] raw = Files.readAllBytes(d.resolve("ratings.dat"));
    try (var out = new org.tukaani.xz.XZOutputStream(Files.newOutputStream(d.resolve("ratings.dat.xz")),
        new org.tukaani.xz.LZMA2Options())) {
      out.write(raw);
    }
    Files.delete(d.resolve("ratings.dat"));
    assertEquals(6, DatasetRegistry.loadFrom(spec(1), d).rows);
  }

  @Test
  void splitIsSeededDisjointAndCutByFloor() {
    DataSplit a = DataSplit.of(1003, 2020);
    DataSplit b = DataSplit.of(1003, 2020);
    DataSplit c = DataSplit.of(1003, 2021);
    assertEquals(100, a.valid.length);
    assertEquals(100, a.test.length);
    assertEquals(803, a.train.length);
    assertArrayEquals(a.test, b.test);
    assertTrue(!Arrays.equals(a.test, c.test));
    Set<Integer> all = new HashSet<>();
    for (int[] part : new int[][] {a.train, a.valid, a.test}) {
      for (int r : part) {
        assertTrue(all.add(r), "row " + r + " in two parts");
      }
    }
    assertEquals(1003, all.size());
  }

  @Test
  void syntheticDataHasMovieLensShapeAndPlantedLabels() {
    Dataset d = TestData.loadSmall(tmp);
    assertTrue(d.rows > 10_000, "rows " + d.rows);
    double pos = 0;
    for (float l : d.labels) {
      pos += l;
    }
    // Cut at ML-1M's rating quantiles: about 57.5% of ratings are 4 or 5.
    assertEquals(0.575, pos / d.rows, 0.02);
  }

  @Test
  void movieLens1mHasThePapersCounts() {
    Path ml = Path.of("..", "..", "shared", "data", "ml-1m");
    org.junit.jupiter.api.Assumptions.assumeTrue(TextFiles.exists(ml, "ratings.dat"), "no ML-1M at " + ml);
    DatasetSpec s = org.ctrlab.server.config.Configs.packaged().datasets().get(0);
    Dataset d = DatasetRegistry.loadFrom(s, ml);
    assertEquals(998_539, d.rows);
    assertEquals(6_041, d.userVocab()); // including PAD, as Table 4 of the paper
    assertEquals(3_261, d.itemVocab());
    assertEquals(19, d.fields.get(0).vocab()); // 18 genres + PAD
  }
}
