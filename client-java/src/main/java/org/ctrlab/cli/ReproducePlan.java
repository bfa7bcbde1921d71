package org.ctrlab.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import org.yaml.snakeyaml.Yaml;

/**
 * What a reproduction runs (backbones, seeds, λr values, noise levels, which backbones each figure shows) and the
 * paper's numbers it compares with, from configs/reproduce.yaml; and the record of a reproduction that was
 * started (its studies), written to the report folder so that {@code --resume DIR} can rebuild the report from
 * the runs without training anything again.
 */
record ReproducePlan(String dataset, List<String> backbones, List<Long> seeds, List<Double> lambdas,
    List<Double> sigmas, List<String> figure2, List<String> figure3, boolean quick, Integer maxEpochs) {
  static final String RECORD = "reproduce.properties";
  /** The config a reproduction used, copied into its folder: a resume compares with the same paper numbers. */
  static final String CONFIG_COPY = "reproduce.yaml";

  /** The config file's contents: the two grids, the figures' backbones, noise levels and the paper's numbers. */
  record Config(Map<String, Object> yaml, String text) {
    @SuppressWarnings("unchecked")
    static Config load(Path file) throws IOException {
      try (InputStream in = file == null ? ReproducePlan.class.getResourceAsStream("/configs/reproduce.yaml")
          : Files.newInputStream(file)) {
        if (in == null) {
          throw new IOException("configs/reproduce.yaml is not in this build of the CLI");
        }
        String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        return new Config((Map<String, Object>) new Yaml().load(text), text);
      }
    }

    /** The config a resumed reproduction uses: the one given, else the copy in its folder, else the packaged one. */
    static Config forResume(Path given, Path dir) throws IOException {
      Path copy = dir.resolve(CONFIG_COPY);
      return load(given != null ? given : Files.isRegularFile(copy) ? copy : null);
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> section(String name) {
      Object s = yaml.get(name);
      if (!(s instanceof Map<?, ?>)) {
        throw new IllegalArgumentException("the reproduce config has no section '" + name + "'");
      }
      return (Map<String, Object>) s;
    }

    static <T> List<T> list(Object o, Function<Object, T> f) {
      List<T> out = new ArrayList<>();
      for (Object x : (List<?>) o) {
        out.add(f.apply(x));
      }
      return out;
    }

    List<String> strings(String key) {
      return list(yaml.get(key), String::valueOf);
    }

    List<Double> sigmas(String dataset) {
      Map<String, Object> s = section("sigmas");
      return list(s.containsKey(dataset) ? s.get(dataset) : s.get("default"), x -> ((Number) x).doubleValue());
    }

    /** The paper's test AUC × 100 (Original, Smooth) of a backbone on a dataset, or null. */
    double[] paper(String dataset, String backbone) {
      Object byDataset = yaml.get("paper_auc");
      if (!(byDataset instanceof Map<?, ?> m) || !(m.get(dataset) instanceof Map<?, ?> d)
          || !(d.get(backbone) instanceof List<?> l)) {
        return null;
      }
      return new double[] {((Number) l.get(0)).doubleValue(), ((Number) l.get(1)).doubleValue()};
    }
  }

  /** The plan for a new reproduction: the config's grid (quick or full) with the command line's overrides. */
  static ReproducePlan of(Config c, String dataset, boolean quick, List<String> backbones, List<Long> seeds,
      List<Double> lambdas, List<Double> sigmas, Integer maxEpochs) {
    Map<String, Object> grid = c.section(quick ? "quick" : "full");
    List<String> bbs = backbones != null ? backbones : Config.list(grid.get("backbones"), String::valueOf);
    List<Long> sd = seeds != null ? seeds : Config.list(grid.get("seeds"), x -> ((Number) x).longValue());
    List<Double> lams = lambdas != null ? lambdas : Config.list(grid.get("lambdas"), x -> ((Number) x).doubleValue());
    List<Double> sg = sigmas != null ? sigmas : c.sigmas(dataset);
    return new ReproducePlan(dataset, bbs, sd, lams, sg, among(bbs, c.strings("figure2_backbones")),
        among(bbs, c.strings("figure3_backbones")), quick, maxEpochs);
  }

  /** The plan of two studies started by an earlier reproduction (or by hand): what they ran. */
  static ReproducePlan ofStudies(Config c, org.ctrlab.api.v1.Study main, org.ctrlab.api.v1.Study lambda) {
    var m = main.getRequest();
    List<String> bbs = m.getBackbonesList();
    List<Long> seeds = m.getSeedsCount() == 0 ? List.of(2020L) : m.getSeedsList();
    return new ReproducePlan(m.getDataset(), bbs, seeds, lambda.getRequest().getRatingWeightsList(),
        c.sigmas(m.getDataset()), among(bbs, c.strings("figure2_backbones")), lambda.getRequest().getBackbonesList(),
        false, m.getBase().hasMaxEpochs() ? m.getBase().getMaxEpochs() : null);
  }

  /** The backbones of a figure that the grid runs (its first backbone when none is). */
  private static List<String> among(List<String> grid, List<String> wanted) {
    List<String> out = wanted.stream().filter(grid::contains).toList();
    return out.isEmpty() ? List.of(grid.get(0)) : out;
  }

  /**
   * Writes the record of a started reproduction: the plan, the ids of its studies (the λr study's "" while it is
   * not started yet) and a copy of the config it follows.
   */
  void save(Path dir, String mainStudy, String lambdaStudy, String server, Config config) throws IOException {
    Files.writeString(dir.resolve(CONFIG_COPY), config.text(), StandardCharsets.UTF_8);
    Properties p = new Properties();
    p.setProperty("dataset", dataset);
    p.setProperty("backbones", String.join(",", backbones));
    p.setProperty("seeds", join(seeds));
    p.setProperty("lambdas", join(lambdas));
    p.setProperty("sigmas", join(sigmas));
    p.setProperty("figure2_backbones", String.join(",", figure2));
    p.setProperty("figure3_backbones", String.join(",", figure3));
    p.setProperty("quick", String.valueOf(quick));
    if (maxEpochs != null) {
      p.setProperty("max_epochs", String.valueOf(maxEpochs));
    }
    p.setProperty("main_study", mainStudy);
    p.setProperty("lambda_study", lambdaStudy);
    p.setProperty("server", server);
    try (Writer w = Files.newBufferedWriter(dir.resolve(RECORD), StandardCharsets.UTF_8)) {
      p.store(w, "ctrlab reproduce: what was started; 'ctrlab reproduce --resume " + dir + "' rebuilds the report");
    }
  }

  /** The plan and study ids a reproduction recorded in its folder. */
  static Resumed load(Path dir) throws IOException {
    Path f = dir.resolve(RECORD);
    if (!Files.isRegularFile(f)) {
      throw new IOException(dir + " has no " + RECORD + ": it is not the folder of a reproduction this CLI started"
          + " (give the studies with --studies MAIN,LAMBDA instead)");
    }
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
      p.load(r);
    }
    ReproducePlan plan = new ReproducePlan(p.getProperty("dataset"), split(p, "backbones"),
        split(p, "seeds").stream().map(Long::valueOf).toList(),
        split(p, "lambdas").stream().map(Double::valueOf).toList(),
        split(p, "sigmas").stream().map(Double::valueOf).toList(), split(p, "figure2_backbones"),
        split(p, "figure3_backbones"), Boolean.parseBoolean(p.getProperty("quick")),
        p.getProperty("max_epochs") == null ? null : Integer.valueOf(p.getProperty("max_epochs")));
    return new Resumed(plan, p.getProperty("main_study"), p.getProperty("lambda_study", ""),
        p.getProperty("server", ""));
  }

  /** A recorded reproduction; {@code lambdaStudy} is "" when the command stopped before it started that study. */
  record Resumed(ReproducePlan plan, String mainStudy, String lambdaStudy, String server) {}

  private static List<String> split(Properties p, String key) {
    String v = p.getProperty(key, "");
    return v.isEmpty() ? List.of() : Arrays.asList(v.split(","));
  }

  private static String join(List<?> xs) {
    return String.join(",", xs.stream().map(String::valueOf).toList());
  }
}
