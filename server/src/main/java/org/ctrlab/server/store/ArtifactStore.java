package org.ctrlab.server.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;

/** Runs' binary artifacts, by run and name (the inspection record a worker writes at the end, ...). */
public final class ArtifactStore {
  private final Connections connections;

  ArtifactStore(Connections connections) {
    this.connections = connections;
  }

  public void put(String runId, String name, byte[] data) throws SQLException {
    try (Connection db = connections.get()) {
      try (PreparedStatement p = db.prepareStatement("INSERT INTO artifacts (run_id, name, data) VALUES (?,?,?)"
          + " ON CONFLICT (run_id, name) DO UPDATE SET data = excluded.data")) {
        p.setString(1, runId);
        p.setString(2, name);
        p.setBytes(3, data);
        p.executeUpdate();
      }
    }
  }

  public Optional<byte[]> get(String runId, String name) throws SQLException {
    try (Connection db = connections.get()) {
      try (PreparedStatement p = db.prepareStatement("SELECT data FROM artifacts WHERE run_id = ? AND name = ?")) {
        p.setString(1, runId);
        p.setString(2, name);
        try (ResultSet rs = p.executeQuery()) {
          return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.empty();
        }
      }
    }
  }
}
