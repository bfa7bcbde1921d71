package org.ctrlab.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The run store: its schema migrations, and writers on separate connections (server and workers). */
class RunStoreTest {
  @TempDir
  Path tmp;

  static Run run(String id, String owner, long created) {
    return Run.newBuilder().setRunId(id).setOwner(owner).setState(RunState.QUEUED).setCreatedUnixMs(created)
        .setRequest(TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2").addTags("t")).build();
  }

  @Test
  void aDatabaseOfTheFirstReleaseIsMigratedInPlace() throws Exception {
    Path file = tmp.resolve("ctrlab.db");
    Run old = run("0000000000aa", "alice", 5).toBuilder().setState(RunState.SUCCEEDED).build();
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file); Statement s = c.createStatement()) {
      // The 0.1 schema, as that release created it (no migration history).
      s.executeUpdate(new String(getClass().getResourceAsStream("/db/migration/sqlite/V1__runs.sql").readAllBytes()));
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
    try (RunStore again = RunStore.open(file)) {
      assertEquals(2, again.list(ListRunsRequest.getDefaultInstance(), 1 << 20).runs().size(), "migrates once");
    }
  }

  @Test
  void writersOnTwoConnectionsNeitherLoseNorDuplicateEvents() throws Exception {
    Path file = tmp.resolve("ctrlab.db");
    try (RunStore server = RunStore.open(file); RunStore worker = RunStore.attach(file)) {
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

  @Test
  void aChangeThatDeclinesWritesNothing() throws Exception {
    try (RunStore s = RunStore.open(tmp.resolve("ctrlab.db"))) {
      s.insert(run("0000000000dd", "alice", 1));
      assertTrue(s.update("0000000000dd", r -> null, RunEvent.newBuilder().setLog("x").build()).isEmpty());
      assertTrue(s.events("0000000000dd", 0).isEmpty());
      assertTrue(s.update("0123456789ab", r -> r).isEmpty(), "no such run");
      assertTrue(Files.exists(tmp.resolve("ctrlab.db")));
    }
  }
}
