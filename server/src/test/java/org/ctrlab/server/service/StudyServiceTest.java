package org.ctrlab.server.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import org.ctrlab.api.v1.GetStudyRequest;
import org.ctrlab.api.v1.Head;
import org.ctrlab.api.v1.ListRunsRequest;
import org.ctrlab.api.v1.ListStudiesRequest;
import org.ctrlab.api.v1.Study;
import org.ctrlab.api.v1.StudyRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudyServiceTest {
  @TempDir
  Path tmp;

  @Test
  void aGridRunsAsOneStudyAndAggregatesOverSeeds() throws Exception {
    try (Fixture f = new Fixture(tmp)) {
      Study s = f.stub.startStudy(StudyRequest.newBuilder().setName("heads").setDataset("synthetic")
          .addBackbones("DCNV2").addSeeds(1).addSeeds(2).addRatingWeights(0.5).setBase(Fixture.quick().setMaxEpochs(1))
          .build());
      assertEquals(4, s.getRunIdsCount()); // 1 backbone x 2 seeds x (BINARY + RATING at one lambda)
      for (String id : s.getRunIdsList()) {
        ServiceTest.watch(f, id, 0);
      }
      Study done = f.stub.getStudy(GetStudyRequest.newBuilder().setStudyId(s.getStudyId()).build());
      assertTrue(done.getFinished());
      assertEquals(2, done.getRowsCount());
      assertEquals(Head.RATING, done.getRows(1).getHead());
      assertEquals(0.5, done.getRows(1).getRatingWeight(), 1e-12);
      assertEquals(2, done.getRows(0).getFinished());
      assertEquals(2, done.getComparisons(0).getPairs());
      assertTrue(done.getComparisons(0).getCi95Low() <= done.getComparisons(0).getDeltaAucMean());
      assertEquals(4, f.stub.listRuns(ListRunsRequest.newBuilder().setTag("study:" + s.getStudyId()).build())
          .getRunsCount());
      assertEquals(s.getStudyId(), f.stub.listStudies(ListStudiesRequest.getDefaultInstance()).getStudies(0)
          .getStudyId());
    }
  }

  @Test
  void aBadGridQueuesNothing() throws Exception {
    try (Fixture f = new Fixture(tmp)) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> f.stub.startStudy(
          StudyRequest.newBuilder().setName("bad").setDataset("synthetic").addBackbones("DCNV2")
              .addBackbones("Nope").build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
      assertTrue(e.getStatus().getDescription().contains("unknown backbone 'Nope'"));
      assertEquals(0, f.stub.listRuns(ListRunsRequest.getDefaultInstance()).getRunsCount());
      assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
          () -> f.stub.getStudy(GetStudyRequest.newBuilder().setStudyId("0123456789ab").build())).getStatus()
          .getCode());
      assertEquals(Status.Code.INVALID_ARGUMENT, assertThrows(StatusRuntimeException.class,
          () -> f.stub.getStudy(GetStudyRequest.newBuilder().setStudyId("x").build())).getStatus().getCode());
    }
  }
}
