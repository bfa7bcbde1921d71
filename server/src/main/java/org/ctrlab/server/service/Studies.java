package org.ctrlab.server.service;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.StudyRequest;
import org.ctrlab.api.v1.TrainRequest;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.experiments.StudyStats;
import org.ctrlab.server.jobs.Supervisor;
import org.ctrlab.server.store.RunStore;

/** Studies: a grid of runs queued as one, and its aggregates over seeds. */
public final class Studies {
  private final RunStore store;
  private final Runs runs;
  private final RunConfigs configs;

  public Studies(RunStore store, Runs runs, RunConfigs configs) {
    this.store = store;
    this.runs = runs;
    this.configs = configs;
  }

  /**
   * Queues every run of a study grid, all or none: a bad grid, or one that would take its owner past the queue
   * cap, queues nothing. Returns the study as stored.
   */
  public Study start(StudyRequest req, String owner) throws SQLException {
    if (req.getName().isBlank()) {
      throw new IllegalArgumentException("a study needs a name");
    }
    runs.checkName("the study's name", req.getName());
    if (req.getBackbonesCount() == 0) {
      throw new IllegalArgumentException("a study needs at least one backbone");
    }
    int max = runs.limits().maxStudyRuns();
    if (Math.max(Math.max(req.getBackbonesCount(), req.getSeedsCount()),
        Math.max(req.getHeadsCount(), req.getRatingWeightsCount())) > max) {
      throw new IllegalArgumentException("a study's lists of backbones, heads, rating weights and seeds each take at"
          + " most " + max + " values (--max-study-runs)");
    }
    List<Head> heads = req.getHeadsCount() == 0 ? List.of(Head.BINARY, Head.RATING) : req.getHeadsList();
    List<Long> seeds = req.getSeedsCount() == 0 ? List.of(2020L) : req.getSeedsList();
    // The grid's size from the lists alone, before any of it is built (up to 500^3 runs could be asked for).
    long perSeed = 0;
    for (Head head : heads) {
      perSeed += head == Head.RATING ? Math.max(1, req.getRatingWeightsCount()) : 1;
    }
    long size = (long) req.getBackbonesCount() * seeds.size() * perSeed;
    if (size > max) {
      throw new IllegalArgumentException(String.format("a study of %,d runs is too large (at most %d,"
          + " --max-study-runs)", size, max));
    }
    String id = Ids.next();
    List<TrainRequest> grid = new ArrayList<>();
    for (String backbone : req.getBackbonesList()) {
      for (long seed : seeds) {
        for (Head head : heads) {
          List<Double> weights = head != Head.RATING ? Collections.singletonList(null)
              : req.getRatingWeightsCount() > 0 ? req.getRatingWeightsList()
                  : Collections.singletonList(configs.paperRatingWeight(backbone, req.getDataset()).orElse(null));
          for (Double w : weights) {
            TrainRequest.Builder t = req.getBase().toBuilder().setDataset(req.getDataset()).setBackbone(backbone)
                .setHead(head).setSeed(seed).addTags("study:" + id);
            if (w != null) {
              t.setRatingWeight(w);
            } else {
              t.clearRatingWeight();
            }
            if (t.getName().isEmpty()) {
              t.setName(req.getName());
            }
            grid.add(t.build());
          }
        }
      }
    }
    if (req.getDryRun()) {
      runs.validateAll(grid);
      return Study.newBuilder().setName(req.getName()).setOwner(owner).setRequest(req).setGridRuns(grid.size())
          .addAllEstimates(estimates(req.getDataset(), grid)).build();
    }
    Study st = Study.newBuilder().setStudyId(id).setName(req.getName()).setOwner(owner).setRequest(req)
        .setCreatedUnixMs(System.currentTimeMillis()).build();
    List<Run> queued = runs.submitAll(grid, owner, st);
    return st.toBuilder().addAllRunIds(queued.stream().map(Run::getRunId).toList()).build();
  }

  /** Finished runs an estimate averages over, per backbone: the newest ones. */
  static final int ESTIMATE_SAMPLE = 50;

  /**
   * What each backbone's runs of a grid would cost, from this server's SUCCEEDED runs of that backbone on the
   * dataset: their mean seconds per epoch and mean epochs (capped by the grid's max_epochs). A backbone never
   * finished here gets no time.
   */
  List<org.ctrlab.api.v1.StudyEstimate> estimates(String dataset, List<TrainRequest> grid) throws SQLException {
    java.util.Map<String, List<TrainRequest>> byBackbone = new java.util.LinkedHashMap<>();
    grid.forEach(t -> byBackbone.computeIfAbsent(t.getBackbone(), k -> new ArrayList<>()).add(t));
    List<org.ctrlab.api.v1.StudyEstimate> out = new ArrayList<>();
    for (var e : byBackbone.entrySet()) {
      List<Run> done = store.list(org.ctrlab.api.v1.ListRunsRequest.newBuilder().setDataset(dataset)
          .setBackbone(e.getKey()).addStates(org.ctrlab.api.v1.RunState.SUCCEEDED).setLimit(ESTIMATE_SAMPLE).build(),
          4 << 20).runs().stream().filter(r -> r.getSecondsPerEpoch() > 0 && r.getEpochsCount() > 0).toList();
      var b = org.ctrlab.api.v1.StudyEstimate.newBuilder().setBackbone(e.getKey()).setRuns(e.getValue().size())
          .setMeasuredRuns(done.size());
      if (!done.isEmpty()) {
        double spe = done.stream().mapToDouble(Run::getSecondsPerEpoch).average().orElse(0);
        double epochs = done.stream().mapToInt(Run::getEpochsCount).average().orElse(0);
        double seconds = 0;
        for (TrainRequest t : e.getValue()) {
          seconds += spe * (t.hasMaxEpochs() ? Math.min(epochs, t.getMaxEpochs()) : epochs);
        }
        b.setSecondsPerEpoch(spe).setEpochs(epochs).setSeconds(seconds);
      }
      out.add(b.build());
    }
    return out;
  }

  /** A study with its runs aggregated (runs deleted since are left out). */
  public Study get(String id, org.ctrlab.server.auth.Caller caller) throws SQLException {
    Ids.check("study_id", id);
    Study s = readable(id, caller);
    List<Run> members = members(s);
    return s.toBuilder().setFinished(members.stream().allMatch(r -> Supervisor.isFinal(r.getState())))
        .addAllRows(StudyStats.rows(members)).addAllComparisons(StudyStats.comparisons(members)).build();
  }

  /** A study's learning curves, mean and std over seeds per cell and epoch. */
  public List<org.ctrlab.server.experiments.StudyStats.Curve> curves(String id, org.ctrlab.server.auth.Caller caller)
      throws SQLException {
    return StudyStats.curves(members(readable(Ids.check("study_id", id), caller)));
  }

  private Study readable(String id, org.ctrlab.server.auth.Caller caller) throws SQLException {
    Study s = store.studies().get(id).orElseThrow(() -> new NotFoundException("no study with id '" + id + "'"));
    runs.checkRead("study " + id, s.getOwner(), caller);
    return s;
  }

  private List<Run> members(Study s) throws SQLException {
    List<Run> members = new ArrayList<>();
    for (String rid : s.getRunIdsList()) {
      store.get(rid).ifPresent(members::add);
    }
    return members;
  }

  /** The newest studies the caller may read, at most {@code limit} and as many as fit in {@code maxBytes}. */
  public List<Study> list(int limit, org.ctrlab.server.auth.Caller caller, int maxBytes) throws SQLException {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0");
    }
    List<Study> out = new ArrayList<>();
    long bytes = 0;
    for (Study s : store.studies().newest(limit == 0 ? 50 : Math.min(limit, 1000), runs.readableOwner(caller))) {
      try {
        runs.checkRead("", s.getOwner(), caller);
        if (s.getSerializedSize() > maxBytes / 2) {
          s = s.toBuilder().clearRunIds().build(); // a study far larger than the default limit allows: GetStudy has them
        }
        bytes += s.getSerializedSize() + 8;
        if (bytes > maxBytes) {
          break; // the rest are older; GetStudy reads any one of them
        }
        out.add(s);
      } catch (Refusal hidden) {
        // another user's study on a server that shows each user their own
      }
    }
    return out;
  }
}
