package org.ctrlab.server.store;

import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;

/**
 * Run history in an embedded SQLite database: each run's record (a {@link Run} message), its event log (numbered
 * from 0, for WatchRun replay) and binary artifacts such as gradient-norm logs. Writes are transactions, so a crash
 * never leaves half a record; the file survives restarts.
 */
public final class RunStore implements AutoCloseable {
  private final Connection db;

  public RunStore(Path file) throws SQLException {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
    } catch (java.io.IOException e) {
      throw new SQLException("cannot create " + file.getParent(), e);
    }
    db = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
    try (Statement s = db.createStatement()) {
      s.execute("PRAGMA journal_mode=WAL");
      s.execute("PRAGMA synchronous=NORMAL");
      s.execute("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, state INTEGER NOT NULL,"
          + " created_ms INTEGER NOT NULL, backbone TEXT NOT NULL, dataset TEXT NOT NULL, record BLOB NOT NULL)");
      s.execute("CREATE TABLE IF NOT EXISTS run_tags (run_id TEXT NOT NULL, tag TEXT NOT NULL,"
          + " PRIMARY KEY (run_id, tag))");
      s.execute("CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL, idx INTEGER NOT NULL, event BLOB NOT NULL,"
          + " PRIMARY KEY (run_id, idx))");
      s.execute("CREATE TABLE IF NOT EXISTS studies (study_id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
          + " created_ms INTEGER NOT NULL, record BLOB NOT NULL)");
      s.execute("CREATE TABLE IF NOT EXISTS artifacts (run_id TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,"
          + " PRIMARY KEY (run_id, name))");
    }
  }

  public synchronized void insert(Run run) throws SQLException {
    boolean auto = db.getAutoCommit();
    db.setAutoCommit(false);
    try {
      try (PreparedStatement p = db.prepareStatement("INSERT INTO runs VALUES (?,?,?,?,?,?,?)")) {
        p.setString(1, run.getRunId());
        p.setString(2, run.getOwner());
        p.setInt(3, run.getStateValue());
        p.setLong(4, run.getCreatedUnixMs());
        p.setString(5, run.getRequest().getBackbone());
        p.setString(6, run.getRequest().getDataset());
        p.setBytes(7, run.toByteArray());
        p.executeUpdate();
      }
      try (PreparedStatement p = db.prepareStatement("INSERT OR IGNORE INTO run_tags VALUES (?,?)")) {
        for (String t : run.getRequest().getTagsList()) {
          p.setString(1, run.getRunId());
          p.setString(2, t);
          p.executeUpdate();
        }
      }
      db.commit();
    } catch (SQLException e) {
      db.rollback();
      throw e;
    } finally {
      db.setAutoCommit(auto);
    }
  }

  public synchronized void update(Run run) throws SQLException {
    try (PreparedStatement p = db.prepareStatement("UPDATE runs SET state = ?, record = ? WHERE run_id = ?")) {
      p.setInt(1, run.getStateValue());
      p.setBytes(2, run.toByteArray());
      p.setString(3, run.getRunId());
      if (p.executeUpdate() != 1) {
        throw new SQLException("no run " + run.getRunId());
      }
    }
  }

  public synchronized Optional<Run> get(String runId) throws SQLException {
    try (PreparedStatement p = db.prepareStatement("SELECT record FROM runs WHERE run_id = ?")) {
      p.setString(1, runId);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? Optional.of(parse(rs.getBytes(1))) : Optional.empty();
      }
    }
  }

  /** Runs matching the filter, newest first. */
  public synchronized List<Run> list(ListRunsRequest f) throws SQLException {
    StringBuilder sql = new StringBuilder("SELECT record FROM runs r WHERE 1=1");
    List<Object> args = new ArrayList<>();
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
    sql.append(" ORDER BY created_ms DESC, rowid DESC LIMIT ?");
    args.add(f.getLimit() > 0 ? f.getLimit() : 100);
    try (PreparedStatement p = db.prepareStatement(sql.toString())) {
      for (int i = 0; i < args.size(); i++) {
        p.setObject(i + 1, args.get(i));
      }
      List<Run> out = new ArrayList<>();
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          out.add(parse(rs.getBytes(1)));
        }
      }
      return out;
    }
  }

  /** Runs in a state, oldest first (to rebuild the queue after a restart). */
  public synchronized List<Run> inState(RunState state) throws SQLException {
    try (PreparedStatement p = db.prepareStatement(
        "SELECT record FROM runs WHERE state = ? ORDER BY created_ms ASC, rowid ASC")) {
      p.setInt(1, state.getNumber());
      List<Run> out = new ArrayList<>();
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          out.add(parse(rs.getBytes(1)));
        }
      }
      return out;
    }
  }

  /** Appends an event with the next index of its run and returns it as stored. */
  public synchronized RunEvent appendEvent(String runId, RunEvent e) throws SQLException {
    long next;
    try (PreparedStatement p = db.prepareStatement("SELECT COALESCE(MAX(idx) + 1, 0) FROM events WHERE run_id = ?")) {
      p.setString(1, runId);
      try (ResultSet rs = p.executeQuery()) {
        rs.next();
        next = rs.getLong(1);
      }
    }
    RunEvent stored = e.toBuilder().setIndex(next).build();
    try (PreparedStatement p = db.prepareStatement("INSERT INTO events VALUES (?,?,?)")) {
      p.setString(1, runId);
      p.setLong(2, next);
      p.setBytes(3, stored.toByteArray());
      p.executeUpdate();
    }
    return stored;
  }

  public synchronized List<RunEvent> events(String runId, long from) throws SQLException {
    try (PreparedStatement p = db.prepareStatement(
        "SELECT event FROM events WHERE run_id = ? AND idx >= ? ORDER BY idx")) {
      p.setString(1, runId);
      p.setLong(2, from);
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

  public synchronized void putArtifact(String runId, String name, byte[] data) throws SQLException {
    try (PreparedStatement p = db.prepareStatement("INSERT OR REPLACE INTO artifacts VALUES (?,?,?)")) {
      p.setString(1, runId);
      p.setString(2, name);
      p.setBytes(3, data);
      p.executeUpdate();
    }
  }

  public synchronized Optional<byte[]> artifact(String runId, String name) throws SQLException {
    try (PreparedStatement p = db.prepareStatement("SELECT data FROM artifacts WHERE run_id = ? AND name = ?")) {
      p.setString(1, runId);
      p.setString(2, name);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.empty();
      }
    }
  }

  public synchronized void insertStudy(org.ctrlab.api.v1.Study study) throws SQLException {
    try (PreparedStatement p = db.prepareStatement("INSERT INTO studies VALUES (?,?,?,?)")) {
      p.setString(1, study.getStudyId());
      p.setString(2, study.getOwner());
      p.setLong(3, study.getCreatedUnixMs());
      p.setBytes(4, study.toByteArray());
      p.executeUpdate();
    }
  }

  public synchronized Optional<org.ctrlab.api.v1.Study> study(String id) throws SQLException {
    try (PreparedStatement p = db.prepareStatement("SELECT record FROM studies WHERE study_id = ?")) {
      p.setString(1, id);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? Optional.of(parseStudy(rs.getBytes(1))) : Optional.empty();
      }
    }
  }

  public synchronized List<org.ctrlab.api.v1.Study> studies(int limit) throws SQLException {
    try (PreparedStatement p = db.prepareStatement(
        "SELECT record FROM studies ORDER BY created_ms DESC, rowid DESC LIMIT ?")) {
      p.setInt(1, limit);
      List<org.ctrlab.api.v1.Study> out = new ArrayList<>();
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          out.add(parseStudy(rs.getBytes(1)));
        }
      }
      return out;
    }
  }

  private static org.ctrlab.api.v1.Study parseStudy(byte[] b) throws SQLException {
    try {
      return org.ctrlab.api.v1.Study.parseFrom(b);
    } catch (InvalidProtocolBufferException e) {
      throw new SQLException("corrupt study record", e);
    }
  }

  private static Run parse(byte[] b) throws SQLException {
    try {
      return Run.parseFrom(b);
    } catch (InvalidProtocolBufferException e) {
      throw new SQLException("corrupt run record", e);
    }
  }

  @Override
  public synchronized void close() throws SQLException {
    db.close();
  }
}
