package org.ctrlab.server.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ctrlab.api.v1.Aggregation;
import org.ctrlab.api.v1.EpochResult;
import org.ctrlab.api.v1.Head;
import org.ctrlab.server.TestData;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.model.Hyper;
import org.ctrlab.server.model.ModelConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run stopped after any epoch and resumed from its saved state ends exactly where the uninterrupted run ends. */
class ResumeTest {
  @TempDir
  static Path tmp;

  static Dataset data;

  @BeforeAll
  static void load() {
    data = TestData.loadSmall(tmp);
  }

  /** DCNV2 with dropout and BatchNorm: masks, running statistics and AdamW slots all have to come back. */
  static ModelConfig config(Head head) {
    return new ModelConfig("DCNV2", new Hyper(Map.of("cross_layer_num", 2.0, "mlp_hidden_size", new double[] {32, 16},
        "dropout_prob", 0.2, "reg_weight", 0.01)), head, Aggregation.LOGIT_SUM, 0.5, 8, 0.01, 11, 2);
  }

  static final Trainer.Settings SETTINGS = new Trainer.Settings(0.01, 512, 4096, 5, 1, 11);

  /** Keeps every epoch's state and can stop the run after a given epoch. */
  static final class Recorder implements TrainListener {
    final List<TrainState> states = new ArrayList<>();
    final int stopAfter;

    Recorder(int stopAfter) {
      this.stopAfter = stopAfter;
    }

    @Override
    public boolean wantsState() {
      return true;
    }

    @Override
    public void epoch(EpochResult r, double[][] norms, TrainState s) {
      states.add(s);
      if (r.getEpoch() == stopAfter) {
        throw new java.util.concurrent.CancellationException("stopped after epoch " + stopAfter);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(value = Head.class, names = {"BINARY", "RATING"})
  void resumingAfterAnEpochGivesTheUninterruptedRun(Head head) throws IOException {
    DataSplit split = DataSplit.of(data.rows, 11);
    Trainer.Outcome whole;
    try (CtrModel m = new CtrModel(config(head), data)) {
      whole = Trainer.train(m, data, split, SETTINGS, new Recorder(-1));
    }
    Recorder first = new Recorder(2);
    try (CtrModel m = new CtrModel(config(head), data)) {
      assertThrows(java.util.concurrent.CancellationException.class,
          () -> Trainer.train(m, data, split, SETTINGS, first));
    }
    Path file = tmp.resolve("state-" + head + ".bin");
    first.states.get(1).save(file);
    TrainState saved = TrainState.load(file);
    assertEquals(2, saved.epochsDone());
    Trainer.Outcome resumed;
    try (CtrModel m = new CtrModel(config(head), data)) {
      resumed = Trainer.train(m, data, split, SETTINGS, new Recorder(-1), saved);
    }
    assertEquals(whole.epochs().size(), resumed.epochs().size());
    for (int i = 0; i < whole.epochs().size(); i++) {
      EpochResult a = whole.epochs().get(i);
      EpochResult b = resumed.epochs().get(i);
      assertEquals(a.getEpoch(), b.getEpoch());
      assertEquals(a.getTrainLoss(), b.getTrainLoss(), 1e-6, "loss of epoch " + a.getEpoch());
      assertEquals(a.getValidAuc(), b.getValidAuc(), 1e-6, "valid AUC of epoch " + a.getEpoch());
    }
    assertEquals(whole.bestEpoch(), resumed.bestEpoch());
    assertEquals(whole.test().auc(), resumed.test().auc(), 1e-6);
    assertEquals(whole.gradients().steps(), resumed.gradients().steps());
    assertArrayEquals(whole.gradients().perStep(), resumed.gradients().perStep(), 1e-4f);
  }

  @Test
  void aStateAlreadyFinishedOnlyEvaluates() throws IOException {
    DataSplit split = DataSplit.of(data.rows, 11);
    Recorder all = new Recorder(-1);
    Trainer.Outcome whole;
    try (CtrModel m = new CtrModel(config(Head.BINARY), data)) {
      whole = Trainer.train(m, data, split, SETTINGS, all);
    }
    TrainState last = all.states.get(all.states.size() - 1);
    assertTrue(last.finished(SETTINGS));
    try (CtrModel m = new CtrModel(config(Head.BINARY), data)) {
      Recorder none = new Recorder(-1);
      Trainer.Outcome again = Trainer.train(m, data, split, SETTINGS, none, last);
      assertEquals(0, none.states.size(), "no epoch is trained again");
      assertEquals(whole.test().auc(), again.test().auc(), 1e-9);
    }
  }

  @Test
  void aTruncatedStateFileIsRefused() throws IOException {
    DataSplit split = DataSplit.of(data.rows, 11);
    Recorder r = new Recorder(1);
    try (CtrModel m = new CtrModel(config(Head.BINARY), data)) {
      assertThrows(java.util.concurrent.CancellationException.class,
          () -> Trainer.train(m, data, split, SETTINGS, r));
    }
    Path file = tmp.resolve("truncated.bin");
    r.states.get(0).save(file);
    byte[] b = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(b, b.length / 2));
    IOException e = assertThrows(IOException.class, () -> TrainState.load(file));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }
}
