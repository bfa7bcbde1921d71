package org.ctrlab.server.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Fetches a dataset archive (such as GroupLens' ml-1m.zip) into a data directory, checks its MD5, and unpacks its
 * files flat into the dataset folder. Nothing is left behind when the download or the check fails.
 */
public final class Downloader {
  private Downloader() {}

  public static void fetchZip(String url, String md5, Path dir) throws IOException {
    Files.createDirectories(dir.getParent() == null ? dir : dir.getParent());
    Path tmp = Files.createTempFile(dir.getParent() == null ? Path.of(".") : dir.getParent(), "download", ".zip");
    try {
      HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
          .connectTimeout(Duration.ofSeconds(20)).build();
      HttpResponse<InputStream> resp;
      try {
        resp = client.send(HttpRequest.newBuilder(URI.create(url)).GET().build(),
            HttpResponse.BodyHandlers.ofInputStream());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("download of " + url + " interrupted", e);
      }
      if (resp.statusCode() != 200) {
        resp.body().close();
        throw new IOException("download of " + url + " failed: HTTP " + resp.statusCode());
      }
      MessageDigest digest = md5();
      try (InputStream in = new DigestInputStream(resp.body(), digest);
          OutputStream out = Files.newOutputStream(tmp)) {
        in.transferTo(out);
      }
      String got = HexFormat.of().formatHex(digest.digest());
      if (md5 != null && !md5.equalsIgnoreCase(got)) {
        throw new IOException("checksum mismatch for " + url + ": expected MD5 " + md5 + ", got " + got);
      }
      Path staging = Files.createTempDirectory(tmp.getParent(), "unpack");
      try {
        try (ZipInputStream zin = new ZipInputStream(Files.newInputStream(tmp))) {
          ZipEntry e;
          while ((e = zin.getNextEntry()) != null) {
            if (e.isDirectory()) {
              continue;
            }
            String name = Path.of(e.getName()).getFileName().toString();
            Files.copy(zin, staging.resolve(name), StandardCopyOption.REPLACE_EXISTING);
          }
        }
        Files.createDirectories(dir);
        try (var files = Files.list(staging)) {
          for (Path f : (Iterable<Path>) files::iterator) {
            Files.move(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
          }
        }
      } finally {
        deleteTree(staging);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static MessageDigest md5() {
    try {
      return MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      for (Path f : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }
}
