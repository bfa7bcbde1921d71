package org.ctrlab.server.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ProfileLabelTest {
  @Test
  void theTypeTheExecutorRanComesFromTheTimelineLabel() {
    // Grappler's remapper replaced the BiasAdd by a fused product that keeps the BiasAdd's name.
    assertEquals("_MklNativeFusedMatMul", CtrModel.ranType(
        "dense_1/BiasAdd = _MklNativeFusedMatMul(dense_1/MatMul/ReadVariableOp, x, b)", "BiasAdd"));
    assertEquals("Relu", CtrModel.ranType("dense_1/Relu = Relu(dense_1/BiasAdd)", "Relu"));
    assertEquals("BiasAdd", CtrModel.ranType("", "BiasAdd"), "no label: the graph's type");
    assertEquals("NoOp", CtrModel.ranType("init = NoOp", "NoOp"), "a label without inputs: the graph's type");
  }
}
