package org.ctrlab.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.ctrlab.api.v1.Run;
import org.ctrlab.api.v1.TrainRequest;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.ConfigProto;

/** One protobuf runtime serves our gRPC messages and TensorFlow's own (older) generated classes. */
class ProtobufPinTest {
  @Test
  void oneRuntimeVersionForTheWholeBuild() {
    assertEquals("3.25.9", versionOfJar());
  }

  private static String versionOfJar() {
    Package p = com.google.protobuf.Message.class.getPackage();
    String v = p.getImplementationVersion();
    return v == null ? jarName() : v;
  }

  private static String jarName() {
    String loc = com.google.protobuf.Message.class.getProtectionDomain().getCodeSource().getLocation().getPath();
    return loc.replaceAll(".*protobuf-java-([0-9.]+)\\.jar$", "$1");
  }

  @Test
  void tensorflowAndCtrlabMessagesRoundTrip() throws Exception {
    ConfigProto cp = ConfigProto.newBuilder().setIntraOpParallelismThreads(2).build();
    assertEquals(cp, ConfigProto.parseFrom(cp.toByteArray()));
    Run r = Run.newBuilder().setRunId("x").setRequest(TrainRequest.newBuilder().setSeed(7)).build();
    assertEquals(r, Run.parseFrom(r.toByteArray()));
  }
}
