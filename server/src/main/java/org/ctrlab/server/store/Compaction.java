package org.ctrlab.server.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** Gives a SQLite store's free pages back to the file system ({@link RunStore#compactIfFragmented}). */
final class Compaction {
  private Compaction() {}

  static boolean ifFragmented(RunStore.Dialect dialect, Connections connections, double fraction) throws SQLException {
    if (dialect == RunStore.Dialect.POSTGRESQL) {
      return false; // PostgreSQL's autovacuum gives dead rows' space back
    }
    try (Connection db = connections.get()) {
      try (Statement s = db.createStatement()) {
        long free;
        long pages;
        try (ResultSet rs = s.executeQuery("PRAGMA freelist_count")) {
          rs.next();
          free = rs.getLong(1);
        }
        try (ResultSet rs = s.executeQuery("PRAGMA page_count")) {
          rs.next();
          pages = rs.getLong(1);
        }
        if (pages == 0 || free <= fraction * pages) {
          return false;
        }
        s.execute("VACUUM");
        s.execute("PRAGMA wal_checkpoint(TRUNCATE)");
        return true;
      }
    }
  }
}
