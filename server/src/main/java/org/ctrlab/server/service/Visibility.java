package org.ctrlab.server.service;

/** Who may read a run (GetRun, WatchRun, Evaluate, Perturb, Inspect, Predict, studies): the server's policy. */
public enum Visibility {
  /** Every user reads every run (a research group reads each other's results). */
  ALL,
  /** Each user reads their own runs; admins read all. */
  OWN
}
