package org.ctrlab.server.store;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.ctrlab.server.files.PrivateFiles;

/**
 * Makes sure no other server uses a store: an exclusive lock held until {@link #close()} (a file lock beside an
 * SQLite store, a PostgreSQL advisory lock, keyed by the store's schema, on a connection of its own). Two servers on
 * one store would both schedule its queue and each stop the other's workers.
 */
final class ServerLock implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ServerLock.class);
  private final Database db;
  /** What releases the lock now held (null once closed). */
  private AutoCloseable held;
  /** The connection holding a PostgreSQL lock (the lock goes if it drops), else null. */
  private volatile Connection lockConnection;
  /** Another server took the lock after this one's was lost: this server must start nothing more. */
  private volatile boolean lost;
  /** Released for good: a check no longer takes it again. */
  private boolean closed;

  private ServerLock(Database db) {
    this.db = db;
  }

  /** Takes the lock of a store's database, or throws an SQLException saying another server holds it. */
  static ServerLock take(Database db) throws SQLException {
    ServerLock l = new ServerLock(db);
    l.held = l.acquire();
    return l;
  }

  private AutoCloseable acquire() throws SQLException {
    String where = db.where();
    if (db.dialect() == RunStore.Dialect.SQLITE) {
      Path lock = Path.of(where + ".server-lock");
      FileChannel ch = null;
      try {
        PrivateFiles.createFile(lock);
        ch = FileChannel.open(lock, StandardOpenOption.WRITE);
        FileLock l = ch.tryLock();
        if (l == null) {
          throw new SQLException("another ctrlab server uses the run store " + where + " (it holds " + lock + ")");
        }
        FileChannel open = ch;
        return () -> {
          l.release();
          open.close();
        };
      } catch (java.io.IOException | java.nio.channels.OverlappingFileLockException e) {
        closeQuietly(ch);
        throw new SQLException("another ctrlab server uses the run store " + where + ": " + e, e);
      } catch (SQLException e) {
        closeQuietly(ch);
        throw e;
      }
    }
    String schema = db.schema();
    Connection c = db.ownConnection();
    try (PreparedStatement p = c.prepareStatement("SELECT pg_try_advisory_lock(hashtext(?))")) {
      p.setString(1, "ctrlab:" + (schema == null ? "public" : schema));
      try (ResultSet rs = p.executeQuery()) {
        rs.next();
        if (!rs.getBoolean(1)) {
          throw new SQLException("another ctrlab server uses the run store " + where);
        }
      }
    } catch (SQLException e) {
      c.close();
      throw e;
    }
    lockConnection = c;
    return c::close;
  }

  /**
   * Checks that a PostgreSQL lock is still held: the lock goes with its connection (a restart of the database, a
   * network cut), and then a second server could take the queue. A lost lock is taken again; if another server has
   * it meanwhile, {@link #lost()} is true from then on. Returns whether this server holds it. Nothing to check for
   * SQLite (a file lock held by this process).
   */
  synchronized boolean check() {
    Connection c = lockConnection;
    if (c == null || lost || closed) {
      return !lost;
    }
    try (PreparedStatement p = c.prepareStatement("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        + " AND pid = pg_backend_pid() AND granted")) {
      p.setQueryTimeout(5);
      try (ResultSet rs = p.executeQuery()) {
        if (rs.next() && rs.getInt(1) > 0) {
          return true;
        }
      }
    } catch (SQLException e) {
      // the connection is gone, and the lock with it
    }
    try {
      c.close();
    } catch (SQLException ignored) {
      // already closed
    }
    try {
      held = acquire();
      LOG.warn("the connection holding this server's lock on the run store {} was lost; the lock is held again",
          db.where());
      return true;
    } catch (SQLException e) {
      lost = true;
      lockConnection = null;
      LOG.error("this server's lock on the run store {} was lost and {}: no run is started here any more; stop"
          + " this server", db.where(), e.getMessage());
      return false;
    }
  }

  /** Whether the lock was lost to another server ({@link #check()}). */
  boolean lost() {
    return lost;
  }

  /** The database process serving the lock's connection (PostgreSQL), for tests that cut it. */
  int backendPid() throws SQLException {
    try (Statement st = lockConnection.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      if (c != null) {
        c.close();
      }
    } catch (java.io.IOException ignored) {
      // the lock's failure is reported
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    lockConnection = null;
    if (held != null) {
      try {
        held.close();
      } catch (Exception e) {
        // the process is letting the store go; the lock goes with its file handle or connection
      }
      held = null;
    }
  }
}
