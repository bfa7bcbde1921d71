package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ctrlab.api.v1.CancelRunRequest;
import org.ctrlab.api.v1.DeleteRunRequest;
import org.ctrlab.api.v1.EvaluateRequest;
import org.ctrlab.api.v1.GetRunRequest;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.ListRunsResponse;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.store.RunStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Deleting runs, retiring old runs' files, and listings that page and stay small. */
class HistoryTest {
  /** No supervisor here: the sweep's compaction runs at once. */
  static final Retention.Idle IDLE = work -> {
    work.run();
    return true;
  };

  @TempDir
  Path tmp;

  @Test
  void theOwnerDeletesAFinishedRunWithEverythingStoredForIt() throws Exception {
    Path tokens = tmp.resolve("tokens.txt");
    Files.writeString(tokens, "alice token-a\nbob token-b\n");
    try (Fixture f = new Fixture(tmp, tokens, Map.of())) {
      var alice = JobsServiceTest.as(f, "alice");
      var bob = JobsServiceTest.as(f, "bob");
      String id = alice.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      JobsServiceTest.awaitEnd(f, id);
      Path dir = tmp.resolve("runs").resolve(id);
      assertTrue(Files.exists(dir.resolve("checkpoint.bin")));
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> bob.deleteRun(DeleteRunRequest.newBuilder().setRunId(id).build()));
      assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
      assertEquals("run " + id + " belongs to alice; only alice or an admin can delete it",
          e.getStatus().getDescription());
      String running = alice.train(Fixture.quick().setMaxEpochs(100).build()).getRunId();
      JobsServiceTest.awaitState(f, running, RunState.RUNNING);
      assertEquals(Status.Code.FAILED_PRECONDITION, assertThrows(StatusRuntimeException.class,
          () -> alice.deleteRun(DeleteRunRequest.newBuilder().setRunId(running).build())).getStatus().getCode());
      alice.cancelRun(CancelRunRequest.newBuilder().setRunId(running).build());

      long freed = alice.deleteRun(DeleteRunRequest.newBuilder().setRunId(id).build()).getBytesFreed();
      assertTrue(freed > 0);
      assertFalse(Files.exists(dir));
      assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
          () -> alice.getRun(GetRunRequest.newBuilder().setRunId(id).build())).getStatus().getCode());
      assertEquals(List.of(running), alice.listRuns(ListRunsRequest.getDefaultInstance()).getRunsList().stream()
          .map(Run::getRunId).toList());
    }
    try (RunStore store = RunStore.open(tmp.resolve("runs").resolve("ctrlab.db"))) {
      assertTrue(store.list(ListRunsRequest.getDefaultInstance(), 1 << 20).runs().size() == 1);
    }
  }

  @Test
  void oldRunsFilesAreRetiredButTheirRecordsStay() throws Exception {
    String id;
    Run before;
    // A run folder made under the usual umask 022, before the server first starts.
    Files.createDirectories(tmp.resolve("runs"), java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
        java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x")));
    try (Fixture f = new Fixture(tmp)) {
      id = f.stub.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      before = JobsServiceTest.awaitEnd(f, id);
      // Every folder and file the server and its worker made (database, run folder, checkpoint, log, dataset
      // cache) is the server's user's only, whatever the umask.
      List<String> open = new ArrayList<>();
      try (var all = Files.walk(tmp.resolve("runs"))) {
        for (Path p : all.toList()) {
          String perms = java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
          if (!perms.endsWith("------")) {
            open.add(tmp.resolve("runs").relativize(p) + " " + perms);
          }
        }
      }
      assertEquals(List.of(), open, "readable by others");
      assertTrue(Files.exists(tmp.resolve("runs").resolve(id).resolve("checkpoint.bin")));
      assertTrue(Files.exists(tmp.resolve("runs").resolve("ctrlab.db")));
    }
    Path dir = tmp.resolve("runs").resolve(id);
    try (RunStore store = RunStore.open(tmp.resolve("runs").resolve("ctrlab.db"))) {
      Retention keep30 = new Retention(store, tmp.resolve("runs"), Duration.ofDays(30), 0, IDLE);
      // What a run killed between its end and its clean-up leaves (an epoch state, a torn write) goes; its
      // checkpoint and log stay.
      Files.write(dir.resolve("state-1.bin"), new byte[1000]);
      Files.write(dir.resolve("checkpoint.bin.tmp"), new byte[1000]);
      assertEquals(0, keep30.sweep(System.currentTimeMillis()), "a run finished today stays");
      assertTrue(Files.exists(dir.resolve("state-1.bin")), "not in the minute after its end");
      assertEquals(0, keep30.sweep(System.currentTimeMillis() + Retention.LEFTOVER_GRACE_MS + 1000));
      assertFalse(Files.exists(dir.resolve("state-1.bin")));
      assertFalse(Files.exists(dir.resolve("checkpoint.bin.tmp")));
      assertTrue(Files.exists(dir.resolve("checkpoint.bin")) && Files.exists(dir.resolve("worker.log")));
      assertEquals(1, keep30.sweep(System.currentTimeMillis() + Duration.ofDays(31).toMillis()));
      assertFalse(Files.exists(dir));
      assertEquals(0, keep30.sweep(System.currentTimeMillis() + Duration.ofDays(32).toMillis()), "once only");
    }
    try (Fixture f = new Fixture(tmp)) {
      Run after = f.stub.getRun(GetRunRequest.newBuilder().setRunId(id).build());
      assertEquals(before.getTest(), after.getTest(), "metrics stay");
      assertEquals(before.getEpochsList(), after.getEpochsList());
      assertTrue(after.getFilesRetiredUnixMs() > 0);
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> f.stub.evaluate(EvaluateRequest.newBuilder().setRunId(id).build()));
      assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
      assertTrue(e.getStatus().getDescription().contains("removed on"), e.getStatus().getDescription());
      // A cap on the folder retires the oldest finished runs' files until it fits.
      String a = f.stub.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      JobsServiceTest.awaitEnd(f, a);
      String b = f.stub.train(Fixture.quick().setMaxEpochs(1).build()).getRunId();
      JobsServiceTest.awaitEnd(f, b);
      long oneRun = Retention.size(tmp.resolve("runs").resolve(b));
      long total = Retention.size(tmp.resolve("runs").resolve(a)) + oneRun;
      // 20 MB that belong to no run, under a 10 MB cap: retiring cannot free them, so it retires nothing for them
      // and leaves them alone.
      Path foreign = Files.createDirectories(tmp.resolve("runs").resolve("someones-scratch"));
      Files.write(foreign.resolve("blob.bin"), new byte[20 << 20]);
      try (RunStore store = RunStore.open(tmp.resolve("runs").resolve("ctrlab.db"))) {
        assertEquals(0, new Retention(store, tmp.resolve("runs"), Duration.ZERO, 10 << 20, IDLE)
            .sweep(System.currentTimeMillis()), "no run's files are retired for files that are no run's");
        assertTrue(Files.exists(tmp.resolve("runs").resolve(a).resolve("checkpoint.bin")));
        assertEquals(20 << 20, Files.size(foreign.resolve("blob.bin")), "and those are not touched");
        assertEquals(1, new Retention(store, tmp.resolve("runs"), Duration.ZERO, total - oneRun / 2, IDLE)
            .sweep(System.currentTimeMillis()));
      }
      assertFalse(Files.exists(tmp.resolve("runs").resolve(a)), "the older one went");
      assertTrue(Files.exists(tmp.resolve("runs").resolve(b).resolve("checkpoint.bin")));
    }
  }

  @Test
  void listingsPageAndNoAnswerPassesOneMegabyte() throws Exception {
    Path runs = tmp.resolve("runs");
    try (RunStore store = RunStore.open(runs.resolve("ctrlab.db"))) {
      for (int i = 0; i < 25; i++) {
        store.insert(Run.newBuilder().setRunId(String.format("%012x", i)).setOwner("old").setState(RunState.FAILED)
            .setCreatedUnixMs(1000 + i / 2).setRequest(TrainRequest.newBuilder().setDataset("synthetic")
                .setBackbone("DCNV2").setName("run " + i)).build());
      }
      // A record from before names were limited: 4 MB of name.
      store.insert(Run.newBuilder().setRunId("ffffffffffff").setOwner("old").setState(RunState.FAILED)
          .setCreatedUnixMs(5000).setRequest(TrainRequest.newBuilder().setDataset("synthetic").setBackbone("DCNV2")
              .setName("x".repeat(4 << 20))).build());
    }
    try (Fixture f = new Fixture(tmp)) {
      List<String> seen = new ArrayList<>();
      String token = "";
      int pages = 0;
      do {
        ListRunsResponse page = f.stub.listRuns(ListRunsRequest.newBuilder().setLimit(10).setPageToken(token)
            .build());
        assertTrue(page.getSerializedSize() <= 1_000_000, "page of " + page.getSerializedSize() + " bytes");
        page.getRunsList().forEach(r -> seen.add(r.getRunId()));
        token = page.getNextPageToken();
        pages++;
      } while (!token.isEmpty());
      assertEquals(3, pages);
      assertEquals(26, seen.size());
      Set<String> unique = new HashSet<>(seen);
      assertEquals(26, unique.size(), "no run twice");
      assertEquals("ffffffffffff", seen.get(0), "newest first");
      Run big = f.stub.getRun(GetRunRequest.newBuilder().setRunId("ffffffffffff").build());
      assertTrue(big.getSerializedSize() < 1_000_000);
      assertTrue(big.getRequest().getName().endsWith("[4,194,304 characters]"));
      assertEquals(Status.Code.INVALID_ARGUMENT, assertThrows(StatusRuntimeException.class,
          () -> f.stub.listRuns(ListRunsRequest.newBuilder().setPageToken("garbage").build())).getStatus()
          .getCode());
      ListRunsResponse huge = f.stub.listRuns(ListRunsRequest.newBuilder().setLimit(Integer.MAX_VALUE).build());
      assertEquals(26, huge.getRunsCount(), "the largest limit is answered, not INTERNAL");
    }
  }
}
