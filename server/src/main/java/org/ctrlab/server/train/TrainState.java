package org.ctrlab.server.train;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.ctrlab.api.v1.EpochResult;

/**
 * Everything a training run needs to go on after its last completed epoch: every variable of the graph (weights,
 * BatchNorm running statistics, AdamW's moment slots), the best checkpoint so far, the early-stopping counters, the
 * global step (which keys the dropout masks and AdamW's bias correction), the epoch history and the gradient-norm
 * log. The shuffle stream needs no state of its own: epoch e's order is the training rows shuffled e times by the
 * seeded generator, which a resume replays.
 *
 * <p>Files are written whole to a temporary name, forced to disk and renamed, so a kill at any moment leaves either
 * the previous file or the new one.
 */
public record TrainState(List<EpochResult> epochs, int steps, double bestAuc, int bestEpoch, int sinceBest,
    double trainSeconds, float[] stepNorms, List<double[][]> normSummaries, List<String> variableNames,
    List<float[]> variables, List<String> bestNames, List<float[]> best) {
  private static final int MAGIC = 0x43544c53; // "CTLS"
  private static final int VERSION = 1;

  public TrainState {
    epochs = List.copyOf(epochs);
    normSummaries = List.copyOf(normSummaries);
  }

  /** Completed epochs. */
  public int epochsDone() {
    return epochs.size();
  }

  /** Training is over: early stopping has fired or the epoch budget is spent. */
  public boolean finished(Trainer.Settings s) {
    return sinceBest > s.patience() || epochs.size() >= s.maxEpochs();
  }

  /** Writes the state durably: the epoch is recorded as done only after this returns. */
  public void save(Path file) throws IOException {
    org.ctrlab.server.files.Durable.replace(file, out -> {
      out.writeInt(MAGIC);
      out.writeInt(VERSION);
      out.writeInt(epochs.size());
      for (EpochResult e : epochs) {
        byte[] b = e.toByteArray();
        out.writeInt(b.length);
        out.write(b);
      }
      out.writeInt(steps);
      out.writeDouble(bestAuc);
      out.writeInt(bestEpoch);
      out.writeInt(sinceBest);
      out.writeDouble(trainSeconds);
      out.writeInt(stepNorms.length);
      for (float v : stepNorms) {
        out.writeFloat(v);
      }
      out.writeInt(normSummaries.size());
      for (double[][] s : normSummaries) {
        out.writeInt(s.length);
        for (double[] g : s) {
          out.writeInt(g.length);
          for (double v : g) {
            out.writeDouble(v);
          }
        }
      }
      writeArrays(out, variableNames, variables);
      writeArrays(out, bestNames, best);
    });
  }

  public static TrainState load(Path file) throws IOException {
    try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file),
        1 << 16))) {
      if (in.readInt() != MAGIC) {
        throw new IOException(file + " is not a ctrlab training state");
      }
      int version = in.readInt();
      if (version != VERSION) {
        throw new IOException(file + " is a training state of version " + version + ", this build reads "
            + VERSION);
      }
      int n = in.readInt();
      List<EpochResult> epochs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        epochs.add(EpochResult.parseFrom(b));
      }
      int steps = in.readInt();
      double bestAuc = in.readDouble();
      int bestEpoch = in.readInt();
      int sinceBest = in.readInt();
      double trainSeconds = in.readDouble();
      float[] stepNorms = new float[in.readInt()];
      for (int i = 0; i < stepNorms.length; i++) {
        stepNorms[i] = in.readFloat();
      }
      int ns = in.readInt();
      List<double[][]> summaries = new ArrayList<>();
      for (int i = 0; i < ns; i++) {
        double[][] s = new double[in.readInt()][];
        for (int g = 0; g < s.length; g++) {
          s[g] = new double[in.readInt()];
          for (int k = 0; k < s[g].length; k++) {
            s[g][k] = in.readDouble();
          }
        }
        summaries.add(s);
      }
      List<String> varNames = new ArrayList<>();
      List<float[]> vars = readArrays(in, varNames);
      List<String> bestNames = new ArrayList<>();
      List<float[]> best = readArrays(in, bestNames);
      return new TrainState(epochs, steps, bestAuc, bestEpoch, sinceBest, trainSeconds, stepNorms, summaries,
          varNames, vars, bestNames, best);
    } catch (java.io.EOFException e) {
      throw new IOException(file + " is truncated", e);
    }
  }

  private static void writeArrays(DataOutputStream out, List<String> names, List<float[]> values)
      throws IOException {
    out.writeInt(values.size());
    for (int i = 0; i < values.size(); i++) {
      out.writeUTF(names.get(i));
      float[] v = values.get(i);
      out.writeInt(v.length);
      for (float x : v) {
        out.writeFloat(x);
      }
    }
  }

  private static List<float[]> readArrays(DataInputStream in, List<String> names) throws IOException {
    int n = in.readInt();
    List<float[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      names.add(in.readUTF());
      float[] v = new float[in.readInt()];
      for (int k = 0; k < v.length; k++) {
        v[k] = in.readFloat();
      }
      out.add(v);
    }
    return out;
  }
}
