package org.ctrlab.server.train;

import org.ctrlab.api.v1.ResolvedConfig;
import org.ctrlab.server.config.RunConfigs;
import org.ctrlab.server.data.DataSplit;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.model.CtrModel;
import org.ctrlab.server.model.ModelConfig;

/** Builds the model a resolved config describes and trains it on a dataset. */
public final class RunExecutor {
  private RunExecutor() {}

  public static ModelConfig modelConfig(ResolvedConfig c, int threads) {
    return new ModelConfig(c.getBackbone(), RunConfigs.hyper(c), c.getHead(), c.getAggregation(),
        c.getRatingWeight(), c.getEmbeddingSize(), c.getWeightDecay(), c.getSeed(), threads, c.getBf16());
  }

  public static Trainer.Settings settings(ResolvedConfig c) {
    return new Trainer.Settings(c.getLearningRate(), c.getBatchSize(), c.getEvalBatchSize(), c.getMaxEpochs(),
        c.getPatience(), c.getSeed());
  }

  /** The API form of an evaluation's metrics. */
  public static org.ctrlab.api.v1.Metrics metrics(Trainer.Evaluation e) {
    return org.ctrlab.api.v1.Metrics.newBuilder().setAuc(e.auc()).setLogloss(e.logloss()).setRows(e.rows()).build();
  }

  /** Trains; the caller owns (and closes) the returned model. */
  public static Trainer.Outcome train(CtrModel model, Dataset ds, ResolvedConfig c, TrainListener l) {
    DataSplit split = DataSplit.of(ds.rows, c.getSeed());
    return Trainer.train(model, ds, split, settings(c), l);
  }
}
