package org.ctrlab.server.service;

import org.ctrlab.api.v1.Run;

/** Keeps a run record within an answer's size: a record stored before the size limits existed can be larger. */
final class Views {
  private static final int TEXT = 1000;

  private Views() {}

  /** The run as is if it fits in maxBytes; else with its free text cut short, and then without its epochs. */
  static Run fit(Run r, int maxBytes) {
    if (r.getSerializedSize() <= maxBytes) {
      return r;
    }
    Run.Builder b = r.toBuilder();
    b.getRequestBuilder().setName(cut(r.getRequest().getName()));
    b.getRequestBuilder().clearTags();
    r.getRequest().getTagsList().stream().limit(20).forEach(t -> b.getRequestBuilder().addTags(cut(t)));
    b.setMessage(cut(r.getMessage()));
    if (b.build().getSerializedSize() > maxBytes) {
      b.clearEpochs();
    }
    return b.build();
  }

  /** An inspection within maxBytes: when every step's norms would not fit, evenly spaced steps (numbers kept). */
  static org.ctrlab.api.v1.InspectResponse fitInspect(org.ctrlab.api.v1.InspectResponse r, int maxBytes) {
    int size = r.getSerializedSize();
    if (size <= maxBytes || r.getStepsCount() == 0) {
      return r;
    }
    int stepBytes = r.getSteps(0).getSerializedSize() + 3;
    int room = Math.max(1, (maxBytes - (size - r.getStepsCount() * stepBytes)) / stepBytes - 16);
    int every = (r.getStepsCount() + room - 1) / room;
    var b = r.toBuilder().clearSteps();
    for (int i = 0; i < r.getStepsCount(); i += every) {
      b.addSteps(r.getSteps(i));
    }
    return b.build();
  }

  private static String cut(String s) {
    return s.length() <= TEXT ? s : s.substring(0, TEXT) + String.format("... [%,d characters]", s.length());
  }
}
