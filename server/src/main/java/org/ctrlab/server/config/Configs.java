package org.ctrlab.server.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ctrlab.server.data.DatasetSpec;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The YAML defaults of {@code configs/}: datasets.yaml, training.yaml and models/NAME.yaml. Read from a directory
 * when one is given, otherwise from the copy packaged in the server jar.
 */
public final class Configs {
  private final Path dir;

  private Configs(Path dir) {
    this.dir = dir;
  }

  /** Packaged defaults. */
  public static Configs packaged() {
    return new Configs(null);
  }

  public static Configs from(Path dir) {
    return new Configs(dir);
  }

  @SuppressWarnings("unchecked")
  public List<DatasetSpec> datasets() {
    List<DatasetSpec> out = new ArrayList<>();
    Object y = read("datasets.yaml");
    for (Object o : (List<Object>) y) {
      out.add(new DatasetSpec((Map<String, Object>) o));
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  public Map<String, Object> training() {
    return (Map<String, Object>) read("training.yaml");
  }

  @SuppressWarnings("unchecked")
  public Map<String, Object> model(String name) {
    Object y = read("models/" + name + ".yaml");
    return y == null ? new LinkedHashMap<>() : (Map<String, Object>) y;
  }

  private Object read(String rel) {
    Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
    try {
      if (dir != null) {
        Path p = dir.resolve(rel);
        if (!Files.exists(p)) {
          return null;
        }
        try (InputStream in = Files.newInputStream(p)) {
          return yaml.load(in);
        }
      }
      try (InputStream in = Configs.class.getResourceAsStream("/configs/" + rel)) {
        return in == null ? null : yaml.load(in);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read config " + rel, e);
    }
  }
}
