package org.ctrlab.server.service;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.Run;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.jobs.Worker;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.train.RunExecutor;

/**
 * Finished runs' models with their best checkpoint loaded, a few at a time, for analysis calls. Calls that only
 * read a model (evaluate, predict, ...) share it and never wait for each other; a call that changes its weights for
 * a while (perturbing the tables) gets a model of its own ({@link #own}), so that nobody waits for it either. A
 * shared model is closed when it has been evicted and its last user is done.
 */
final class ModelCache implements AutoCloseable {
  private final Path runDir;
  private final int threads;
  private final int capacity;
  private final Map<String, Entry> entries = new LinkedHashMap<>(8, 0.75f, true);
  private boolean closed;

  private static final class Entry {
    CtrModel model;
    int users;
    boolean evicted;
  }

  /** One call's use of a model; closing it releases a shared model, and closes a model of the call's own. */
  final class Lease implements AutoCloseable {
    private final CtrModel model;
    private final Entry shared;

    private Lease(CtrModel model, Entry shared) {
      this.model = model;
      this.shared = shared;
    }

    CtrModel model() {
      return model;
    }

    @Override
    public void close() {
      if (shared == null) {
        model.close();
      } else {
        release(shared);
      }
    }
  }

  ModelCache(Path runDir, int threads, int capacity) {
    this.runDir = runDir;
    this.threads = threads;
    this.capacity = capacity;
  }

  /** The shared model of a finished run, loading it if needed: for calls that only read it. */
  Lease acquire(Run r, Dataset ds) {
    Entry e;
    synchronized (this) {
      if (closed) {
        throw Refusal.unavailable("the server is stopping");
      }
      e = entries.computeIfAbsent(r.getRunId(), k -> new Entry());
      e.users++;
      evictOverCapacity();
    }
    try {
      synchronized (e) {
        if (e.model == null) {
          e.model = load(r, ds);
        }
      }
    } catch (RuntimeException ex) {
      synchronized (this) {
        entries.remove(r.getRunId(), e);
        e.evicted = true; // another caller may still load it; it is closed when the last one is done
      }
      release(e);
      throw ex;
    }
    return new Lease(e.model, e);
  }

  /**
   * A model of a finished run loaded for one call alone (one that changes its weights for a while), apart from the
   * shared one; closed with the lease.
   */
  Lease own(Run r, Dataset ds) {
    synchronized (this) {
      if (closed) {
        throw Refusal.unavailable("the server is stopping");
      }
    }
    return new Lease(load(r, ds), null);
  }

  private CtrModel load(Run r, Dataset ds) {
    // One tower: the server's models do not train, and share the process's thread pools.
    CtrModel m = new CtrModel(RunExecutor.modelConfig(r.getResolved(), threads).withTowers(1), ds);
    try {
      m.restore(m.load(Worker.dir(runDir, r.getRunId()).resolve("checkpoint.bin")));
      return m;
    } catch (IOException e) {
      m.close();
      throw new UncheckedIOException("cannot read the checkpoint of run " + r.getRunId() + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  private void evictOverCapacity() {
    List<String> idle = new ArrayList<>();
    int over = entries.size() - capacity;
    for (Map.Entry<String, Entry> x : entries.entrySet()) {
      if (over <= 0) {
        break;
      }
      if (x.getValue().users == 0) {
        idle.add(x.getKey());
        over--;
      }
    }
    for (String id : idle) {
      Entry e = entries.remove(id);
      e.evicted = true;
      closeModel(e);
    }
  }

  /** Forgets a run's model (the run was deleted); it is closed once no call uses it. */
  synchronized void evict(String runId) {
    Entry e = entries.remove(runId);
    if (e != null) {
      e.evicted = true;
      if (e.users == 0) {
        closeModel(e);
      }
    }
  }

  private synchronized void release(Entry e) {
    e.users--;
    if (e.users == 0 && (e.evicted || closed)) {
      closeModel(e);
    }
  }

  private static void closeModel(Entry e) {
    synchronized (e) {
      if (e.model != null) {
        e.model.close();
        e.model = null;
      }
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    for (Entry e : entries.values()) {
      e.evicted = true;
      if (e.users == 0) {
        closeModel(e);
      }
    }
    entries.clear();
  }
}
