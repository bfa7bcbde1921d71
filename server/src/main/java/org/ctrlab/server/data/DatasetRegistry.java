package org.ctrlab.server.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The datasets a server knows (from configs/datasets.yaml), where their files are, and the prepared
 * {@link Dataset}s, loaded once and shared by every run. A load that fails is not cached, so fixing the files and
 * submitting again works without a restart.
 */
public final class DatasetRegistry {
  /** The dataset's files are not there (and could not be generated or downloaded). */
  public static final class MissingException extends RuntimeException {
    public MissingException(String message) {
      super(message);
    }
  }

  private final Path dataDir;
  private final Map<String, DatasetSpec> specs = new LinkedHashMap<>();
  private final Map<String, Path> overrides;
  private final boolean allowDownload;
  private final Path cacheDir;
  private final Map<String, Dataset> loaded = new ConcurrentHashMap<>();
  private final Map<String, Object> locks = new ConcurrentHashMap<>();

  public DatasetRegistry(Path dataDir, List<DatasetSpec> specs, Map<String, Path> overrides, boolean allowDownload) {
    this(dataDir, specs, overrides, allowDownload, null);
  }

  /**
   * A registry that keeps prepared datasets in {@code cacheDir} ({@link DatasetCache}; null for none), so that
   * other processes (workers) load them without preparing them again.
   */
  public DatasetRegistry(Path dataDir, List<DatasetSpec> specs, Map<String, Path> overrides, boolean allowDownload,
      Path cacheDir) {
    this.dataDir = dataDir;
    this.cacheDir = cacheDir;
    for (DatasetSpec s : specs) {
      this.specs.put(s.name, s);
    }
    this.overrides = Map.copyOf(overrides);
    this.allowDownload = allowDownload;
  }

  public Collection<DatasetSpec> specs() {
    return specs.values();
  }

  public boolean knows(String name) {
    return specs.containsKey(name);
  }

  public DatasetSpec spec(String name) {
    DatasetSpec s = specs.get(name);
    if (s == null) {
      throw new IllegalArgumentException("unknown dataset '" + name + "'; known: " + specs.keySet());
    }
    return s;
  }

  public Path dir(String name) {
    return overrides.getOrDefault(name, dataDir.resolve(name));
  }

  /** Its files are present, or it is generated on demand. */
  public boolean available(String name) {
    DatasetSpec s = spec(name);
    Path d = dir(name);
    return s.generated || GroupLensReader.present(d) || AtomicReader.present(d, name);
  }

  public Optional<Dataset> cached(String name) {
    return Optional.ofNullable(loaded.get(name));
  }

  /** The prepared dataset; loads (and if needed generates or downloads) it on first use. */
  public Dataset load(String name) {
    DatasetSpec spec = spec(name);
    Dataset d = loaded.get(name);
    if (d != null) {
      return d;
    }
    synchronized (locks.computeIfAbsent(name, k -> new Object())) {
      d = loaded.get(name);
      if (d == null) {
        d = read(spec, dir(name));
        loaded.put(name, d);
      }
      return d;
    }
  }

  private Dataset read(DatasetSpec spec, Path dir) {
    if (!GroupLensReader.present(dir) && !AtomicReader.present(dir, spec.name)) {
      if (spec.generated) {
        SyntheticData.standard().write(dir);
      } else if (allowDownload && spec.downloadUrl != null) {
        try {
          Downloader.fetchZip(spec.downloadUrl, spec.downloadMd5, dir);
        } catch (IOException e) {
          throw new MissingException("dataset " + spec.name + " is not in " + dir + " and could not be downloaded: "
              + e.getMessage());
        }
      } else {
        throw new MissingException("dataset " + spec.name + " has no files in " + dir + " (expected ratings.dat or "
            + spec.name + ".inter; start the server with --data-dir or --dataset " + spec.name + "=PATH)");
      }
    }
    Path cached = null;
    if (cacheDir != null) {
      try {
        cached = DatasetCache.file(cacheDir, spec, dir);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list " + dir, e);
      }
      Optional<Dataset> hit = DatasetCache.read(cached);
      if (hit.isPresent()) {
        return hit.get();
      }
    }
    RawData raw = GroupLensReader.present(dir) ? GroupLensReader.read(dir, spec) : AtomicReader.read(dir, spec);
    Dataset d = DatasetBuilder.build(spec, raw);
    if (cached != null) {
      try {
        DatasetCache.write(cached, d);
      } catch (IOException e) {
        System.err.println("ctrlab: cannot cache the prepared " + spec.name + " in " + cacheDir + ": " + e);
      }
    }
    return d;
  }

  /** Loads a dataset from a directory without a registry (tests, benchmarks). */
  public static Dataset loadFrom(DatasetSpec spec, Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new UncheckedIOException(new IOException("no directory " + dir));
    }
    return new DatasetRegistry(dir.getParent(), new ArrayList<>(List.of(spec)), Map.of(spec.name, dir), false)
        .load(spec.name);
  }
}
