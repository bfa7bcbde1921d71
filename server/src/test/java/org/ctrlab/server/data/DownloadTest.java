package org.ctrlab.server.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GroupLens-style download path, against a zip served from loopback. */
class DownloadTest {
  @TempDir
  Path tmp;

  HttpServer http;
  byte[] zip;

  @BeforeEach
  void serve() throws Exception {
    Path src = tmp.resolve("src");
    new SyntheticData(60, 40, 12, 20, 5).write(src);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(bytes)) {
      for (String f : List.of("ratings.dat", "users.dat", "movies.dat")) {
        z.putNextEntry(new ZipEntry("ml-1m/" + f)); // GroupLens puts the files in a folder
        z.write(Files.readAllBytes(src.resolve(f)));
        z.closeEntry();
      }
    }
    zip = bytes.toByteArray();
    http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    http.createContext("/ml-1m.zip", ex -> {
      ex.sendResponseHeaders(200, zip.length);
      ex.getResponseBody().write(zip);
      ex.close();
    });
    http.start();
  }

  @AfterEach
  void stop() {
    http.stop(0);
  }

  String url() {
    return "http://127.0.0.1:" + http.getAddress().getPort() + "/ml-1m.zip";
  }

  DatasetSpec spec(String md5) {
    return new DatasetSpec(Map.of("name", "ml-1m", "load_col", Map.of(
        "inter", List.of("user_id", "item_id", "rating"),
        "user", List.of("user_id", "age", "gender", "occupation"),
        "item", List.of("item_id", "release_year", "genre")),
        "user_kcore", 1, "item_kcore", 1, "download", Map.of("url", url(), "md5", md5)));
  }

  @Test
  void fetchesChecksAndUnpacksAMissingDataset() throws Exception {
    String md5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(zip));
    Path data = tmp.resolve("data");
    DatasetRegistry reg = new DatasetRegistry(data, List.of(spec(md5)), Map.of(), true);
    assertFalse(reg.available("ml-1m"));
    Dataset d = reg.load("ml-1m");
    assertTrue(d.rows > 500);
    assertTrue(Files.exists(data.resolve("ml-1m").resolve("ratings.dat")));
    try (var files = Files.list(data)) {
      assertEquals(List.of(data.resolve("ml-1m")), files.toList()); // no temporary file left behind
    }
  }

  @Test
  void aWrongChecksumLeavesNothingBehind() {
    Path data = tmp.resolve("data");
    DatasetRegistry reg = new DatasetRegistry(data, List.of(spec("00000000000000000000000000000000")), Map.of(),
        true);
    DatasetRegistry.MissingException e = assertThrows(DatasetRegistry.MissingException.class,
        () -> reg.load("ml-1m"));
    assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
    assertFalse(Files.exists(data.resolve("ml-1m")));
  }
}
