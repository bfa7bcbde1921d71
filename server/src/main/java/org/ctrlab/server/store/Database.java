package org.ctrlab.server.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.ctrlab.server.files.PrivateFiles;
import org.flywaydb.core.Flyway;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * The database behind a store: an embedded SQLite file for one box, or PostgreSQL for a cluster
 * ({@code jdbc:postgresql://...}), opened through a connection pool (HikariCP), its schema created and migrated by
 * Flyway (db/migration/sqlite or db/migration/postgresql).
 */
final class Database implements AutoCloseable {
  private final HikariDataSource pool;
  private final RunStore.Dialect dialect;
  /** Where it is, for messages: the SQLite file, or the PostgreSQL URL with its password masked. */
  private final String where;

  private Database(HikariDataSource pool, RunStore.Dialect dialect, String where) {
    this.pool = pool;
    this.dialect = dialect;
    this.where = where;
  }

  /**
   * Opens a pool of at most poolSize connections (SQLite: 4) to {@code jdbc:postgresql://HOST:PORT/DB?...}, or to an
   * SQLite file at a path (created, with its folder, readable by this user only), without touching its schema. A
   * PostgreSQL password the URL does not carry comes from {@link #password(Path)}.
   */
  static Database connect(String location, int poolSize, Path passwordFile) throws SQLException {
    HikariConfig hc = new HikariConfig();
    hc.setMinimumIdle(1);
    hc.setPoolName("ctrlab-store");
    hc.setConnectionTimeout(30_000);
    RunStore.Dialect d;
    String where;
    if (location.startsWith("jdbc:postgresql:")) {
      d = RunStore.Dialect.POSTGRESQL;
      hc.setJdbcUrl(location);
      String password = password(passwordFile);
      if (password != null && !location.matches(".*[?&]password=.*")) {
        hc.setPassword(password);
      }
      hc.setMaximumPoolSize(poolSize); // the server 8, each worker 2: 8 + 2 per slot of max_connections
      where = location.replaceAll("password=[^&]*", "password=***");
    } else {
      String file = location.startsWith("jdbc:sqlite:") ? location.substring("jdbc:sqlite:".length()) : location;
      Path path = Path.of(file).toAbsolutePath();
      try {
        PrivateFiles.createDirectories(path.getParent());
      } catch (java.io.IOException e) {
        throw new SQLException("cannot create " + path.getParent(), e);
      }
      try {
        // Created readable by the server's user only, whatever the umask: SQLite gives its -wal and -shm files the
        // database file's mode.
        PrivateFiles.createFile(path);
      } catch (java.io.IOException e) {
        throw new SQLException("cannot create " + path + ": " + e.getMessage(), e);
      }
      SQLiteConfig c = new SQLiteConfig();
      c.setJournalMode(SQLiteConfig.JournalMode.WAL);
      // FULL: every commit syncs the write-ahead log, so a committed state change (a run SUCCEEDED) survives a power
      // loss; NORMAL in WAL mode may lose the last commits.
      c.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
      c.setBusyTimeout(30_000);
      c.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
      SQLiteDataSource sds = new SQLiteDataSource(c);
      sds.setUrl("jdbc:sqlite:" + path);
      hc.setDataSource(sds);
      hc.setMaximumPoolSize(Math.min(poolSize, 4));
      d = RunStore.Dialect.SQLITE;
      where = path.toString();
    }
    try {
      return new Database(new HikariDataSource(hc), d, where);
    } catch (RuntimeException e) {
      throw new SQLException("cannot open the run store " + where + ": " + e.getMessage(), e);
    }
  }

  /**
   * The PostgreSQL password when the URL carries none: the file given (--store-password-file), else the file named by
   * $CTRLAB_STORE_PASSWORD_FILE, else $CTRLAB_STORE_PASSWORD. Each keeps it off every command line ({@code ps} shows
   * those to every local user); a worker gets the file's path, or inherits the variables, in its environment.
   */
  static String password(Path passwordFile) throws SQLException {
    String file = passwordFile != null ? passwordFile.toString() : System.getenv("CTRLAB_STORE_PASSWORD_FILE");
    if (file != null && !file.isEmpty()) {
      try {
        return Files.readString(Path.of(file)).strip();
      } catch (java.io.IOException e) {
        throw new SQLException("cannot read the store's password file " + file + ": " + e.getMessage(), e);
      }
    }
    String pw = System.getenv("CTRLAB_STORE_PASSWORD");
    return pw == null || pw.isEmpty() ? null : pw;
  }

  /** Creates or migrates the schema. */
  void migrate() throws SQLException {
    try {
      // An SQLite file of ctrlab 0.1 has V1's tables but no history: it is baselined at V1. No PostgreSQL store of
      // 0.1 exists, so a schema there that holds other tables is baselined before V1, which then runs.
      var f = Flyway.configure().dataSource(pool).baselineOnMigrate(true)
          .baselineVersion(dialect == RunStore.Dialect.SQLITE ? "1" : "0")
          .locations("classpath:db/migration/" + (dialect == RunStore.Dialect.SQLITE ? "sqlite" : "postgresql"));
      String schema = schema();
      if (dialect == RunStore.Dialect.POSTGRESQL && schema != null) {
        f = f.schemas(schema).createSchemas(true);
      }
      f.load().migrate();
    } catch (org.flywaydb.core.api.FlywayException e) {
      throw new SQLException("cannot migrate the run store " + where + ": " + e.getMessage(), e);
    }
  }

  /** The PostgreSQL schema its URL names ({@code currentSchema}), or null. */
  String schema() {
    if (dialect != RunStore.Dialect.POSTGRESQL) {
      return null;
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("[?&]currentSchema=([^&]+)")
        .matcher(pool.getJdbcUrl());
    return m.find() ? m.group(1) : null;
  }

  /** A new connection outside the pool, with the pool's URL and password (one that must live on its own). */
  Connection ownConnection() throws SQLException {
    java.util.Properties props = new java.util.Properties();
    if (pool.getPassword() != null) {
      props.setProperty("password", pool.getPassword());
    }
    return java.sql.DriverManager.getConnection(pool.getJdbcUrl(), props);
  }

  Connection connection() throws SQLException {
    return pool.getConnection();
  }

  RunStore.Dialect dialect() {
    return dialect;
  }

  String where() {
    return where;
  }

  /** SQLite's durability setting of the connections (2 = FULL). */
  int sqliteSynchronous() throws SQLException {
    try (Connection db = connection(); Statement st = db.createStatement();
        ResultSet rs = st.executeQuery("PRAGMA synchronous")) {
      return rs.next() ? rs.getInt(1) : -1;
    }
  }

  @Override
  public void close() {
    pool.close();
  }
}
