package org.ctrlab.server.web;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Map;

/**
 * The page's files, all from the jar (nothing from a CDN): the page, its script and style, and the vendored uPlot
 * (MIT, its licence served beside it). Only the files named here are served.
 */
final class StaticFiles implements HttpHandler {
  private static final String UPLOT = "/META-INF/resources/webjars/uplot/1.6.30/";

  private record File(String resource, String type) {}

  private static final Map<String, File> FILES = Map.of(
      "/", new File("/web/index.html", "text/html; charset=utf-8"),
      "/static/app.js", new File("/web/app.js", "text/javascript; charset=utf-8"),
      "/static/app.css", new File("/web/app.css", "text/css; charset=utf-8"),
      "/static/uplot/uPlot.iife.min.js", new File(UPLOT + "dist/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
      "/static/uplot/uPlot.min.css", new File(UPLOT + "dist/uPlot.min.css", "text/css; charset=utf-8"),
      "/static/uplot/LICENSE", new File(UPLOT + "LICENSE", "text/plain; charset=utf-8"));

  @Override
  public void handle(HttpExchange x) throws IOException {
    try (x) {
      Headers.secure(x);
      String method = x.getRequestMethod();
      if (!method.equals("GET") && !method.equals("HEAD")) {
        x.getResponseHeaders().set("Allow", "GET, HEAD");
        x.sendResponseHeaders(405, -1);
        return;
      }
      File f = FILES.get(x.getRequestURI().getPath());
      byte[] body = f == null ? null : read(f.resource());
      if (body == null) {
        byte[] msg = "not found\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        boolean head = method.equals("HEAD");
        x.sendResponseHeaders(404, head ? -1 : msg.length);
        if (!head) {
          x.getResponseBody().write(msg);
        }
        return;
      }
      x.getResponseHeaders().set("Content-Type", f.type());
      x.getResponseHeaders().set("Cache-Control", "no-cache");
      if (method.equals("HEAD")) {
        x.sendResponseHeaders(200, -1);
        return;
      }
      x.sendResponseHeaders(200, body.length);
      try (OutputStream out = x.getResponseBody()) {
        out.write(body);
      }
    }
  }

  private static byte[] read(String resource) throws IOException {
    try (InputStream in = StaticFiles.class.getResourceAsStream(resource)) {
      return in == null ? null : in.readAllBytes();
    }
  }
}
