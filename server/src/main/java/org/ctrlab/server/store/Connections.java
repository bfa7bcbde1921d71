package org.ctrlab.server.store;

import java.sql.Connection;
import java.sql.SQLException;

/** A connection from a store's pool, for the parts of the store that share it. */
@FunctionalInterface
interface Connections {
  Connection get() throws SQLException;
}
