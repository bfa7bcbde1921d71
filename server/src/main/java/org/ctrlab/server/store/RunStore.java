package org.ctrlab.server.store;

import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.Study;

/**
 * Run history, shared by the server and its worker processes (on one box, or on the nodes of a cluster): each run's
 * record (a {@link Run} message) and its event log (numbered from 0, for WatchRun replay); through the same
 * connections, studies ({@link StudyStore}), binary artifacts ({@link ArtifactStore}) and the live batch progress of
 * running runs ({@link ProgressStore}). Two databases hold it ({@link Database}), through the same SQL: an embedded
 * SQLite file for one box (the default), or PostgreSQL for a cluster ({@code jdbc:postgresql://...}); a server's
 * store holds a {@link ServerLock} on it.
 *
 * <p>Writes are transactions; a read-modify-write of a run ({@link #update}) and every event append first lock the
 * run (SQLite: the write lock its transactions take at their start; PostgreSQL: the run's row, FOR UPDATE), so
 * writers in different processes never interleave on one run, and event indices are never lost or repeated.
 * {@link #update} lets a writer check the record it is about to change (a worker checks that the run is still its
 * attempt's), which fences off stale writers. The schema is created and migrated when the server opens the store;
 * workers only attach to it.
 */
public final class RunStore implements AutoCloseable {
  /** Changes a run record; returning null leaves it unchanged and writes nothing. */
  @FunctionalInterface
  public interface Change {
    Run apply(Run current);
  }

  /** What a page of {@link #list} returns: the runs and the token of the next page (empty at the end). */
  public record Page(List<Run> runs, String nextPageToken) {}

  /** The database behind a store. */
  public enum Dialect {
    SQLITE,
    POSTGRESQL
  }

  private final Database database;
  /** Held by a server's store (openForServer) until close: no second server schedules the same queue. */
  private volatile ServerLock serverLock;
  private final StudyStore studies = new StudyStore(this::connection);
  private final ArtifactStore artifacts = new ArtifactStore(this::connection);
  private final ProgressStore progress = new ProgressStore(this::connection);

  private RunStore(Database database) {
    this.database = database;
  }

  /** Opens (creating or migrating the schema first) the SQLite store of a server at a file. */
  public static RunStore open(Path file) throws SQLException {
    return open(file.toString());
  }

  /** Opens an existing SQLite store without touching its schema (a worker's view). */
  public static RunStore attach(Path file) throws SQLException {
    if (!Files.isRegularFile(file)) {
      throw new SQLException("no run store at " + file);
    }
    return attach(file.toString());
  }

  /**
   * Opens a store, creating or migrating its schema: {@code jdbc:postgresql://HOST:PORT/DB?user=...&password=...}
   * (a {@code currentSchema} parameter names the schema, created if needed), or a path to an SQLite file.
   */
  public static RunStore open(String location) throws SQLException {
    return open(location, false, null);
  }

  /** Attaches to an existing store without touching its schema (a worker: a small pool, as it writes alone). */
  public static RunStore attach(String location) throws SQLException {
    return new RunStore(Database.connect(location, 2, null));
  }

  /**
   * Opens the store for a server: takes the store's server lock first (before any migration, so a second server,
   * perhaps a newer one, changes nothing under a running one), then creates or migrates its schema. The lock is held
   * until {@link #close()}.
   */
  public static RunStore openForServer(String location) throws SQLException {
    return openForServer(location, null);
  }

  /** As {@link #openForServer(String)}, a PostgreSQL password read from a file (null: from the environment). */
  public static RunStore openForServer(String location, Path passwordFile) throws SQLException {
    return open(location, true, passwordFile);
  }

  private static RunStore open(String location, boolean serverLock, Path passwordFile) throws SQLException {
    RunStore s = new RunStore(Database.connect(location, 8, passwordFile));
    try {
      if (serverLock) {
        s.serverLock = ServerLock.take(s.database);
      }
      s.database.migrate();
    } catch (SQLException | RuntimeException e) {
      s.close();
      throw e;
    }
    return s;
  }

  /**
   * Checks that this server's lock on the store is still held, taking a lost PostgreSQL lock again
   * ({@link ServerLock#check()}); true for a store not opened for a server.
   */
  public boolean checkServerLock() {
    ServerLock l = serverLock; // close() may clear it meanwhile
    return l == null || l.check();
  }

  /** The database process serving the server lock's connection (PostgreSQL), for tests that cut it. */
  int lockBackendPid() throws SQLException {
    return serverLock.backendPid();
  }

  /** Whether this server's lock was lost to another server ({@link #checkServerLock()}). */
  public boolean serverLockLost() {
    ServerLock l = serverLock;
    return l != null && l.lost();
  }

  /** The studies (a study is written with its runs, by {@link #insert(List, List, Study)}). */
  public StudyStore studies() {
    return studies;
  }

  /** Runs' binary artifacts (the inspection record, ...). */
  public ArtifactStore artifacts() {
    return artifacts;
  }

  /** Running runs' live batch progress. */
  public ProgressStore progress() {
    return progress;
  }

  public Dialect dialect() {
    return database.dialect();
  }

  /** SQLite's durability setting of this store's connections (2 = FULL). */
  public int sqliteSynchronous() throws SQLException {
    return database.sqliteSynchronous();
  }

  private Connection connection() throws SQLException {
    return database.connection();
  }

  @FunctionalInterface
  private interface Body<T> {
    T run() throws SQLException;
  }

  /** Runs body in one write transaction on a connection. */
  private static <T> T tx(Connection db, Body<T> body) throws SQLException {
    db.setAutoCommit(false);
    try {
      T t = body.run();
      db.commit();
      return t;
    } catch (SQLException | RuntimeException e) {
      db.rollback();
      throw e;
    } finally {
      db.setAutoCommit(true);
    }
  }

  /** Locks a run for the rest of the transaction (SQLite's transactions hold the whole database already). */
  private void lock(Connection db, String runId) throws SQLException {
    if (dialect() == Dialect.POSTGRESQL) {
      try (PreparedStatement p = db.prepareStatement("SELECT 1 FROM runs WHERE run_id = ? FOR UPDATE")) {
        p.setString(1, runId);
        p.executeQuery().close();
      }
    }
  }

  /** Inserts runs (with their first events) and optionally the study they make up, all or nothing. */
  public void insert(List<Run> runs, List<RunEvent> firstEvents, Study study) throws SQLException {
    try (Connection db = connection()) {
      tx(db, () -> {
        try (PreparedStatement p = db.prepareStatement("INSERT INTO runs (run_id, owner, state, created_ms, backbone,"
            + " dataset, record, started_ms, finished_ms, retired, priority) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
            PreparedStatement tags = db.prepareStatement(
                "INSERT INTO run_tags (run_id, tag) VALUES (?,?) ON CONFLICT DO NOTHING")) {
          for (Run run : runs) {
            p.setString(1, run.getRunId());
            p.setString(2, run.getOwner());
            p.setInt(3, run.getStateValue());
            p.setLong(4, run.getCreatedUnixMs());
            p.setString(5, run.getRequest().getBackbone());
            p.setString(6, run.getRequest().getDataset());
            p.setBytes(7, run.toByteArray());
            bindColumnsOfRecord(p, 8, run);
            p.executeUpdate();
            for (String t : run.getRequest().getTagsList()) {
              tags.setString(1, run.getRunId());
              tags.setString(2, t);
              tags.executeUpdate();
            }
            for (RunEvent e : firstEvents) {
              append(db, run.getRunId(), e);
            }
          }
        }
        if (study != null) {
          try (PreparedStatement p = db.prepareStatement(
              "INSERT INTO studies (study_id, owner, created_ms, record) VALUES (?,?,?,?)")) {
            p.setString(1, study.getStudyId());
            p.setString(2, study.getOwner());
            p.setLong(3, study.getCreatedUnixMs());
            p.setBytes(4, study.toByteArray());
            p.executeUpdate();
          }
        }
        return null;
      });
    }
  }

  public void insert(Run run, RunEvent... firstEvents) throws SQLException {
    insert(List.of(run), List.of(firstEvents), null);
  }

  /**
   * Reads a run, applies a change and appends events, in one transaction. Returns the record as stored, or empty
   * when the run does not exist or the change declined (nothing is written then, events included).
   */
  public Optional<Run> update(String runId, Change change, RunEvent... events) throws SQLException {
    try (Connection db = connection()) {
      return tx(db, () -> {
        lock(db, runId);
        Optional<Run> cur = getUnlocked(db, runId);
        if (cur.isEmpty()) {
          return Optional.<Run>empty();
        }
        Run next = change.apply(cur.get());
        if (next == null) {
          return Optional.<Run>empty();
        }
        write(db, next);
        for (RunEvent e : events) {
          append(db, runId, e);
        }
        return Optional.of(next);
      });
    }
  }

  /** Overwrites a run record. */
  private void write(Connection db, Run run) throws SQLException {
    try (PreparedStatement p = db.prepareStatement("UPDATE runs SET state = ?, record = ?, started_ms = ?,"
        + " finished_ms = ?, retired = ?, priority = ? WHERE run_id = ?")) {
      p.setInt(1, run.getStateValue());
      p.setBytes(2, run.toByteArray());
      bindColumnsOfRecord(p, 3, run);
      p.setString(7, run.getRunId());
      if (p.executeUpdate() != 1) {
        throw new SQLException("no run " + run.getRunId());
      }
    }
  }

  /** Binds the columns read off a record, from parameter i on: started_ms, finished_ms, retired, priority. */
  private static void bindColumnsOfRecord(PreparedStatement p, int i, Run run) throws SQLException {
    p.setLong(i, run.getStartedUnixMs());
    p.setLong(i + 1, run.getFinishedUnixMs());
    p.setInt(i + 2, run.getFilesRetiredUnixMs() > 0 ? 1 : 0);
    // A queued run that has run before was interrupted by a server stop: it goes ahead of the fair order.
    p.setInt(i + 3, run.getState() == RunState.QUEUED && run.getAttempt() > 0 ? 1 : 0);
  }

  public Optional<Run> get(String runId) throws SQLException {
    try (Connection db = connection()) {
      return getUnlocked(db, runId);
    }
  }

  private Optional<Run> getUnlocked(Connection db, String runId) throws SQLException {
    try (PreparedStatement p = db.prepareStatement("SELECT record FROM runs WHERE run_id = ?")) {
      p.setString(1, runId);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? Optional.of(parse(rs.getBytes(1))) : Optional.empty();
      }
    }
  }

  /** The most rows one page of {@link #list} returns, whatever limit is asked for. */
  public static final int MAX_PAGE_ROWS = 10_000;

  /**
   * One page of the runs matching the filter, newest first: at most limit runs (100 when 0, at most
   * {@link #MAX_PAGE_ROWS}) and at most maxBytes of serialized records (at least one run per page).
   */
  public Page list(ListRunsRequest f, int maxBytes) throws SQLException {
    return list(f, maxBytes, r -> r);
  }

  /** As {@link #list(ListRunsRequest, int)}, each record as {@code view} shows it (and measured so). */
  public Page list(ListRunsRequest f, int maxBytes, java.util.function.UnaryOperator<Run> view)
      throws SQLException {
    try (Connection db = connection()) {
      StringBuilder sql = new StringBuilder("SELECT record, created_ms, run_id FROM runs r WHERE 1=1");
      List<Object> args = new ArrayList<>();
      where(f, sql, args);
      if (!f.getPageToken().isEmpty()) {
        Object[] after = decodeToken(f.getPageToken());
        sql.append(" AND (created_ms < ? OR (created_ms = ? AND run_id < ?))");
        args.add(after[0]);
        args.add(after[0]);
        args.add(after[1]);
      }
      // A page is bounded by maxBytes anyway; a huge limit (up to Integer.MAX_VALUE) must not overflow limit + 1.
      int limit = f.getLimit() > 0 ? Math.min(f.getLimit(), MAX_PAGE_ROWS) : 100;
      sql.append(" ORDER BY created_ms DESC, run_id DESC LIMIT ?");
      args.add(limit + 1);
      try (PreparedStatement p = db.prepareStatement(sql.toString())) {
        bind(p, args);
        List<Run> out = new ArrayList<>();
        long bytes = 0;
        String next = "";
        try (ResultSet rs = p.executeQuery()) {
          long lastCreated = 0;
          String lastId = null;
          while (rs.next()) {
            Run run = view.apply(parse(rs.getBytes(1)));
            int size = run.getSerializedSize();
            if (out.size() == limit || (!out.isEmpty() && bytes + size > maxBytes)) {
              next = encodeToken(lastCreated, lastId);
              break;
            }
            out.add(run);
            bytes += size;
            lastCreated = rs.getLong(2);
            lastId = rs.getString(3);
          }
        }
        return new Page(out, next);
      }
    }
  }

  /** The filter of a ListRunsRequest (states, backbone, dataset, owner, tag) as SQL conditions on runs r. */
  private static void where(ListRunsRequest f, StringBuilder sql, List<Object> args) {
    if (f.getStatesCount() > 0) {
      sql.append(" AND state IN (").append("?,".repeat(f.getStatesCount() - 1)).append("?)");
      f.getStatesList().forEach(s -> args.add(s.getNumber()));
    }
    if (!f.getBackbone().isEmpty()) {
      sql.append(" AND backbone = ?");
      args.add(f.getBackbone());
    }
    if (!f.getDataset().isEmpty()) {
      sql.append(" AND dataset = ?");
      args.add(f.getDataset());
    }
    if (!f.getOwner().isEmpty()) {
      sql.append(" AND owner = ?");
      args.add(f.getOwner());
    }
    if (!f.getTag().isEmpty()) {
      sql.append(" AND EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.run_id AND t.tag = ?)");
      args.add(f.getTag());
    }
  }

  /**
   * Every run matching the filter (its page token and limit ignored), newest first, each given to {@code each} as it
   * is read: for a caller that keeps a small view of each record, not the records.
   */
  public void scan(ListRunsRequest f, java.util.function.Consumer<Run> each) throws SQLException {
    try (Connection db = connection()) {
      StringBuilder sql = new StringBuilder("SELECT record FROM runs r WHERE 1=1");
      List<Object> args = new ArrayList<>();
      where(f, sql, args);
      sql.append(" ORDER BY created_ms DESC, run_id DESC");
      try (PreparedStatement p = db.prepareStatement(sql.toString())) {
        bind(p, args);
        p.setFetchSize(500);
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            each.accept(parse(rs.getBytes(1)));
          }
        }
      }
    }
  }

  private static String encodeToken(long created, String runId) {
    return Base64.getUrlEncoder().withoutPadding()
        .encodeToString((created + ":" + runId).getBytes(StandardCharsets.UTF_8));
  }

  private static Object[] decodeToken(String token) {
    try {
      String s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      int colon = s.indexOf(':');
      return new Object[] {Long.parseLong(s.substring(0, colon)), s.substring(colon + 1)};
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("page_token is not one this server gave out");
    }
  }

  /** Runs in a state, oldest first. */
  public List<Run> inState(RunState state) throws SQLException {
    try (Connection db = connection()) {
      try (PreparedStatement p = db.prepareStatement(
          "SELECT record FROM runs WHERE state = ? ORDER BY created_ms ASC, run_id ASC")) {
        p.setInt(1, state.getNumber());
        return runs(p);
      }
    }
  }

  /** The runs in these (final) states that finished at or after sinceMs, the first to finish first. */
  public List<Run> endedSince(long sinceMs, RunState... states) throws SQLException {
    if (states.length == 0) {
      return List.of();
    }
    try (Connection db = connection()) {
      try (PreparedStatement p = db.prepareStatement("SELECT record FROM runs WHERE state IN ("
          + "?,".repeat(states.length - 1) + "?) AND finished_ms >= ? ORDER BY finished_ms ASC, run_id ASC")) {
        for (int i = 0; i < states.length; i++) {
          p.setInt(i + 1, states[i].getNumber());
        }
        p.setLong(states.length + 1, sinceMs);
        return runs(p);
      }
    }
  }

  /** A queued run as the scheduler sees it. */
  public record Queued(String runId, String owner, long createdMs, boolean first) {}

  /** Every queued run, those that go first before the rest, each group oldest first. */
  public List<Queued> queued() throws SQLException {
    try (Connection db = connection()) {
      try (PreparedStatement p = db.prepareStatement("SELECT run_id, owner, created_ms, priority FROM runs"
          + " WHERE state = ? ORDER BY priority DESC, created_ms ASC, run_id ASC")) {
        p.setInt(1, RunState.QUEUED_VALUE);
        List<Queued> out = new ArrayList<>();
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            out.add(new Queued(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getInt(4) != 0));
          }
        }
        return out;
      }
    }
  }

  /** For each owner, when one of their runs last started (the fair queue serves the owner served longest ago). */
  public Map<String, Long> lastStarted() throws SQLException {
    try (Connection db = connection()) {
      Map<String, Long> out = new HashMap<>();
      try (Statement s = db.createStatement();
          ResultSet rs = s.executeQuery("SELECT owner, MAX(started_ms) FROM runs GROUP BY owner")) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getLong(2));
        }
      }
      return out;
    }
  }

  /** Number of runs in each state. */
  public Map<RunState, Integer> countByState() throws SQLException {
    try (Connection db = connection()) {
      Map<RunState, Integer> out = new java.util.EnumMap<>(RunState.class);
      try (Statement s = db.createStatement();
          ResultSet rs = s.executeQuery("SELECT state, COUNT(*) FROM runs GROUP BY state")) {
        while (rs.next()) {
          RunState st = RunState.forNumber(rs.getInt(1));
          if (st != null) {
            out.put(st, rs.getInt(2));
          }
        }
      }
      return out;
    }
  }

  /** Number of queued runs of each owner that has any. */
  public Map<String, Integer> queuedByOwner() throws SQLException {
    try (Connection db = connection()) {
      Map<String, Integer> out = new java.util.TreeMap<>();
      try (PreparedStatement p = db.prepareStatement("SELECT owner, COUNT(*) FROM runs WHERE state = ? GROUP BY owner")) {
        p.setInt(1, RunState.QUEUED_VALUE);
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            out.put(rs.getString(1), rs.getInt(2));
          }
        }
      }
      return out;
    }
  }

  /** Queued runs of an owner. */
  public int queuedCount(String owner) throws SQLException {
    try (Connection db = connection()) {
      try (PreparedStatement p = db.prepareStatement("SELECT COUNT(*) FROM runs WHERE owner = ? AND state = ?")) {
        p.setString(1, owner);
        p.setInt(2, RunState.QUEUED_VALUE);
        try (ResultSet rs = p.executeQuery()) {
          rs.next();
          return rs.getInt(1);
        }
      }
    }
  }

  /** Ids of an owner's runs in the given states that carry a tag. */
  public List<String> withTag(String owner, String tag, Collection<RunState> states)
      throws SQLException {
    try (Connection db = connection()) {
      StringBuilder sql = new StringBuilder("SELECT r.run_id FROM runs r JOIN run_tags t ON t.run_id = r.run_id"
          + " WHERE t.tag = ? AND r.owner = ? AND r.state IN (");
      sql.append("?,".repeat(states.size() - 1)).append("?) ORDER BY r.created_ms, r.run_id");
      List<Object> args = new ArrayList<>(List.of(tag, owner));
      states.forEach(s -> args.add(s.getNumber()));
      try (PreparedStatement p = db.prepareStatement(sql.toString())) {
        bind(p, args);
        List<String> out = new ArrayList<>();
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            out.add(rs.getString(1));
          }
        }
        return out;
      }
    }
  }

  /** Finished runs whose files are still kept, oldest finished first. */
  public List<Run> finishedWithFiles() throws SQLException {
    try (Connection db = connection()) {
      try (PreparedStatement p = db.prepareStatement("SELECT record FROM runs WHERE state IN (?,?,?) AND retired = 0"
          + " ORDER BY finished_ms ASC, run_id ASC")) {
        p.setInt(1, RunState.SUCCEEDED_VALUE);
        p.setInt(2, RunState.FAILED_VALUE);
        p.setInt(3, RunState.CANCELLED_VALUE);
        return runs(p);
      }
    }
  }

  /** Appends an event with the next index of its run and returns it as stored. */
  public RunEvent appendEvent(String runId, RunEvent e) throws SQLException {
    try (Connection db = connection()) {
      return tx(db, () -> {
        lock(db, runId);
        return append(db, runId, e);
      });
    }
  }

  private RunEvent append(Connection db, String runId, RunEvent e) throws SQLException {
    long next;
    try (PreparedStatement p = db.prepareStatement("SELECT COALESCE(MAX(idx) + 1, 0) FROM events WHERE run_id = ?")) {
      p.setString(1, runId);
      try (ResultSet rs = p.executeQuery()) {
        rs.next();
        next = rs.getLong(1);
      }
    }
    RunEvent stored = e.toBuilder().setIndex(next).setUnixMs(e.getUnixMs() != 0 ? e.getUnixMs()
        : System.currentTimeMillis()).build();
    try (PreparedStatement p = db.prepareStatement("INSERT INTO events (run_id, idx, event) VALUES (?,?,?)")) {
      p.setString(1, runId);
      p.setLong(2, next);
      p.setBytes(3, stored.toByteArray());
      p.executeUpdate();
    }
    return stored;
  }

  /** A run's stored events from an index on, at most limit of them. */
  public List<RunEvent> events(String runId, long from, int limit) throws SQLException {
    try (Connection db = connection()) {
      try (PreparedStatement p = db.prepareStatement(
          "SELECT event FROM events WHERE run_id = ? AND idx >= ? ORDER BY idx LIMIT ?")) {
        p.setString(1, runId);
        p.setLong(2, from);
        p.setInt(3, limit);
        List<RunEvent> out = new ArrayList<>();
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            out.add(RunEvent.parseFrom(rs.getBytes(1)));
          }
        } catch (InvalidProtocolBufferException ex) {
          throw new SQLException("corrupt event of run " + runId, ex);
        }
        return out;
      }
    }
  }

  public List<RunEvent> events(String runId, long from) throws SQLException {
    return events(runId, from, Integer.MAX_VALUE);
  }

  /** Removes a run with its tags, events, artifacts and progress. Returns whether it existed. */
  public boolean delete(String runId) throws SQLException {
    try (Connection db = connection()) {
      return tx(db, () -> {
        for (String t : List.of("run_tags", "events", "artifacts", "progress")) {
          try (PreparedStatement p = db.prepareStatement("DELETE FROM " + t + " WHERE run_id = ?")) {
            p.setString(1, runId);
            p.executeUpdate();
          }
        }
        try (PreparedStatement p = db.prepareStatement("DELETE FROM runs WHERE run_id = ?")) {
          p.setString(1, runId);
          return p.executeUpdate() == 1;
        }
      });
    }
  }

  private static void bind(PreparedStatement p, List<Object> args) throws SQLException {
    for (int i = 0; i < args.size(); i++) {
      p.setObject(i + 1, args.get(i));
    }
  }

  private static List<Run> runs(PreparedStatement p) throws SQLException {
    List<Run> out = new ArrayList<>();
    try (ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        out.add(parse(rs.getBytes(1)));
      }
    }
    return out;
  }

  private static Run parse(byte[] b) throws SQLException {
    try {
      return Run.parseFrom(b);
    } catch (InvalidProtocolBufferException e) {
      throw new SQLException("corrupt run record", e);
    }
  }

  /**
   * Gives the space of deleted rows back to the file system when more than {@code fraction} of the database's pages
   * are free (SQLite; PostgreSQL's autovacuum does it by itself). Returns whether it did.
   */
  public boolean compactIfFragmented(double fraction) throws SQLException {
    return Compaction.ifFragmented(dialect(), this::connection, fraction);
  }

  @Override
  public void close() throws SQLException {
    try {
      database.close();
    } finally {
      ServerLock l = serverLock;
      serverLock = null;
      if (l != null) {
        l.close();
      }
    }
  }
}
