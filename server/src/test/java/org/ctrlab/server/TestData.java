package org.ctrlab.server;

import java.nio.file.Path;
import java.util.Map;
import org.ctrlab.server.config.Configs;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.data.DatasetSpec;
import org.ctrlab.server.data.SyntheticData;

/** Small generated datasets for tests (never the real data). */
public final class TestData {
  private TestData() {}

  /**
   * JVM options for the workers tests start: their work is TensorFlow's native code, and a test's runs are short,
   * so the JIT's optimising tier costs more CPU than it saves (about a fifth of ServiceTest's CPU time).
   */
  public static final java.util.List<String> WORKER_JVM = java.util.List.of("-XX:TieredStopAtLevel=1");

  /** About 18,000 ratings of 600 users on 200 movies, with the planted signal of {@link SyntheticData}. */
  public static SyntheticData small() {
    return new SyntheticData(600, 200, 20, 40, 7);
  }

  public static DatasetSpec syntheticSpec() {
    return Configs.packaged().datasets().stream().filter(s -> s.name.equals("synthetic")).findFirst().orElseThrow();
  }

  /** Writes the small dataset to dir/synthetic and loads it. */
  public static Dataset loadSmall(Path dir) {
    Path d = dir.resolve("synthetic");
    small().write(d);
    return new DatasetRegistry(dir, java.util.List.of(syntheticSpec()), Map.of(), false).load("synthetic");
  }

  private static Dataset shared;

  /**
   * The small dataset, written once per test JVM to a folder removed at exit, for tests that only read it: a
   * Dataset is read-only once loaded.
   */
  public static synchronized Dataset sharedSmall() {
    if (shared == null) {
      try {
        Path dir = java.nio.file.Files.createTempDirectory("ctrlab-testdata");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          try (var walk = java.nio.file.Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
          } catch (java.io.IOException e) {
            // left in the temporary folder
          }
        }));
        shared = loadSmall(dir);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    return shared;
  }
}
