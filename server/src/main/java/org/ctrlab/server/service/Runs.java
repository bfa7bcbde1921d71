package org.ctrlab.server.service;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.ParamValue;
import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.RunEvent;
import org.ctrlab.api.v1.RunState;
import org.ctrlab.api.v1.StateChange;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.auth.Caller;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.DatasetRegistry;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.jobs.Worker;
import org.ctrlab.server.model.backbone.ParameterCount;
import org.ctrlab.server.store.ProgressStore;
import org.ctrlab.server.store.RunStore;

/**
 * Runs as their users see them: submitting (every limit checked, cheapest first, before anything is stored),
 * reading with the exact queue position, listing in pages, cancelling one or many, deleting.
 */
public final class Runs {
  private final RunStore store;
  private final Supervisor supervisor;
  private final EventHub hub;
  private final RunConfigs configs;
  private final DatasetRegistry datasets;
  private final Limits limits;
  private final Path runDir;
  private final String device;
  private final Visibility visibility;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Runs.class);

  private final double maxRunHours;

  public Runs(RunStore store, Supervisor supervisor, EventHub hub, RunConfigs configs, DatasetRegistry datasets,
      Limits limits, Path runDir, String device, Visibility visibility, double maxRunHours) {
    this.visibility = visibility;
    this.maxRunHours = maxRunHours;
    this.store = store;
    this.supervisor = supervisor;
    this.hub = hub;
    this.configs = configs;
    this.datasets = datasets;
    this.limits = limits;
    this.runDir = runDir;
    this.device = device;
  }

  public Limits limits() {
    return limits;
  }

  public Visibility visibility() {
    return visibility;
  }

  public Map<String, Integer> queuedByUser() throws SQLException {
    return store.queuedByOwner();
  }

  public Map<String, Integer> runsByState() throws SQLException {
    Map<String, Integer> out = new java.util.LinkedHashMap<>();
    store.countByState().forEach((st, n) -> out.put(st.name(), n));
    return out;
  }

  /** Refuses a name (of a run, a study) longer than --max-name-length; what says whose, as the message's start. */
  void checkName(String what, String name) {
    if (name.length() > limits.maxNameLength()) {
      throw new IllegalArgumentException(String.format("%s has %,d characters; at most %d (--max-name-length)", what,
          name.length(), limits.maxNameLength()));
    }
  }

  /** Checks what a request can be checked for without data: text sizes, list lengths, ranges. */
  ResolvedConfig check(TrainRequest req) {
    checkName("name", req.getName());
    if (req.getTagsCount() > limits.maxTags()) {
      throw new IllegalArgumentException(String.format("%d tags; at most %d (--max-tags)", req.getTagsCount(),
          limits.maxTags()));
    }
    for (String t : req.getTagsList()) {
      if (t.isEmpty() || t.length() > limits.maxTagLength()) {
        throw new IllegalArgumentException(String.format("tag %s must have 1 to %d characters (--max-tag-length)",
            Ids.quote(t), limits.maxTagLength()));
      }
    }
    for (Map.Entry<String, ParamValue> e : req.getHyperparametersMap().entrySet()) {
      if (e.getValue().hasList() && e.getValue().getList().getValuesCount() > limits.maxListLength()) {
        throw new IllegalArgumentException(String.format("hyperparameter %s has %,d values; at most %d"
            + " (--max-list-length)", Ids.quote(e.getKey()), e.getValue().getList().getValuesCount(),
            limits.maxListLength()));
      }
      if (e.getValue().hasText() && e.getValue().getText().length() > limits.maxNameLength()) {
        throw new IllegalArgumentException("hyperparameter " + Ids.quote(e.getKey()) + " has a value of "
            + e.getValue().getText().length() + " characters");
      }
    }
    if (req.hasMaxHours() && !(req.getMaxHours() > 0 && req.getMaxHours() <= maxRunHours)) {
      throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "max_hours must be in (0, %s] (the"
          + " server's --max-run-hours), got %s", maxRunHours, req.getMaxHours()));
    }
    if (req.getBf16() && org.ctrlab.server.Devices.bf16().isEmpty()) {
      throw new IllegalArgumentException("bf16: " + org.ctrlab.server.Devices.noBf16Reason() + "; train in float32"
          + " (ctrlab info shows what the server supports)");
    }
    return configs.resolve(req).toBuilder().setMaxHours(req.hasMaxHours() ? req.getMaxHours() : maxRunHours)
        .setBf16(req.getBf16()).build();
  }

  /** Loads the run's dataset (reporting bad data to the caller) and checks the model's size against the limit. */
  private void checkModel(ResolvedConfig c) {
    Dataset ds = datasets.load(c.getDataset());
    long params = ParameterCount.model(c.getBackbone(), ParameterCount.rows(ds.fields), ds.fields.size(),
        c.getEmbeddingSize(), c.getHead() == org.ctrlab.api.v1.Head.RATING ? 5 : 1, RunConfigs.hyper(c));
    if (params > limits.maxParameters()) {
      throw new IllegalArgumentException(String.format("%s with these hyperparameters on %s has %,d trainable"
          + " parameters; at most %,d (--max-parameters)", c.getBackbone(), c.getDataset(), params,
          limits.maxParameters()));
    }
  }

  /** Validates and queues a run. */
  public Run submit(TrainRequest req, String owner) throws SQLException {
    return submitAll(List.of(req), owner, null).get(0);
  }

  /**
   * Validates every request, then queues them all, with the study if given, in one transaction: a bad request or a
   * full queue queues nothing.
   */
  public List<Run> submitAll(List<TrainRequest> reqs, String owner, Study study) throws SQLException {
    List<ResolvedConfig> resolved = validateAll(reqs);
    return queueAll(reqs, resolved, owner, study);
  }

  /** Every check {@link #submitAll} makes before it queues anything; returns what each request resolves to. */
  public List<ResolvedConfig> validateAll(List<TrainRequest> reqs) {
    List<ResolvedConfig> resolved = new ArrayList<>();
    for (TrainRequest t : reqs) {
      try {
        resolved.add(check(t));
      } catch (IllegalArgumentException e) {
        throw reqs.size() == 1 ? e
            : new IllegalArgumentException(t.getBackbone() + "/" + t.getHead() + ": " + e.getMessage());
      }
    }
    resolved.stream().map(ResolvedConfig::getDataset).distinct().forEach(d -> datasets.load(d));
    for (ResolvedConfig c : resolved) {
      checkModel(c);
    }
    return resolved;
  }

  private List<Run> queueAll(List<TrainRequest> reqs, List<ResolvedConfig> resolved, String owner, Study study)
      throws SQLException {
    long now = System.currentTimeMillis();
    List<Run> runs = new ArrayList<>();
    for (int i = 0; i < reqs.size(); i++) {
      runs.add(Run.newBuilder().setRunId(Ids.next()).setOwner(owner).setRequest(reqs.get(i))
          .setResolved(resolved.get(i)).setState(RunState.QUEUED).setCreatedUnixMs(now).setDevice(device).build());
    }
    Study st = study == null ? null : study.toBuilder().clearRunIds()
        .addAllRunIds(runs.stream().map(Run::getRunId).toList()).build();
    synchronized (this) {
      int queued = store.queuedCount(owner);
      if (queued + runs.size() > limits.maxQueuedPerUser()) {
        throw Refusal.exhausted(String.format("%s has %d queued runs and this adds %d: at most %d queued runs per user"
            + " (--max-queued-per-user); wait for some to start or cancel some (ctrlab cancel --tag/--study)", owner,
            queued, runs.size(), limits.maxQueuedPerUser()));
      }
      store.insert(runs, List.of(RunEvent.newBuilder().setState(StateChange.newBuilder()
          .setState(RunState.QUEUED).setMessage("queued")).build()), st);
    }
    for (Run r : runs) {
      LOG.atInfo().addKeyValue("run", r.getRunId()).addKeyValue("owner", owner).addKeyValue("state", "QUEUED")
          .addKeyValue("backbone", r.getResolved().getBackbone()).addKeyValue("head", r.getResolved().getHead())
          .addKeyValue("dataset", r.getResolved().getDataset()).log("run queued");
    }
    supervisor.poke();
    return runs;
  }

  /** A run with its current queue position, if the caller may read it. */
  public Run get(String runId, Caller caller) throws SQLException {
    Run r = store.get(Ids.check("run_id", runId)).orElseThrow(() -> new RunNotFoundException(runId));
    checkRead(r.getRunId(), r.getOwner(), caller);
    return withPosition(r);
  }

  /** As {@link #get(String, Caller)}, within maxBytes (long texts cut short, then the epochs left out). */
  public Run get(String runId, Caller caller, int maxBytes) throws SQLException {
    return Views.fit(get(runId, caller), maxBytes);
  }

  /** Whether the caller may read what {@code owner} owns: anyone's under --visibility all, else their own. */
  public boolean mayRead(String owner, Caller caller) {
    return visibility == Visibility.ALL || caller.owns(owner);
  }

  /**
   * The one owner whose runs and studies the caller may read, or null when they may read everyone's: what a list
   * asks the store for, so that other users' newer records do not crowd the caller's own out of a page.
   */
  public String readableOwner(Caller caller) {
    return visibility == Visibility.ALL || caller.admin() ? null : caller.user();
  }

  private static final String OWN_ONLY = "this server shows each user only their own runs (--visibility own)";

  /**
   * Refuses a read of someone else's run when this server shows each user only their own. The refusal does not say
   * whose it is: under --visibility own, who owns what is itself private.
   */
  void checkRead(String what, String owner, Caller caller) {
    if (!mayRead(owner, caller)) {
      throw Refusal.permission(what + " is another user's; " + OWN_ONLY);
    }
  }

  /** The owner of a run, checked readable by the caller (for calls that read the run themselves). */
  public void requireReadable(String runId, Caller caller) throws SQLException {
    get(runId, caller);
  }

  private Run withPosition(Run r) throws SQLException {
    if (r.getState() != RunState.QUEUED) {
      return r;
    }
    int pos = supervisor.queueOrder().indexOf(r.getRunId());
    return r.toBuilder().setQueuePosition(Math.max(0, pos)).build();
  }

  /** Queue position of a queued run (0 = next). */
  public int position(String runId) throws SQLException {
    return Math.max(0, supervisor.queueOrder().indexOf(runId));
  }

  public RunStore.Page list(ListRunsRequest f, Caller caller) throws SQLException {
    if (f.getLimit() < 0) {
      throw new IllegalArgumentException("limit must be >= 0");
    }
    f = visibleTo(f, caller);
    int budget = limits.maxResponseBytes() - 64 * 1024;
    List<String> order = supervisor.queueOrder();
    return store.list(f, budget, r -> Views.fit(r.getState() != RunState.QUEUED ? r
        : r.toBuilder().setQueuePosition(Math.max(0, order.indexOf(r.getRunId()))).build(), budget / 8));
  }

  /** The filter narrowed to the caller's own runs where this server shows each user only their own. */
  private ListRunsRequest visibleTo(ListRunsRequest f, Caller caller) {
    if (visibility == Visibility.OWN && !caller.admin()) {
      if (!f.getOwner().isEmpty() && !f.getOwner().equals(caller.user())) {
        throw Refusal.permission("a list of runs of another user is refused; " + OWN_ONLY);
      }
      return f.toBuilder().setOwner(caller.user()).build();
    }
    return f;
  }

  /** Every run matching the filter that the caller may read, newest first (see {@link RunStore#scan}). */
  public void scan(ListRunsRequest f, Caller caller, java.util.function.Consumer<Run> each) throws SQLException {
    store.scan(visibleTo(f, caller), each);
  }

  /** A run's stored events from an index, at most {@code limit}, if the caller may read the run. */
  public List<RunEvent> events(String runId, long from, int limit, Caller caller) throws SQLException {
    requireReadable(runId, caller);
    if (from < 0 || limit < 1) {
      throw new IllegalArgumentException("from must be >= 0 and limit >= 1");
    }
    return store.events(runId, from, limit);
  }

  /** A running run's live batch progress, if the caller may read the run. */
  public Optional<ProgressStore.Progress> progress(String runId, Caller caller) throws SQLException {
    requireReadable(runId, caller);
    return store.progress().get(runId);
  }

  /** Queued runs in the order they will start. */
  public List<String> queueOrder() throws SQLException {
    return supervisor.queueOrder();
  }

  /** Cancels a run of the caller's (an admin: anyone's). */
  public Run cancel(String runId, Caller caller) throws SQLException {
    Run cur = store.get(Ids.check("run_id", runId)).orElseThrow(() -> new RunNotFoundException(runId));
    requireOwner(cur, caller, "cancel");
    Run r = supervisor.cancel(runId, caller.user()).orElseThrow(() -> new RunNotFoundException(runId));
    hub.poke();
    return r;
  }

  private void requireOwner(Run r, Caller caller, String verb) {
    if (!caller.owns(r.getOwner())) {
      throw Refusal.permission(whose("run " + r.getRunId(), r.getOwner()) + " or an admin can " + verb + " it");
    }
  }

  /** "run X belongs to alice; only alice", or without the owner's name under --visibility own. */
  private String whose(String what, String owner) {
    return visibility == Visibility.OWN ? what + " is another user's; only its owner"
        : what + " belongs to " + owner + "; only " + owner;
  }

  /**
   * Cancels every queued or running run of the caller's with a tag, or of a study (the caller's, or anyone's for an
   * admin); returns their ids.
   */
  public List<String> cancelMatching(Caller caller, String studyId, String tag) throws SQLException {
    if (studyId.isEmpty() == tag.isEmpty()) {
      throw new IllegalArgumentException("give either a study_id or a tag");
    }
    String t = studyId.isEmpty() ? tag : "study:" + Ids.check("study_id", studyId);
    String owner = caller.user();
    if (!studyId.isEmpty()) {
      Study st = store.studies().get(studyId)
          .orElseThrow(() -> new NotFoundException("no study with id '" + studyId + "'"));
      if (!caller.owns(st.getOwner())) {
        throw Refusal.permission(whose("study " + studyId, st.getOwner()) + " or an admin can cancel it");
      }
      owner = st.getOwner();
    }
    String by = caller.user();
    // Queued ones first, so that none of them starts while the running ones are stopped.
    List<String> out = new ArrayList<>();
    for (RunState s : List.of(RunState.QUEUED, RunState.RUNNING)) {
      for (String id : store.withTag(owner, t, List.of(s))) {
        Optional<Run> r = supervisor.cancel(id, by);
        if (r.isPresent() && r.get().getState() == RunState.CANCELLED) {
          out.add(id);
        }
      }
    }
    hub.poke();
    return out;
  }

  /** Deletes a finished run of the caller's (an admin: anyone's); returns the bytes of files freed. */
  public long delete(String runId, Caller caller) throws SQLException, IOException {
    Run r = store.get(Ids.check("run_id", runId)).orElseThrow(() -> new RunNotFoundException(runId));
    requireOwner(r, caller, "delete");
    if (!Supervisor.isFinal(r.getState())) {
      throw new IllegalStateException("run " + runId + " is " + r.getState() + "; cancel it first (ctrlab cancel "
          + runId + ")");
    }
    if (supervisor.holds(runId)) {
      // Recorded final, but its worker is still being stopped (a cancel's kill takes seconds, a cluster's job that
      // outlived it longer): it may yet write.
      throw new IllegalStateException("run " + runId + " is " + r.getState() + " but its worker is still being"
          + " stopped; delete it again once it is gone (seconds, or, for a cluster's job that outlived its cancel, once"
          + " the cluster has ended it)");
    }
    long freed = deleteFiles(Worker.dir(runDir, runId));
    store.delete(runId);
    hub.poke();
    LOG.atInfo().addKeyValue("run", runId).addKeyValue("owner", r.getOwner()).addKeyValue("by", caller.user())
        .addKeyValue("bytes", freed).log("run deleted");
    return freed;
  }

  /** Removes a run's folder; returns the bytes it held. */
  static long deleteFiles(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return 0;
    }
    long bytes = 0;
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        if (Files.isRegularFile(p)) {
          bytes += Files.size(p);
        }
        Files.deleteIfExists(p);
      }
    }
    return bytes;
  }
}
