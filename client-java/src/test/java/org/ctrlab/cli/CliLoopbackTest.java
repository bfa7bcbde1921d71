package org.ctrlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.ctrlab.server.CtrlabServer;
import org.ctrlab.server.data.SyntheticData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI against a real server listening on loopback (Netty), as a user would run them. */
class CliLoopbackTest {
  @TempDir
  static Path tmp;

  static CtrlabServer server;

  @BeforeAll
  static void start() throws Exception {
    new SyntheticData(500, 150, 20, 40, 3).write(tmp.resolve("data").resolve("synthetic"));
    server = new CtrlabServer(new org.ctrlab.server.ServerOptions().port(0).dataDir(tmp.resolve("data"))
        .runDir(tmp.resolve("runs")).threads(2).allowDownload(false)
        .workerJvmOptions(List.of("-XX:TieredStopAtLevel=1"))).start(); // short runs: the JIT's top tier costs more
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  record Out(int code, String out, String err) {}

  static Out cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    String[] all = new String[args.length + 2];
    all[0] = "--server";
    all[1] = "127.0.0.1:" + server.port();
    System.arraycopy(args, 0, all, 2, args.length);
    int code = Ctrlab.run(all, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Out(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void compareTrainsBothHeadsAndPrintsBothAucs() {
    Out o = cli("compare", "--dataset", "synthetic", "--backbone", "DCNV2", "--epochs", "2", "--batch-size", "1024",
        "--set", "mlp_hidden_size=16", "--embedding-size", "8", "--tag", "cli");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("[SUCCEEDED]"), o.out());
    assertTrue(o.out().matches("(?s).*BINARY\\s+-\\s+0\\.\\d{4}.*"), o.out());
    assertTrue(o.out().matches("(?s).*RATING\\s+0\\.7\\s+0\\.\\d{4}.*"), o.out());
    assertTrue(o.out().contains("RATING - BINARY test AUC:"), o.out());

    Out runs = cli("runs", "--tag", "cli");
    assertEquals(0, runs.code());
    assertEquals(2 + 2, runs.out().strip().split("\n").length, runs.out()); // header, rule, two runs
    String id = runs.out().strip().split("\n")[2].split("\\s+")[0];
    // Each epoch's data losses apart from DCNV2's regulariser: BCE for both heads, CE for RATING's only.
    for (String line : List.of(runs.out().strip().split("\n")).subList(2, 4)) {
      Out show = cli("show", line.split("\\s+")[0]);
      String row = show.out().lines().filter(l -> l.strip().startsWith("1 ")).findFirst().orElseThrow();
      String[] c = row.strip().split("\\s+");
      assertTrue(c[1].matches("\\d\\.\\d{4}"), "BCE: " + row);
      assertEquals(line.contains("RATING"), c[2].matches("\\d\\.\\d{4}"), "CE: " + row + " of\n" + line);
      assertTrue(c[3].matches("[0-9.e+-]+") && !c[3].equals("-"), "reg: " + row);
    }

    Out eval = cli("evaluate", id, "--split", "VALID");
    assertEquals(0, eval.code(), eval.err());
    assertTrue(eval.out().contains("VALID"), eval.out());

    Out rank = cli("evaluate", id, "--ranking-k", "5,10");
    assertEquals(0, rank.code(), rank.err());
    assertTrue(rank.out().contains("NDCG@5") && rank.out().contains("Recall@10"), rank.out());
    Out noise = cli("perturb", id, "--sigmas", "0,0.5");
    assertEquals(0, noise.code(), noise.err());
    assertEquals(2 + 2, noise.out().strip().split("\n").length, noise.out());
    Out ins = cli("inspect", id, "--lipschitz");
    assertTrue(ins.out().contains("||dp/dE|| over"), ins.out());

    Out json = cli("--json", "show", id);
    assertTrue(json.out().contains("\"run_id\": \"" + id + "\""), json.out());
  }

  @Test
  void refusalsAndUnknownIdsGetExitCodesAndMessages() {
    Out bad = cli("train", "--dataset", "synthetic", "--backbone", "NoSuchNet");
    assertEquals(3, bad.code());
    assertTrue(bad.err().startsWith("error: INVALID_ARGUMENT: unknown backbone 'NoSuchNet'"), bad.err());
    Out missing = cli("show", "0123456789ab");
    assertEquals(3, missing.code());
    assertEquals("error: NOT_FOUND: no run with id '0123456789ab'", missing.err().strip());
    Out malformed = cli("show", "abc");
    assertEquals(3, malformed.code());
    assertTrue(malformed.err().startsWith("error: INVALID_ARGUMENT: run_id must be 12 lowercase hex digits"),
        malformed.err());
    Out usage = cli("train", "--dataset", "synthetic");
    assertEquals(2, usage.code());
  }

  @Test
  void cancelByTagAndDeleteInOneCommandEach() {
    List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Out t = cli("train", "--dataset", "synthetic", "--backbone", "DCNV2", "--epochs", "30", "--tag", "sweep-x",
          "--set", "mlp_hidden_size=16", "--embedding-size", "8");
      assertEquals(0, t.code(), t.err());
      ids.add(t.out().strip().split("\\s+")[0]);
    }
    Out c = cli("cancel", "--tag", "sweep-x");
    assertEquals(0, c.code(), c.err());
    assertTrue(c.out().startsWith("cancelled 3 runs: "), c.out());
    for (String id : ids) {
      assertTrue(c.out().contains(id), c.out());
    }
    Out show = cli("show", ids.get(2));
    assertTrue(show.out().contains("cancelled by local"), show.out());
    Out del = cli("delete", ids.get(0), ids.get(1));
    assertEquals(0, del.code(), del.err());
    assertTrue(del.out().contains(ids.get(0) + " deleted"), del.out());
    assertEquals(3, cli("show", ids.get(0)).code());
    Out none = cli("cancel");
    assertEquals(2, none.code());
  }

  @Test
  void controlCharactersInOthersNamesAreNotPrintedAsIs() {
    Out t = cli("train", "--dataset", "synthetic", "--backbone", "DCNV2", "--epochs", "1", "--tag", "esc", "--tag",
        "\u001b[2Jwipe\u009b", "--name", "\u001b[31mred\u001b[0m\u202ename", "--set", "mlp_hidden_size=16",
        "--embedding-size", "8");
    assertEquals(0, t.code(), t.err());
    String id = t.out().strip().split("\\s+")[0];
    for (Out o : List.of(cli("runs", "--tag", "esc"), cli("show", id))) {
      assertTrue(o.out().contains("?[31mred?[0m?name"), o.out());
      assertTrue(o.out().chars().noneMatch(c -> c == 0x1b || c == 0x202e || c == 0x9b), o.out());
    }
    assertTrue(cli("show", id).out().contains("?[2Jwipe?"), "tags too");
    // JSON keeps the text, escaped: nothing a terminal acts on is printed raw, and a JSON parser reads it back.
    Out json = cli("--json", "show", id);
    assertTrue(json.out().chars().noneMatch(c -> c == 0x1b || c == 0x202e || c == 0x9b), json.out());
    assertTrue(json.out().contains("\\u202ename") && json.out().contains("wipe\\u009b"), json.out());
    cli("cancel", id);
  }

  @Test
  void studyStartWatchAndShow() {
    Out o = cli("study", "start", "--name", "cli-study", "--dataset", "synthetic", "--backbone", "DCNV2",
        "--lambda", "0.5", "--seeds", "1,2", "--epochs", "1", "--watch");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("RATING - BINARY AUC"), o.out());
    assertTrue(o.out().matches("(?s).*DCNV2\\s+RATING\\s+0\\.5\\s+2\\s+2.*"), o.out());
    Out list = cli("study", "list");
    assertTrue(list.out().contains("cli-study"), list.out());

    // Know before you queue: the grid's size and its time from the runs this server finished (the four above).
    Out dry = cli("study", "start", "--name", "dry", "--dataset", "synthetic", "--backbone", "DCNV2,FiGNN",
        "--seeds", "1,2,3", "--epochs", "1", "--dry-run");
    assertEquals(0, dry.code(), dry.err());
    assertTrue(dry.out().matches("(?s).*DCNV2\\s+6\\s+[4-9]\\s+\\d+\\.\\d\\d\\s+1\\.0\\s+0\\.\\d\\d.*"), dry.out());
    assertTrue(dry.out().matches("(?s).*FiGNN\\s+6\\s+0\\s+-\\s+-\\s+no run measured.*"), dry.out());
    assertTrue(dry.out().contains("12 runs would be queued (nothing was)"), dry.out());
    assertTrue(dry.out().contains("not counting 6 runs of backbones"), dry.out());
    assertTrue(!cli("study", "list").out().contains("dry"), "nothing was queued");
    Out plan = cli("reproduce", "--dataset", "synthetic", "--quick", "--dry-run");
    assertEquals(0, plan.code(), plan.err());
    assertTrue(plan.out().matches("(?s).*\\d+ runs would be queued \\(nothing was\\).*"), plan.out());
  }

  @Test
  void reproduceWritesTablesAndFigures() throws Exception {
    // The grid and the paper's numbers come from the config: the packaged one, with numbers for this dataset.
    Path cfg = tmp.resolve("my-reproduce.yaml");
    java.nio.file.Files.writeString(cfg, new String(Ctrlab.class.getResourceAsStream("/configs/reproduce.yaml")
        .readAllBytes(), StandardCharsets.UTF_8) + "  synthetic:\n    WideDeep: [12.34, 56.78]\n");
    Path out = tmp.resolve("report");
    Out o = cli("reproduce", "--dataset", "synthetic", "--quick", "--config", cfg.toString(), "--max-epochs", "1",
        "--lambdas", "0.5", "--sigmas", "0,0.5", "--out", out.toString());
    assertEquals(0, o.code(), o.err());
    String md = java.nio.file.Files.readString(out.resolve("README.md"));
    for (String s : List.of("## Table 1", "## Table 2", "## Table 3", "## Figure 2", "## Figure 3", "## Figure 4",
        "| WideDeep | BINARY |", "a smoke test, not a reproduction", "12.34 → 56.78")) {
      assertTrue(md.contains(s), s + " missing in\n" + md);
    }
    for (String png : List.of("figure2_norms.png", "figure3_perturbation.png", "figure4_lambda.png")) {
      byte[] b = java.nio.file.Files.readAllBytes(out.resolve(png));
      assertTrue(b.length > 1000 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G', png);
    }

    // The CLI that waited is gone and so is the report: --resume rebuilds it from the recorded studies, training
    // nothing again; --studies does the same from the ids.
    int runs = cli("--json", "runs", "--tag", "reproduce", "--limit", "0").out().split("\"run_id\"").length;
    java.nio.file.Files.delete(out.resolve("README.md"));
    Out again = cli("reproduce", "--resume", out.toString());
    assertEquals(0, again.code(), again.err());
    String md2 = java.nio.file.Files.readString(out.resolve("README.md"));
    assertTrue(md2.contains("## Table 1") && md2.contains("| WideDeep | BINARY |"), md2);
    assertTrue(md2.contains("12.34 → 56.78"), "the resume compares with the config the reproduction used: " + md2);
    assertEquals(runs, cli("--json", "runs", "--tag", "reproduce", "--limit", "0").out().split("\"run_id\"").length,
        "nothing was trained again");
    java.util.Properties rec = new java.util.Properties();
    rec.load(java.nio.file.Files.newBufferedReader(out.resolve("reproduce.properties")));
    Path other = tmp.resolve("report2");
    Out byIds = cli("reproduce", "--studies", rec.getProperty("main_study") + "," + rec.getProperty("lambda_study"),
        "--out", other.toString());
    assertEquals(0, byIds.code(), byIds.err());
    assertTrue(java.nio.file.Files.readString(other.resolve("README.md")).contains("## Figure 4"));
    Out notOne = cli("reproduce", "--resume", tmp.toString());
    assertEquals(2, notOne.code(), notOne.err());
    assertTrue(notOne.err().contains("has no reproduce.properties"), notOne.err());

    // A command that died between its two studies recorded the first: the resume starts the second and goes on.
    rec.remove("lambda_study");
    try (var w = java.nio.file.Files.newBufferedWriter(out.resolve("reproduce.properties"))) {
      rec.store(w, null);
    }
    Out finish = cli("reproduce", "--resume", out.toString());
    assertEquals(0, finish.code(), finish.err());
    assertTrue(finish.out().contains("queued the lambda_r study"), finish.out());
    java.util.Properties after = new java.util.Properties();
    after.load(java.nio.file.Files.newBufferedReader(out.resolve("reproduce.properties")));
    assertTrue(after.getProperty("lambda_study").matches("[0-9a-f]{12}")
        && !after.getProperty("lambda_study").equals(rec.getProperty("main_study")), after.toString());
  }

  @Test
  void helpHasExamplesAndCompletionScriptIsGenerated() {
    Out help = cli("train", "--help");
    assertTrue(help.out().contains("Examples:") && help.out().contains("ctrlab train --dataset"), help.out());
    Out completion = cli("generate-completion");
    assertEquals(0, completion.code());
    assertTrue(completion.out().contains("complete -F") && completion.out().contains("compare"), completion.out());
  }

  @Test
  void unreachableServerIsExitCodeFour() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Ctrlab.run(new String[] {"--server", "127.0.0.1:1", "info"}, new PrintStream(new ByteArrayOutputStream()),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(4, code);
    assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("error: UNAVAILABLE"));
  }

  @Test
  void aTokenInClearTextToAnotherMachineIsWarnedAbout() {
    // Only the check: nothing is sent anywhere (192.0.2.0/24 is the documentation range).
    String w = Ctrlab.plaintextTokenWarning("192.0.2.1:50051", "secret");
    assertTrue(w != null && w.contains("without TLS") && w.contains("--tls"), String.valueOf(w));
    assertTrue(Ctrlab.plaintextTokenWarning("dns:///192.0.2.1:50051", "secret") != null);
    assertEquals(null, Ctrlab.plaintextTokenWarning("192.0.2.1:50051", null), "no token, nothing to warn about");
    for (String local : List.of("localhost:50051", "127.0.0.1:1", "[::1]:50051", "dns:///localhost:9",
        "unix:/tmp/s")) {
      assertEquals(null, Ctrlab.plaintextTokenWarning(local, "secret"), local);
    }
    Out o = cli("--token", "secret", "info");
    assertEquals(0, o.code(), o.err());
    assertTrue(!o.err().contains("warning"), "loopback: no warning: " + o.err());
  }
}
