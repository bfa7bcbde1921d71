package org.ctrlab.server.service;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.Study;
import org.ctrlab.server.auth.Caller;
import org.ctrlab.server.store.RunStore;

/**
 * The runs table of the dashboard: one small row per run the caller may read, filtered, sorted by any column and
 * paged, with the columns whose value every matching run shares named apart (a table can hide them). Each record is
 * reduced to its row as it is read, so a table over 10,000 runs holds 10,000 rows, not 10,000 records.
 */
public final class RunTable {
  /** The most rows one page holds. */
  public static final int MAX_PAGE = 1000;
  /** The most rows one export holds. */
  public static final int MAX_EXPORT = RunStore.MAX_PAGE_ROWS;

  /** One run, as a table shows it. Absent values are null (a BINARY run has no rating weight). */
  public record Row(String runId, String owner, String name, List<String> tags, String study, String dataset,
      String backbone, String head, Double ratingWeight, long seed, String state, Integer queuePosition, int epochs,
      Integer bestEpoch, Double validAuc, Double testAuc, Double testLogloss, Double secondsPerEpoch, long createdMs,
      Long startedMs, Long finishedMs, int attempt, String message) {}

  /** A column: its name in queries and exports, and how a row gives its value. */
  public record Column(String name, Function<Row, Object> value) {}

  /** The columns in display order. */
  public static final List<Column> COLUMNS = List.of(
      new Column("run_id", Row::runId), new Column("owner", Row::owner), new Column("name", Row::name),
      new Column("tags", r -> String.join(",", r.tags())), new Column("study", Row::study),
      new Column("dataset", Row::dataset), new Column("backbone", Row::backbone), new Column("head", Row::head),
      new Column("rating_weight", Row::ratingWeight), new Column("seed", Row::seed), new Column("state", Row::state),
      new Column("queue_position", Row::queuePosition), new Column("epochs", Row::epochs),
      new Column("best_epoch", Row::bestEpoch), new Column("valid_auc", Row::validAuc),
      new Column("test_auc", Row::testAuc), new Column("test_logloss", Row::testLogloss),
      new Column("seconds_per_epoch", Row::secondsPerEpoch), new Column("created_ms", Row::createdMs),
      new Column("started_ms", Row::startedMs), new Column("finished_ms", Row::finishedMs),
      new Column("attempt", Row::attempt), new Column("message", Row::message));

  private static final Map<String, Column> BY_NAME = new HashMap<>();

  static {
    COLUMNS.forEach(c -> BY_NAME.put(c.name(), c));
  }

  /**
   * What to show: filters (empty = any), free text matched in id, name, tags, owner, study, backbone, dataset and
   * message, a sort column (created_ms by default, newest first), and a page.
   */
  public record Query(String owner, List<RunState> states, String tag, String backbone, String head, String dataset,
      String study, String text, String sort, boolean descending, int offset, int limit) {
    public Query {
      states = states == null ? List.of() : List.copyOf(states);
      sort = sort == null || sort.isEmpty() ? "created_ms" : sort;
      if (!BY_NAME.containsKey(sort)) {
        throw new IllegalArgumentException("unknown sort column '" + sort + "'; use one of " + String.join(", ",
            COLUMNS.stream().map(Column::name).toList()));
      }
      if (offset < 0 || limit < 0) {
        throw new IllegalArgumentException("offset and limit must be >= 0");
      }
      if (head != null && !head.isEmpty() && !head.equals("BINARY") && !head.equals("RATING")) {
        throw new IllegalArgumentException("head must be BINARY or RATING, got '" + head + "'");
      }
    }
  }

  /** A page: the matching runs' count, the page's rows, and the columns every matching run has the same value in. */
  public record Page(int total, int offset, List<Row> rows, Map<String, Object> shared) {}

  private final Runs runs;
  private final RunStore store;

  public RunTable(Runs runs, RunStore store) {
    this.runs = runs;
    this.store = store;
  }

  /** A page of at most {@code min(query.limit, max)} rows (100 when the limit is 0). */
  public Page query(Query q, Caller caller, int max) throws SQLException {
    Map<String, String> studyOf = studies(caller);
    java.util.Set<String> inStudy = null;
    if (q.study() != null && !q.study().isEmpty()) {
      Study s = store.studies().get(Ids.check("study", q.study())).orElseThrow(
          () -> new NotFoundException("no study with id '" + q.study() + "'"));
      runs.checkRead("study " + s.getStudyId(), s.getOwner(), caller);
      inStudy = Set.copyOf(s.getRunIdsList());
    }
    ListRunsRequest.Builder f = ListRunsRequest.newBuilder().addAllStates(q.states());
    if (q.owner() != null) {
      f.setOwner(q.owner());
    }
    if (q.tag() != null) {
      f.setTag(q.tag());
    }
    if (q.backbone() != null) {
      f.setBackbone(q.backbone());
    }
    if (q.dataset() != null) {
      f.setDataset(q.dataset());
    }
    List<String> order = runs.queueOrder();
    Map<String, Integer> position = new HashMap<>();
    for (int i = 0; i < order.size(); i++) {
      position.put(order.get(i), i);
    }
    String text = q.text() == null ? "" : q.text().strip().toLowerCase(Locale.ROOT);
    String head = q.head() == null ? "" : q.head();
    List<Row> rows = new ArrayList<>();
    java.util.Set<String> only = inStudy;
    runs.scan(f.build(), caller, r -> {
      if (only != null && !only.contains(r.getRunId())) {
        return;
      }
      if (!head.isEmpty() && !headOf(r.getResolved()).equals(head)) {
        return;
      }
      Row row = row(r, position.get(r.getRunId()), studyOf.getOrDefault(r.getRunId(), ""));
      if (!text.isEmpty() && !matches(row, text)) {
        return;
      }
      rows.add(row);
    });
    sort(rows, q.sort(), q.descending());
    int limit = Math.min(q.limit() == 0 ? 100 : q.limit(), max);
    int from = Math.min(q.offset(), rows.size());
    List<Row> page = List.copyOf(rows.subList(from, Math.min(rows.size(), from + limit)));
    return new Page(rows.size(), from, page, shared(rows));
  }

  /** Run id to study id, for the studies the caller may read. */
  private Map<String, String> studies(Caller caller) throws SQLException {
    Map<String, String> out = new HashMap<>();
    for (Study s : store.studies().newest(1000, runs.readableOwner(caller))) {
      if (runs.mayRead(s.getOwner(), caller)) {
        s.getRunIdsList().forEach(id -> out.put(id, s.getStudyId()));
      }
    }
    return out;
  }

  static String headOf(ResolvedConfig c) {
    return c.getHead() == Head.RATING ? "RATING" : "BINARY";
  }

  /** The table row of a run. */
  public static Row row(Run r, Integer queuePosition, String study) {
    ResolvedConfig c = r.getResolved();
    boolean rating = c.getHead() == Head.RATING;
    boolean done = r.getState() == RunState.SUCCEEDED;
    return new Row(r.getRunId(), r.getOwner(), r.getRequest().getName(), List.copyOf(r.getRequest().getTagsList()),
        study, c.getDataset(), c.getBackbone(), headOf(c), rating ? c.getRatingWeight() : null, c.getSeed(),
        r.getState().name(), r.getState() == RunState.QUEUED ? queuePosition : null, r.getEpochsCount(),
        r.getBestEpoch() > 0 ? r.getBestEpoch() : null, r.hasValid() ? Double.valueOf(r.getValid().getAuc()) : bestValid(r),
        done && r.hasTest() ? r.getTest().getAuc() : null, done && r.hasTest() ? r.getTest().getLogloss() : null,
        r.getSecondsPerEpoch() > 0 ? r.getSecondsPerEpoch() : null, r.getCreatedUnixMs(),
        r.getStartedUnixMs() > 0 ? r.getStartedUnixMs() : null, r.getFinishedUnixMs() > 0 ? r.getFinishedUnixMs()
            : null, r.getAttempt(), r.getMessage().length() <= 300 ? r.getMessage()
                : r.getMessage().substring(0, 300) + "…");
  }

  /** A running run's best validation AUC so far. */
  private static Double bestValid(Run r) {
    return r.getEpochsList().stream().mapToDouble(e -> e.getValidAuc()).max().stream().boxed().findFirst()
        .orElse(null);
  }

  private static boolean matches(Row r, String text) {
    for (String s : new String[] {r.runId(), r.name(), String.join(",", r.tags()), r.owner(), r.study(),
        r.backbone(), r.dataset(), r.message()}) {
      if (s != null && s.toLowerCase(Locale.ROOT).contains(text)) {
        return true;
      }
    }
    return false;
  }

  /** Columns whose value is the same in every row (none for fewer than two rows: nothing is shared then). */
  static Map<String, Object> shared(List<Row> rows) {
    Map<String, Object> out = new LinkedHashMap<>();
    if (rows.size() < 2) {
      return out;
    }
    for (Column c : COLUMNS) {
      Object first = c.value().apply(rows.get(0));
      boolean same = true;
      for (Row r : rows) {
        if (!Objects.equals(first, c.value().apply(r))) {
          same = false;
          break;
        }
      }
      if (same) {
        out.put(c.name(), first);
      }
    }
    return out;
  }

  /** Sorts rows by a column, numbers as numbers, empty values last in either direction. */
  static void sort(List<Row> rows, String column, boolean descending) {
    Column sort = BY_NAME.get(column);
    int sign = descending ? -1 : 1;
    rows.sort((a, b) -> compareKeys(sort.value().apply(a), sort.value().apply(b), sign));
  }

  /** Numbers as numbers, anything else as text, in the direction of {@code sign}; empty values last either way. */
  private static int compareKeys(Object a, Object b, int sign) {
    if (a == null || b == null) {
      return a == null ? (b == null ? 0 : 1) : -1;
    }
    if (a instanceof Number x && b instanceof Number y) {
      return sign * Double.compare(x.doubleValue(), y.doubleValue());
    }
    return sign * a.toString().compareTo(b.toString());
  }
}
