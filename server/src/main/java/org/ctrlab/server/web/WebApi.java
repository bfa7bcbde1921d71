package org.ctrlab.server.web;

import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.TypeAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonWriter;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.Study;
import org.ctrlab.server.auth.Auth;
import org.ctrlab.server.auth.Caller;
import org.ctrlab.server.service.Analysis;
import org.ctrlab.server.service.BoxView;
import org.ctrlab.server.service.NotFoundException;
import org.ctrlab.server.service.Refusal;
import org.ctrlab.server.service.RunParams;
import org.ctrlab.server.service.RunTable;
import org.ctrlab.server.service.Runs;
import org.ctrlab.server.service.Studies;

/**
 * The dashboard's JSON API (docs/dashboard.md): read-only, GET only, each answer bounded. It translates HTTP to the
 * service layer the gRPC service uses (the same visibility and the same tokens, as {@code Authorization: Bearer}),
 * and decides nothing of its own.
 */
public final class WebApi implements HttpHandler {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(WebApi.class);
  /** The most runs one compare shows. */
  static final int MAX_COMPARE = 20;
  /** The most events one answer holds. */
  static final int MAX_EVENTS = 1000;
  /** The most bytes of one run record in an answer (a record past it loses its long texts, then its epochs). */
  static final int MAX_RUN_BYTES = 4 << 20;

  private static final JsonFormat.Printer PROTO = JsonFormat.printer().preservingProtoFieldNames()
      .omittingInsignificantWhitespace();
  static final Gson GSON = new GsonBuilder().setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES)
      .serializeNulls().registerTypeAdapter(Double.class, new FiniteOrNull())
      .registerTypeAdapter(double.class, new FiniteOrNull()).create();

  private final Auth auth;
  private final java.util.Set<String> hosts;
  private final Runs runs;
  private final RunTable table;
  private final Studies studies;
  private final BoxView box;
  private final Analysis analysis;

  /**
   * @param host the address the server listens on: without tokens, a request must name it (or loopback) in its Host
   *     header, so that a web page elsewhere cannot reach the API through a name it points at this machine (DNS
   *     rebinding)
   */
  public WebApi(Auth auth, String host, Runs runs, RunTable table, Studies studies, BoxView box, Analysis analysis) {
    this.auth = auth;
    java.util.Set<String> names = new java.util.HashSet<>(java.util.List.of("localhost", "127.0.0.1", "[::1]"));
    names.add(host.toLowerCase(java.util.Locale.ROOT));
    this.hosts = java.util.Set.copyOf(names);
    this.runs = runs;
    this.table = table;
    this.studies = studies;
    this.box = box;
    this.analysis = analysis;
  }

  /** An answer: status, content type and body. */
  record Answer(int status, String type, byte[] body) {
    static Answer json(Object o) {
      return json(200, o instanceof JsonElement e ? e.toString() : GSON.toJson(o));
    }

    static Answer json(int status, String json) {
      return new Answer(status, "application/json; charset=utf-8", json.getBytes(StandardCharsets.UTF_8));
    }

    static Answer error(int status, String message) {
      JsonObject o = new JsonObject();
      o.addProperty("error", message);
      return json(status, o.toString());
    }
  }

  @Override
  public void handle(HttpExchange x) throws IOException {
    try (x) {
      Headers.secure(x);
      x.getResponseHeaders().set("Cache-Control", "no-store");
      Answer a = answer(x);
      x.getResponseHeaders().set("Content-Type", a.type());
      if (a.status() == 401) {
        x.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"ctrlab\"");
      }
      boolean head = x.getRequestMethod().equals("HEAD");
      x.sendResponseHeaders(a.status(), head ? -1 : a.body().length);
      if (!head) {
        try (OutputStream out = x.getResponseBody()) {
          out.write(a.body());
        }
      }
    }
  }

  private Answer answer(HttpExchange x) {
    String method = x.getRequestMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      x.getResponseHeaders().set("Allow", "GET, HEAD");
      return Answer.error(405, "the dashboard's API only reads: use GET (changes go through ctrlab or the gRPC API)");
    }
    if (!auth.required() && !hosts.contains(hostOf(x.getRequestHeaders().getFirst("Host")))) {
      return Answer.error(403, "without tokens this server answers only requests addressed to it by its own name"
          + " (localhost or --host): give --tokens to serve the dashboard under other names");
    }
    Optional<Caller> caller = auth.authenticate(x.getRequestHeaders().getFirst("Authorization"));
    if (caller.isEmpty()) {
      return Answer.error(401, "this server needs a token: send 'Authorization: Bearer TOKEN' (the page asks for"
          + " it at sign-in)");
    }
    Map<String, String> q;
    try {
      q = query(x.getRequestURI().getRawQuery());
      return route(x.getRequestURI().getPath(), q, caller.get());
    } catch (Refusal r) {
      return Answer.error(r.code == io.grpc.Status.Code.PERMISSION_DENIED ? 403
          : r.code == io.grpc.Status.Code.RESOURCE_EXHAUSTED ? 429 : 503, r.getMessage());
    } catch (NotFoundException e) {
      return Answer.error(404, e.getMessage());
    } catch (IllegalArgumentException e) {
      return Answer.error(400, e.getMessage());
    } catch (IllegalStateException e) {
      return Answer.error(409, e.getMessage());
    } catch (Exception e) {
      LOG.warn("dashboard API call failed: {}", x.getRequestURI().getPath(), e);
      return Answer.error(500, "the server failed to answer this request (its log says why)");
    }
  }

  /** The host name of a Host header, without its port, lower case ("" when absent). */
  static String hostOf(String header) {
    if (header == null) {
      return "";
    }
    String h = header.strip().toLowerCase(java.util.Locale.ROOT);
    if (h.startsWith("[")) {
      int end = h.indexOf(']');
      return end < 0 ? h : h.substring(0, end + 1);
    }
    int colon = h.indexOf(':');
    return colon < 0 ? h : h.substring(0, colon);
  }

  private Answer route(String path, Map<String, String> q, Caller caller) throws Exception {
    String[] p = Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toArray(String[]::new);
    // p[0] is "api"
    if (p.length == 2 && p[1].equals("me")) {
      Map<String, Object> me = new LinkedHashMap<>();
      me.put("user", caller.user());
      me.put("admin", caller.admin());
      me.put("auth_required", auth.required());
      me.put("visibility", runs.visibility().name().toLowerCase(java.util.Locale.ROOT));
      return Answer.json(me);
    }
    if (p.length == 2 && p[1].equals("runs")) {
      return runTable(q, caller);
    }
    if (p.length >= 3 && p[1].equals("runs")) {
      String id = p[2];
      if (p.length == 3) {
        return run(id, caller);
      }
      if (p.length == 4) {
        switch (p[3]) {
          case "epochs":
            return epochs(id, integer(q, "after", 0), caller);
          case "events":
            return events(id, integer(q, "from", 0), Math.min(integer(q, "limit", 200), MAX_EVENTS), caller);
          case "norms":
            runs.requireReadable(id, caller);
            return Answer.json(JsonParser.parseString(PROTO.print(analysis.inspect(id, false, 0,
                org.ctrlab.server.train.Cancellation.NONE))));
          default:
            break;
        }
      }
    }
    if (p.length == 2 && p[1].equals("compare")) {
      return compare(q.getOrDefault("ids", ""), caller);
    }
    if (p.length == 2 && p[1].equals("studies")) {
      List<Study> list = studies.list(Math.min(integer(q, "limit", 50), 1000), caller, 4 << 20);
      List<JsonElement> out = new ArrayList<>();
      for (Study s : list) {
        JsonObject o = proto(s.toBuilder().clearRunIds().clearRequest().build());
        o.addProperty("runs", s.getRunIdsCount());
        o.add("request", proto(s.getRequest().toBuilder().clearBase().build()));
        out.add(o);
      }
      return Answer.json(GSON.toJsonTree(Map.of("studies", out)));
    }
    if (p.length == 3 && p[1].equals("studies")) {
      JsonObject o = new JsonObject();
      o.add("study", proto(studies.get(p[2], caller)));
      o.add("curves", GSON.toJsonTree(studies.curves(p[2], caller)));
      return Answer.json(o);
    }
    if (p.length == 2 && p[1].equals("box")) {
      return Answer.json(box.snapshot(caller));
    }
    return Answer.error(404, "no such API path: " + path + " (docs/dashboard.md lists them)");
  }

  private Answer runTable(Map<String, String> q, Caller caller) throws Exception {
    List<RunState> states = new ArrayList<>();
    for (String s : q.getOrDefault("state", "").split(",")) {
      if (!s.isBlank()) {
        try {
          states.add(RunState.valueOf(s.strip().toUpperCase(java.util.Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("unknown state '" + s + "'; use QUEUED, RUNNING, SUCCEEDED, FAILED or"
              + " CANCELLED");
        }
      }
    }
    boolean export = q.containsKey("format");
    String format = q.getOrDefault("format", "json");
    if (!format.equals("json") && !format.equals("csv")) {
      throw new IllegalArgumentException("format must be json or csv");
    }
    RunTable.Query query = new RunTable.Query(blank(q.get("owner")), states, blank(q.get("tag")),
        blank(q.get("backbone")), blank(q.get("head")), blank(q.get("dataset")), blank(q.get("study")),
        q.get("q"), q.get("sort"), !"asc".equals(q.get("order")), integer(q, "offset", 0),
        integer(q, "limit", export ? RunTable.MAX_EXPORT : 100));
    RunTable.Page page = table.query(query, caller, export ? RunTable.MAX_EXPORT : RunTable.MAX_PAGE);
    if (format.equals("csv")) {
      return new Answer(200, "text/csv; charset=utf-8", Csv.of(page.rows()).getBytes(StandardCharsets.UTF_8));
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("total", page.total());
    out.put("offset", page.offset());
    out.put("columns", RunTable.COLUMNS.stream().map(RunTable.Column::name).toList());
    out.put("shared", page.shared());
    out.put("rows", page.rows());
    return Answer.json(out);
  }

  private Answer run(String id, Caller caller) throws Exception {
    Run r = runs.get(id, caller, MAX_RUN_BYTES);
    JsonObject o = new JsonObject();
    o.add("run", proto(r));
    o.add("params", GSON.toJsonTree(RunParams.of(r)));
    o.add("progress", GSON.toJsonTree(progress(r, caller)));
    return Answer.json(o);
  }

  private Object progress(Run r, Caller caller) throws Exception {
    if (r.getState() != RunState.RUNNING) {
      return null;
    }
    return runs.progress(r.getRunId(), caller).orElse(null);
  }

  /** The epochs after {@code after}, with what a live page needs to know about the run besides. */
  private Answer epochs(String id, int after, Caller caller) throws Exception {
    Run r = runs.get(id, caller);
    List<JsonElement> epochs = new ArrayList<>();
    for (EpochResult e : r.getEpochsList()) {
      if (e.getEpoch() > after) {
        epochs.add(proto(e));
      }
    }
    JsonObject o = new JsonObject();
    o.addProperty("state", r.getState().name());
    o.addProperty("best_epoch", r.getBestEpoch());
    o.addProperty("queue_position", r.getQueuePosition());
    o.addProperty("message", r.getMessage());
    o.add("epochs", GSON.toJsonTree(epochs));
    o.add("progress", GSON.toJsonTree(progress(r, caller)));
    return Answer.json(o);
  }

  private Answer events(String id, int from, int limit, Caller caller) throws Exception {
    List<JsonElement> out = new ArrayList<>();
    for (RunEvent e : runs.events(id, from, limit, caller)) {
      out.add(proto(e));
    }
    return Answer.json(GSON.toJsonTree(Map.of("events", out)));
  }

  private Answer compare(String ids, Caller caller) throws Exception {
    List<String> list = Arrays.stream(ids.split(",")).map(String::strip).filter(s -> !s.isEmpty()).distinct()
        .toList();
    if (list.isEmpty() || list.size() > MAX_COMPARE) {
      throw new IllegalArgumentException("ids: give 1 to " + MAX_COMPARE + " run ids, comma-separated");
    }
    List<Run> rs = new ArrayList<>();
    for (String id : list) {
      rs.add(runs.get(id, caller, MAX_RUN_BYTES / 4));
    }
    List<Map<String, Object>> out = new ArrayList<>();
    for (Run r : rs) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("run_id", r.getRunId());
      m.put("row", RunTable.row(r, null, ""));
      List<JsonElement> epochs = new ArrayList<>();
      r.getEpochsList().forEach(e -> epochs.add(proto(e)));
      m.put("epochs", epochs);
      out.add(m);
    }
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("runs", out);
    o.put("differing", RunParams.differing(rs));
    return Answer.json(GSON.toJsonTree(o));
  }

  private static JsonObject proto(MessageOrBuilder m) {
    try {
      return JsonParser.parseString(PROTO.print(m)).getAsJsonObject();
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String blank(String s) {
    return s == null || s.isBlank() ? null : s.strip();
  }

  private static int integer(Map<String, String> q, String name, int otherwise) {
    String v = q.get(name);
    if (v == null || v.isEmpty()) {
      return otherwise;
    }
    try {
      int i = Integer.parseInt(v);
      if (i < 0) {
        throw new NumberFormatException();
      }
      return i;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number >= 0");
    }
  }

  /** The query string's parameters (the last of a repeated name wins); at most 32 of them. */
  static Map<String, String> query(String raw) {
    Map<String, String> out = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    String[] parts = raw.split("&");
    if (parts.length > 32) {
      throw new IllegalArgumentException("too many query parameters");
    }
    for (String part : parts) {
      int eq = part.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? part : part.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8);
      out.put(k, v);
    }
    return out;
  }

  /** JSON has no NaN or infinity: such a value (a std of one seed, a CI of one pair) is written as null. */
  static final class FiniteOrNull extends TypeAdapter<Double> {
    @Override
    public void write(JsonWriter out, Double v) throws IOException {
      if (v == null || v.isNaN() || v.isInfinite()) {
        out.nullValue();
      } else {
        out.value(v);
      }
    }

    @Override
    public Double read(JsonReader in) {
      throw new UnsupportedOperationException("write only");
    }
  }
}
