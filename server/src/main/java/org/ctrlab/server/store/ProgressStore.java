package org.ctrlab.server.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;

/** Running runs' live position inside an epoch: one row per run, overwritten, written by its worker. */
public final class ProgressStore {
  private final Connections connections;

  ProgressStore(Connections connections) {
    this.connections = connections;
  }

  /** A live batch-progress row. */
  public record Progress(String runId, int attempt, int epoch, int batch, int batches, long unixMs) {}

  /** Records a running run's position inside an epoch (live only; one row per run, overwritten). */
  public void put(Progress pr) throws SQLException {
    try (Connection db = connections.get()) {
      try (PreparedStatement p = db.prepareStatement("INSERT INTO progress (run_id, attempt, epoch, batch, batches,"
          + " unix_ms) VALUES (?,?,?,?,?,?) ON CONFLICT (run_id) DO UPDATE SET attempt = excluded.attempt,"
          + " epoch = excluded.epoch, batch = excluded.batch, batches = excluded.batches, unix_ms = excluded.unix_ms")) {
        p.setString(1, pr.runId());
        p.setInt(2, pr.attempt());
        p.setInt(3, pr.epoch());
        p.setInt(4, pr.batch());
        p.setInt(5, pr.batches());
        p.setLong(6, pr.unixMs());
        p.executeUpdate();
      }
    }
  }

  public Optional<Progress> get(String runId) throws SQLException {
    try (Connection db = connections.get()) {
      try (PreparedStatement p = db.prepareStatement(
          "SELECT attempt, epoch, batch, batches, unix_ms FROM progress WHERE run_id = ?")) {
        p.setString(1, runId);
        try (ResultSet rs = p.executeQuery()) {
          return rs.next() ? Optional.of(new Progress(runId, rs.getInt(1), rs.getInt(2), rs.getInt(3), rs.getInt(4),
              rs.getLong(5))) : Optional.empty();
        }
      }
    }
  }
}
