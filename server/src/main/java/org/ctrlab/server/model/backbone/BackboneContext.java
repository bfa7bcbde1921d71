package org.ctrlab.server.model.backbone;

import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.Net;

/** What a backbone is built from: the graph, the input schema, F fields of d dimensions, and K logits to emit. */
public record BackboneContext(Net net, FeatureInputs inputs, int fields, int dim, int k) {
  /** Width of the flattened embeddings, F * d. */
  public int flat() {
    return fields * dim;
  }
}
