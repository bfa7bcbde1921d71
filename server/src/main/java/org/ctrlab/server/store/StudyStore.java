package org.ctrlab.server.store;

import com.google.protobuf.InvalidProtocolBufferException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.ctrlab.api.v1.Study;

/** Studies as stored: each a {@link Study} record, written with its runs ({@link RunStore#insert}), read here. */
public final class StudyStore {
  private final Connections connections;

  StudyStore(Connections connections) {
    this.connections = connections;
  }

  public Optional<Study> get(String id) throws SQLException {
    try (Connection db = connections.get()) {
      try (PreparedStatement p = db.prepareStatement("SELECT record FROM studies WHERE study_id = ?")) {
        p.setString(1, id);
        try (ResultSet rs = p.executeQuery()) {
          return rs.next() ? Optional.of(parse(rs.getBytes(1))) : Optional.empty();
        }
      }
    }
  }

  /** The newest studies of one owner (of everyone's when owner is null), at most {@code limit}. */
  public List<Study> newest(int limit, String owner) throws SQLException {
    try (Connection db = connections.get()) {
      try (PreparedStatement p = db.prepareStatement("SELECT record FROM studies"
          + (owner == null ? "" : " WHERE owner = ?") + " ORDER BY created_ms DESC, study_id DESC LIMIT ?")) {
        int i = 1;
        if (owner != null) {
          p.setString(i++, owner);
        }
        p.setInt(i, limit);
        List<Study> out = new ArrayList<>();
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            out.add(parse(rs.getBytes(1)));
          }
        }
        return out;
      }
    }
  }

  static Study parse(byte[] b) throws SQLException {
    try {
      return Study.parseFrom(b);
    } catch (InvalidProtocolBufferException e) {
      throw new SQLException("corrupt study record", e);
    }
  }
}
