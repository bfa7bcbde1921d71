package org.ctrlab.server.web;

import com.sun.net.httpserver.HttpExchange;

/** Headers every answer carries: the page runs only its own scripts, is never framed, and leaks no referrer. */
final class Headers {
  private Headers() {}

  static void secure(HttpExchange x) {
    var h = x.getResponseHeaders();
    h.set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        + " frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    h.set("X-Content-Type-Options", "nosniff");
    h.set("X-Frame-Options", "DENY");
    h.set("Referrer-Policy", "no-referrer");
  }
}
