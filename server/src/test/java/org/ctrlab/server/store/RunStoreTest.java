package org.ctrlab.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.TrainRequest;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The run store's suite, passed by both databases: SQLite (a file) and PostgreSQL (the server that
 * scripts/start-services.sh starts; each test in a schema of its own).
 */
class RunStoreTest {
  @TempDir
  Path tmp;

  /** Where a store of a kind lives for one test. */
  String location(String kind) {
    if (kind.equals("sqlite")) {
      return tmp.resolve("ctrlab.db").toString();
    }
    String url = System.getenv("CTRLAB_TEST_PG_URL");
    needService(url != null && !url.isEmpty(), "SKIPPED: the PostgreSQL store tests need a server:"
        + " CTRLAB_TEST_PG_URL is not set (./run.sh test starts one with scripts/start-services.sh)");
    return url + (url.contains("?") ? "&" : "?") + "currentSchema=t" + UUID.randomUUID().toString().replace("-", "");
  }

  static Run run(String id, String owner, long created) {
    return Run.newBuilder().setRunId(id).setOwner(owner).setState(RunState.QUEUED).setCreatedUnixMs(created)
        .setRequest(TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2").addTags("t")).build();
  }

  @ParameterizedTest
  @ValueSource(strings = {"sqlite", "postgresql"})
  void writersOnTwoConnectionsNeitherLoseNorDuplicateEvents(String kind) throws Exception {
    String loc = location(kind);
    try (RunStore server = RunStore.open(loc); RunStore worker = RunStore.attach(loc)) {
      server.insert(run("0000000000cc", "alice", 1));
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        RunStore s = t % 2 == 0 ? server : worker;
        int thread = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < 100; i++) {
            if (i % 10 == 0) {
              // A read-modify-write of the record interleaved with the appends.
              s.update("0000000000cc", r -> r.toBuilder().setTotalSeconds(r.getTotalSeconds() + 1).build(),
                  RunEvent.newBuilder().setLog(thread + "/" + i + " update").build());
            } else {
              s.appendEvent("0000000000cc", RunEvent.newBuilder().setLog(thread + "/" + i).build());
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
      pool.shutdown();
      List<RunEvent> events = server.events("0000000000cc", 0);
      assertEquals(400, events.size());
      for (int i = 0; i < events.size(); i++) {
        assertEquals(i, events.get(i).getIndex(), "indices 0..n-1 with no gap or repeat");
      }
      assertEquals(400, events.stream().map(RunEvent::getLog).distinct().count(), "every event once");
      assertEquals(40.0, worker.get("0000000000cc").orElseThrow().getTotalSeconds(), "no lost update");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sqlite", "postgresql"})
  void runsEndedSinceATimeAreFoundByTheirState(String kind) throws Exception {
    try (RunStore s = RunStore.open(location(kind))) {
      long now = System.currentTimeMillis();
      // Inserted ended (as a test or an import would): the columns read off the record are written too.
      s.insert(run("0000000000e1", "alice", 1).toBuilder().setState(RunState.CANCELLED).setFinishedUnixMs(now - 10_000)
          .build());
      s.insert(run("0000000000e2", "alice", 2).toBuilder().setState(RunState.FAILED).setFinishedUnixMs(now - 7_200_000)
          .build());
      s.insert(run("0000000000e3", "bob", 3));
      s.update("0000000000e3", r -> r.toBuilder().setState(RunState.FAILED).setFinishedUnixMs(now - 20_000).build());
      s.insert(run("0000000000e4", "bob", 4).toBuilder().setState(RunState.SUCCEEDED).setFinishedUnixMs(now - 5_000)
          .build());
      assertEquals(List.of("0000000000e3", "0000000000e1"), s.endedSince(now - 3_600_000, RunState.CANCELLED,
          RunState.FAILED).stream().map(Run::getRunId).toList(), "the last hour's, the first to finish first");
      assertEquals(List.of("0000000000e4"), s.endedSince(now - 3_600_000, RunState.SUCCEEDED).stream()
          .map(Run::getRunId).toList());
      assertEquals(List.of(), s.endedSince(now));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sqlite", "postgresql"})
  void aChangeThatDeclinesWritesNothing(String kind) throws Exception {
    try (RunStore s = RunStore.open(location(kind))) {
      s.insert(run("0000000000dd", "alice", 1));
      assertTrue(s.update("0000000000dd", r -> null, RunEvent.newBuilder().setLog("x").build()).isEmpty());
      assertTrue(s.events("0000000000dd", 0).isEmpty());
      assertTrue(s.update("0123456789ab", r -> r).isEmpty(), "no such run");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sqlite", "postgresql"})
  void queueListingsAndCountsAgree(String kind) throws Exception {
    try (RunStore s = RunStore.open(location(kind))) {
      s.insert(run("00000000000a", "alice", 10), RunEvent.newBuilder().setLog("queued").build());
      s.insert(run("00000000000b", "bob", 20));
      s.insert(run("00000000000c", "alice", 30));
      // alice's first starts; it was running when a server stopped: back in the queue, first in line.
      s.update("00000000000a", r -> r.toBuilder().setState(RunState.RUNNING).setAttempt(1).setStartedUnixMs(40)
          .build());
      assertEquals(Map.of("alice", 40L, "bob", 0L), s.lastStarted());
      assertEquals(List.of("00000000000b", "00000000000c"), s.queued().stream().map(RunStore.Queued::runId)
          .toList());
      s.update("00000000000a", r -> r.toBuilder().setState(RunState.QUEUED).build());
      List<RunStore.Queued> q = s.queued();
      assertEquals("00000000000a", q.get(0).runId());
      assertTrue(q.get(0).first());
      assertEquals(Map.of("alice", 2, "bob", 1), s.queuedByOwner());
      assertEquals(2, s.queuedCount("alice"));
      assertEquals(Map.of(RunState.QUEUED, 3), s.countByState());
      assertEquals(List.of("00000000000a", "00000000000c"), s.withTag("alice", "t", List.of(RunState.QUEUED)));
      // Pages: newest first, two at a time, every run once.
      RunStore.Page p1 = s.list(ListRunsRequest.newBuilder().setLimit(2).build(), 1 << 20);
      assertEquals(List.of("00000000000c", "00000000000b"), p1.runs().stream().map(Run::getRunId).toList());
      RunStore.Page p2 = s.list(ListRunsRequest.newBuilder().setLimit(2).setPageToken(p1.nextPageToken()).build(),
          1 << 20);
      assertEquals(List.of("00000000000a"), p2.runs().stream().map(Run::getRunId).toList());
      assertEquals("", p2.nextPageToken());
      assertEquals(1, s.list(ListRunsRequest.newBuilder().setTag("t").setOwner("bob").build(), 1 << 20).runs()
          .size());
      assertEquals(3, s.list(ListRunsRequest.newBuilder().addStates(RunState.QUEUED).setLimit(10).build(), 1 << 20)
          .runs().size());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sqlite", "postgresql"})
  void progressArtifactsStudiesAndDeletion(String kind) throws Exception {
    try (RunStore s = RunStore.open(location(kind))) {
      Run r = run("0000000000ee", "alice", 1);
      Study st = Study.newBuilder().setStudyId("0000000000ff").setOwner("alice").setCreatedUnixMs(2)
          .setName("grid").build();
      s.insert(List.of(r), List.of(RunEvent.newBuilder().setLog("queued").build()), st);
      assertEquals("grid", s.studies().get("0000000000ff").orElseThrow().getName());
      assertEquals(1, s.studies().newest(10, null).size());
      s.insert(List.of(run("0000000000ef", "bob", 3)), List.of(), Study.newBuilder().setStudyId("0000000000fe")
          .setOwner("bob").setCreatedUnixMs(3).setName("bobs").build());
      assertEquals(List.of("bobs", "grid"), s.studies().newest(10, null).stream().map(Study::getName).toList());
      assertEquals(List.of("grid"), s.studies().newest(1, "alice").stream().map(Study::getName).toList(),
          "a newer study of another owner does not take the place of hers");
      s.progress().put(new ProgressStore.Progress("0000000000ee", 1, 2, 3, 4, 5));
      s.progress().put(new ProgressStore.Progress("0000000000ee", 1, 2, 4, 4, 6));
      assertEquals(new ProgressStore.Progress("0000000000ee", 1, 2, 4, 4, 6),
          s.progress().get("0000000000ee").orElseThrow());
      s.artifacts().put("0000000000ee", "inspect", new byte[] {1, 2, 3});
      s.artifacts().put("0000000000ee", "inspect", new byte[] {4});
      assertEquals(1, s.artifacts().get("0000000000ee", "inspect").orElseThrow().length);
      assertTrue(s.delete("0000000000ee"));
      assertFalse(s.delete("0000000000ee"));
      assertTrue(s.get("0000000000ee").isEmpty());
      assertTrue(s.events("0000000000ee", 0).isEmpty());
      assertTrue(s.artifacts().get("0000000000ee", "inspect").isEmpty());
      assertTrue(s.progress().get("0000000000ee").isEmpty());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sqlite", "postgresql"})
  void openingTwiceMigratesOnce(String kind) throws Exception {
    String loc = location(kind);
    try (RunStore s = RunStore.open(loc)) {
      s.insert(run("0000000000aa", "alice", 1));
    }
    try (RunStore again = RunStore.open(loc)) {
      assertEquals(1, again.list(ListRunsRequest.getDefaultInstance(), 1 << 20).runs().size());
      assertEquals(kind.equals("sqlite") ? RunStore.Dialect.SQLITE : RunStore.Dialect.POSTGRESQL, again.dialect());
    }
  }

  @Test
  void aFragmentedSqliteStoreIsCompactedAndKeepsWhatIsLeft() throws Exception {
    Path file = tmp.resolve("ctrlab.db");
    try (RunStore s = RunStore.open(file)) {
      String log = "x".repeat(2000);
      for (int i = 0; i < 40; i++) {
        String id = String.format("%012x", i + 1);
        s.insert(run(id, "alice", i + 1));
        for (int e = 0; e < 50; e++) {
          s.appendEvent(id, RunEvent.newBuilder().setLog(log).build());
        }
      }
      assertFalse(s.compactIfFragmented(0.1), "nothing deleted: nothing to give back");
      for (int i = 1; i < 40; i++) {
        assertTrue(s.delete(String.format("%012x", i + 1)));
      }
      long before = onDisk(file);
      assertTrue(s.compactIfFragmented(0.1));
      long after = onDisk(file);
      assertTrue(after < before / 4, "the deleted runs' pages went back to the file system: " + before + " -> "
          + after + " bytes");
      assertEquals(50, s.events("000000000001", 0).size(), "the run left keeps its events");
      assertFalse(s.compactIfFragmented(0.1), "once only");
    }
  }

  /** The bytes of an SQLite file and its write-ahead log. */
  static long onDisk(Path file) throws java.io.IOException {
    Path wal = file.resolveSibling(file.getFileName() + "-wal");
    return Files.size(file) + (Files.exists(wal) ? Files.size(wal) : 0);
  }

  @Test
  void thePostgresPasswordComesFromAFileKeptOffTheCommandLine() throws Exception {
    String url = location("postgresql");
    assertTrue(url.contains("password="), "the test database's URL carries its password: " + url);
    String bare = url.replaceAll("password=[^&]*&?", "");
    java.sql.SQLException refused = org.junit.jupiter.api.Assertions.assertThrows(java.sql.SQLException.class,
        () -> RunStore.openForServer(bare, null).close(), "the test database checks passwords");
    assertTrue(String.valueOf(refused.getMessage()).contains("password"), refused.getMessage());
    Path file = tmp.resolve("pg-password");
    java.nio.file.Files.writeString(file, url.replaceAll(".*password=([^&]*).*", "$1") + "\n");
    try (RunStore s = RunStore.openForServer(bare, file)) {
      s.insert(run("0000000000dd", "alice", 1));
      assertEquals("alice", s.get("0000000000dd").orElseThrow().getOwner());
    }
  }

  @Test
  void aDatabaseOfTheFirstReleaseIsMigratedInPlace() throws Exception {
    Path file = tmp.resolve("ctrlab.db");
    Run old = run("0000000000aa", "alice", 5).toBuilder().setState(RunState.SUCCEEDED).build();
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file); Statement s = c.createStatement()) {
      // The 0.1 schema, as that release created it (no migration history).
      for (String sql : new String(getClass().getResourceAsStream("/db/migration/sqlite/V1__runs.sql")
          .readAllBytes()).replaceAll("(?m)^--.*$", "").split(";")) {
        if (!sql.isBlank()) {
          s.executeUpdate(sql);
        }
      }
      try (PreparedStatement p = c.prepareStatement("INSERT INTO runs VALUES (?,?,?,?,?,?,?)")) {
        p.setString(1, old.getRunId());
        p.setString(2, "alice");
        p.setInt(3, old.getStateValue());
        p.setLong(4, 5);
        p.setString(5, "DCNV2");
        p.setString(6, "synthetic");
        p.setBytes(7, old.toByteArray());
        p.executeUpdate();
      }
    }
    try (RunStore store = RunStore.open(file)) {
      assertEquals(old, store.get(old.getRunId()).orElseThrow());
      assertEquals(List.of(old), store.list(ListRunsRequest.getDefaultInstance(), 1 << 20).runs());
      store.insert(run("0000000000bb", "bob", 6), RunEvent.newBuilder().setLog("queued").build());
      assertEquals(1, store.queued().size());
    }
  }

  /**
   * Skips, saying why, where a service the test needs is not running; under CI (CI=true, as .ci/run is run) a missing
   * service fails the test instead, so that CI never passes by skipping it.
   */
  static void needService(boolean running, String why) {
    String ci = System.getenv("CI");
    if (!running && ci != null && !ci.isEmpty() && !ci.equalsIgnoreCase("false")) {
      org.junit.jupiter.api.Assertions.fail("CI=" + ci + " and " + why.replaceFirst("^SKIPPED: ", ""));
    }
    Assumptions.assumeTrue(running, why);
  }

  @Test
  void aServerLockLostWithItsConnectionIsTakenAgainOrGivenUp() throws Exception {
    String url = location("postgresql");
    try (RunStore s = RunStore.openForServer(url)) {
      assertTrue(s.checkServerLock());
      cut(url, s.lockBackendPid()); // as a database restart or a network cut would
      assertTrue(s.checkServerLock(), "the lock is taken again");
      assertFalse(s.serverLockLost());
      java.sql.SQLException twice = org.junit.jupiter.api.Assertions.assertThrows(java.sql.SQLException.class,
          () -> RunStore.openForServer(url).close());
      assertTrue(twice.getMessage().startsWith("another ctrlab server uses the run store"), twice.getMessage());
      cut(url, s.lockBackendPid());
      try (RunStore other = RunStore.openForServer(url)) {
        // A second server took the store while the first's lock was gone: the first gives the queue up.
        assertFalse(s.checkServerLock());
        assertTrue(s.serverLockLost());
        assertTrue(other.checkServerLock());
      }
    }
  }

  /** Ends a database connection from outside, by its server process. */
  static void cut(String url, int pid) throws Exception {
    try (Connection c = DriverManager.getConnection(url);
        PreparedStatement p = c.prepareStatement("SELECT pg_terminate_backend(?)")) {
      p.setInt(1, pid);
      try (var rs = p.executeQuery()) {
        assertTrue(rs.next() && rs.getBoolean(1), "backend " + pid + " terminated");
      }
    }
  }
}
