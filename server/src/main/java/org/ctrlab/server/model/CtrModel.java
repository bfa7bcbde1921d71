package org.ctrlab.server.model;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.ctrlab.api.v1.Head;
import org.ctrlab.server.Devices;
import org.ctrlab.server.data.Dataset;
import org.ctrlab.server.data.Field;
import org.ctrlab.server.model.backbone.Backbone;
import org.ctrlab.server.model.backbone.BackboneContext;
import org.ctrlab.server.model.backbone.Backbones;
import org.ctrlab.server.model.head.BinaryHead;
import org.ctrlab.server.model.head.RatingHead;
import org.ctrlab.server.nn.FeatureInputs;
import org.ctrlab.server.nn.FieldEmbedding;
import org.ctrlab.server.nn.Net;
import org.ctrlab.server.nn.Norms;
import org.ctrlab.server.nn.Param;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * One backbone with one head as a TensorFlow graph and session: a training pass (dropout on, BatchNorm batch
 * statistics, loss, gradients, AdamW, gradient norms per parameter group) and an evaluation pass (dropout off,
 * running statistics) that share variables. All ops are made here; running the model never adds one.
 */
public final class CtrModel implements AutoCloseable {
  /** Gradient-norm groups, in the order {@link #trainStep} returns them after the loss. */
  public static final List<String> GROUPS = List.of("embedding", "user_item", "other");
  /** Where {@link #trainStep} writes the parts of the loss: the binary cross-entropy, the rating one, the regulariser. */
  public static final int OUT_BCE = 1 + 3;
  public static final int OUT_CE = OUT_BCE + 1;
  public static final int OUT_REG = OUT_BCE + 2;
  /** The length of {@link #trainStep}'s output. */
  public static final int STEP_OUTPUTS = OUT_BCE + 3;

  public final ModelConfig config;
  public final FeatureInputs inputs;
  private final Graph graph;
  private final Session session;
  private final Net net;
  private final FieldEmbedding embedding;
  private final Placeholder<TFloat32> label;
  private final Placeholder<TInt32> ratingClass;
  private final Operand<TFloat32> loss;
  /** [BCE, CE, regulariser] of a training step (0 for a part the model does not have). */
  private final Operand<TFloat32> lossParts;
  private final boolean hasCe;
  private final boolean hasRegularizer;
  private final Operand<TFloat32> gradNorms;
  private final AdamW optimizer;
  private final Operand<TFloat32> prob;
  private final Operand<TFloat32> inputGradNorm;
  private final Placeholder<TFloat32> noiseSigma;
  private final Placeholder<org.tensorflow.types.TInt64> noiseSeed;
  private final Operand<TFloat32> noisyProb;
  private final List<Param> checkpointParams;
  private final List<Integer> userItemColumns;
  private final org.tensorflow.op.Op trainOp;
  private final DropoutFeeder dropoutMasks;
  private final int towers;

  /** The model for a dataset's fields; its user and item id columns make the "user_item" norm group. */
  public CtrModel(ModelConfig config, Dataset ds) {
    this(config, ds.fields, ds.userColumn, ds.itemColumn);
  }

  /**
   * The model for these fields; userColumn and itemColumn are the positions of the user and item ids among the
   * token fields (-1 if absent), whose embedding rows make the "user_item" gradient and weight norm group.
   */
  public CtrModel(ModelConfig config, List<Field> fields, int userColumn, int itemColumn) {
    this.config = config;
    this.userItemColumns = java.util.stream.IntStream.of(userColumn, itemColumn).filter(c -> c >= 0).boxed()
        .toList();
    this.graph = new Graph();
    try {
      net = new Net(graph, config.seed());
      var tf = net.tf;
      inputs = new FeatureInputs(net, fields);
      label = tf.withName("label").placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1)));
      ratingClass = tf.withName("rating_class").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
      org.ctrlab.server.model.head.Head head = config.head() == Head.RATING
          ? new RatingHead(config.ratingWeight(), config.aggregation()) : new BinaryHead();
      embedding = new FieldEmbedding(net, inputs, config.embeddingSize());
      Backbone backbone = Backbones.create(config.backbone(),
          new BackboneContext(net, inputs, fields.size(), config.embeddingSize(), head.k()), config.hyper());

      // Training pass.
      towers = net.batchRows() == null ? 1 : towers(config, net.rowsCoupled(), Devices.ownPools(), Devices::hasGpu);
      Operand<TFloat32> f = trainingLogits(net, inputs, embedding, backbone, towers);
      Operand<TFloat32> reg = backbone.regularizer(net);
      org.ctrlab.server.model.head.Head.Loss parts = head.loss(net, f, label, ratingClass, reg);
      loss = parts.total();
      hasCe = parts.rating() != null;
      hasRegularizer = reg != null;
      lossParts = tf.stack(List.of(parts.binary(), hasCe ? parts.rating() : tf.constant(0f),
          hasRegularizer ? reg : tf.constant(0f)));
      List<Param> trainable = net.trainable();
      List<Operand<TFloat32>> reads = new ArrayList<>();
      trainable.forEach(p -> reads.add(p.read));
      var grads = tf.gradients(loss, reads);
      List<Operand<TFloat32>> g = new ArrayList<>();
      for (int i = 0; i < trainable.size(); i++) {
        g.add(grads.<TFloat32>dy(i));
      }
      gradNorms = groupNorms(trainable, g);
      List<org.tensorflow.op.Op> updates = new ArrayList<>(net.trainUpdates());
      optimizer = new AdamW(net, trainable, g, 0.9, 0.999, 1e-8, config.weightDecay());
      updates.add(optimizer.update);
      trainOp = tf.withControlDependencies(updates).withName("train_step").noOp();
      dropoutMasks = new DropoutFeeder(net.random.dropoutSlots());

      // Evaluation pass, and per row the L2 norm of d p / d E (an empirical Lipschitz constant of the click
      // probability in the field embeddings; rows are independent in evaluation, so one gradient of the sum gives
      // every row's).
      Operand<TFloat32> ee = embedding.apply(net, inputs);
      prob = head.probability(net, backbone.logits(net, ee, inputs, false));
      Operand<TFloat32> dpde = tf.gradients(tf.sum(prob, tf.constant(0)), List.of(ee)).<TFloat32>dy(0);
      inputGradNorm = tf.math.sqrt(tf.sum(tf.math.square(dpde), tf.constant(new int[] {1, 2})));

      // Perturbed evaluation pass: E + sigma * N(0, I), the noise a function of (seed, batch) only.
      noiseSigma = tf.withName("noise_sigma").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      noiseSeed = tf.withName("noise_seed").placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
      Operand<TFloat32> noise = tf.random.statelessRandomNormal(tf.shape(ee), noiseSeed);
      Operand<TFloat32> noisy = tf.math.add(ee, tf.math.mul(noiseSigma, noise));
      noisyProb = head.probability(net, backbone.logits(net, noisy, inputs, false));
      checkpointParams = net.params().stream().filter(Param::inCheckpoint).toList();

      ConfigProto.Builder cpb = Devices.sessionConfig().toBuilder();
      if (towers > 1) {
        // One thread per op (the towers are the parallelism), as many ops at once as towers. The inter-op pool is
        // the session's own with use_per_session_threads; the intra-op one only with Devices.OWN_POOLS_ENV set (else
        // it is the process's, sized once by its first session).
        cpb.setUsePerSessionThreads(true).setIntraOpParallelismThreads(1).setInterOpParallelismThreads(towers);
      } else if (config.threads() > 0) {
        cpb.setUsePerSessionThreads(Devices.ownPools())
            .setIntraOpParallelismThreads(config.threads()).setInterOpParallelismThreads(config.threads());
      }
      if (config.bf16()) {
        // Grappler's oneDNN bf16 rewrite: variables, Adam and the loss stay float32 (the master weights); matrix
        // products and the element-wise ops it allows run in bf16, with casts where the two meet.
        cpb.setGraphOptions(org.tensorflow.proto.GraphOptions.newBuilder().setRewriteOptions(
            org.tensorflow.proto.RewriterConfig.newBuilder().setAutoMixedPrecisionOnednnBfloat16(
                org.tensorflow.proto.RewriterConfig.Toggle.ON)));
      }
      ConfigProto cp = cpb.build();
      session = new Session(graph, cp);
      try {
        net.initialize(session);
      } catch (RuntimeException ex) {
        session.close(); // a graph cannot close while a session holds it
        throw ex;
      }
    } catch (RuntimeException ex) {
      graph.close();
      throw ex;
    }
  }

  /**
   * How many towers this model's training step runs in: the row ranges its batch is split into, each a copy of the
   * embedding and backbone ops on the same variables and the same dropout masks, with no edge between them, so that
   * the executor runs them at once. On a CPU a step is a chain of ops too small for two threads each (one run's
   * epoch took as long on one thread as on two, docs/results.md), so a run with n threads, in a process
   * whose sessions have pools of their own ({@link Devices#ownPools()}), trains in n towers of one
   * thread each; on a GPU, for a backbone with BatchNorm (whose training output for a row depends on the whole
   * batch) or on the process's shared pools, in one. The loss, its gradients and the update are the whole batch's.
   */
  public int towers() {
    return towers;
  }

  /**
   * The towers for a config: its own if set (refused for a backbone whose rows are coupled), else as above, with
   * ownPools whether this process's sessions have pools of their own.
   */
  static int towers(ModelConfig config, boolean rowsCoupled, boolean ownPools, BooleanSupplier gpu) {
    if (config.towers() > 0) {
      if (config.towers() > 1 && rowsCoupled) {
        throw new IllegalArgumentException(config.backbone() + " has BatchNorm, which normalises over the whole "
            + "batch: it trains in one tower, not " + config.towers());
      }
      return config.towers();
    }
    return rowsCoupled || !ownPools || config.threads() <= 1 || gpu.getAsBoolean() ? 1 : config.threads();
  }

  /**
   * The training pass's logits [B, k]. With more than one tower, the batch's embeddings (gathered once, so that
   * their gradient is one table-sized sum, not one per tower) and inputs are split into that many row ranges, each
   * run through the backbone as its own copy of the ops (same variables, same dropout masks, rows apart): the copies
   * have no edge between them, so the executor runs them at once, one per thread.
   */
  private static Operand<TFloat32> trainingLogits(Net net, FeatureInputs inputs, FieldEmbedding embedding,
      Backbone backbone, int towers) {
    var tf = net.tf;
    Operand<TFloat32> e = embedding.apply(net, inputs);
    if (towers <= 1) {
      return backbone.logits(net, e, inputs, true);
    }
    // Tower t holds rows [B t / n, B (t + 1) / n): sizes differ by at most one, and a batch of fewer than n rows
    // leaves some towers empty.
    Operand<TInt32> b = net.batchRows();
    List<Operand<TInt32>> begins = new ArrayList<>();
    List<Operand<TInt32>> sizes = new ArrayList<>();
    Operand<TInt32> begin = tf.constant(new int[] {0});
    for (int t = 0; t < towers; t++) {
      Operand<TInt32> end = t == towers - 1 ? b
          : tf.math.div(tf.math.mul(b, tf.constant(new int[] {t + 1})), tf.constant(new int[] {towers}));
      begins.add(begin);
      sizes.add(tf.math.sub(end, begin));
      begin = end;
    }
    Operand<TInt32> split = tf.concat(sizes, tf.constant(0));
    List<FeatureInputs> parts = inputs.split(net, split, towers);
    var es = tf.splitV(e, split, tf.constant(0), (long) towers).output();
    List<Operand<TFloat32>> logits = new ArrayList<>();
    for (int t = 0; t < towers; t++) {
      net.beginTower(new Net.Tower(t, begins.get(t), sizes.get(t)));
      logits.add(backbone.logits(net, es.get(t), parts.get(t), true));
    }
    net.endTowers();
    return tf.concat(logits, tf.constant(0));
  }

  private Operand<TFloat32> groupNorms(List<Param> trainable, List<Operand<TFloat32>> g) {
    var tf = net.tf;
    Operand<TFloat32> emb = tf.constant(0f);
    Operand<TFloat32> other = tf.constant(0f);
    Operand<TFloat32> userItem = tf.constant(0f);
    for (int i = 0; i < trainable.size(); i++) {
      Operand<TFloat32> sq = Norms.squaredSum(net, g.get(i));
      if (trainable.get(i).group == Param.Group.EMBEDDING) {
        emb = tf.math.add(emb, sq);
      } else {
        other = tf.math.add(other, sq);
      }
      if (trainable.get(i) == embedding.tokenTable) {
        for (int col : userItemColumns) {
          int[] range = embedding.tokenRowRange(inputs, col);
          Operand<TFloat32> rows = tf.slice(g.get(i), tf.constant(new int[] {range[0], 0}),
              tf.constant(new int[] {range[1] - range[0], config.embeddingSize()}));
          userItem = tf.math.add(userItem, Norms.squaredSum(net, rows));
        }
      }
    }
    return tf.math.sqrt(tf.stack(List.of(emb, userItem, other)));
  }

  /**
   * One optimizer step on the fed batch; {@code step} is 1-based. Writes the loss and the three group gradient norms
   * into out[0..3], and the loss's parts into out[OUT_BCE], out[OUT_CE] and out[OUT_REG] (NaN for a part this model
   * does not have: CE without the rating head, the regulariser for a backbone without one). out has
   * {@link #STEP_OUTPUTS} elements.
   */
  public void trainStep(BatchFeeder batch, float learningRate, int step, float[] out) {
    try (TFloat32 lr = TFloat32.scalarOf(learningRate); TFloat32 t = TFloat32.scalarOf(step);
        TInt64 rng = TInt64.scalarOf(step)) {
      Session.Runner r = trainRunner(batch, lr, t, rng, step).fetch(gradNorms).fetch(lossParts);
      try (Result res = r.run()) {
        out[0] = ((TFloat32) res.get(0)).getFloat();
        TFloat32 norms = (TFloat32) res.get(1);
        for (int i = 0; i < GROUPS.size(); i++) {
          out[1 + i] = norms.getFloat(i);
        }
        TFloat32 p = (TFloat32) res.get(2);
        out[OUT_BCE] = p.getFloat(0);
        out[OUT_CE] = hasCe ? p.getFloat(1) : Float.NaN;
        out[OUT_REG] = hasRegularizer ? p.getFloat(2) : Float.NaN;
      }
    } finally {
      batch.close();
      dropoutMasks.close();
    }
  }

  /** A runner for one training step on the fed batch (features, labels, masks, optimizer inputs), fetching the loss. */
  private Session.Runner trainRunner(BatchFeeder batch, TFloat32 lr, TFloat32 t, TInt64 rng, int step) {
    Session.Runner r = session.runner();
    batch.feedFeatures(r, inputs);
    batch.feedLabels(r, label, ratingClass);
    dropoutMasks.feed(r, batch.size(), step);
    return r.feed(optimizer.learningRate, lr).feed(optimizer.step, t).feed(net.random.step(), rng).addTarget(trainOp)
        .fetch(loss);
  }

  /**
   * Runs one training step with full tracing and returns, per op that ran, its wall time in milliseconds keyed by
   * "type name" (for the profiling of bench and head-cost; it does update the weights).
   */
  public java.util.Map<String, Double> profileStep(BatchFeeder batch, float learningRate, int step) {
    try (TFloat32 lr = TFloat32.scalarOf(learningRate); TFloat32 t = TFloat32.scalarOf(step);
        TInt64 rng = TInt64.scalarOf(step)) {
      return traced(trainRunner(batch, lr, t, rng, step));
    } finally {
      batch.close();
      dropoutMasks.close();
    }
  }

  /** As {@link #profileStep}, for one evaluation batch: the ops that {@link #predict} runs on the fed batch. */
  public java.util.Map<String, Double> profilePredict(BatchFeeder batch) {
    try {
      return traced(batch.feedFeatures(session.runner(), inputs).fetch(prob));
    } finally {
      batch.close();
    }
  }

  /** Runs r with full tracing; per op that ran, its wall time in milliseconds keyed by "type name". */
  private java.util.Map<String, Double> traced(Session.Runner r) {
    java.util.Map<String, Double> perOp = new java.util.HashMap<>();
    r.setOptions(org.tensorflow.proto.RunOptions.newBuilder()
        .setTraceLevel(org.tensorflow.proto.RunOptions.TraceLevel.FULL_TRACE).build());
    try (Result res = r.runAndFetchMetadata()) {
      var md = res.getMetadata().orElseThrow();
      if (opTypes == null) {
        java.util.Map<String, String> types = new java.util.HashMap<>();
        graph.operations().forEachRemaining(op -> types.put(op.name(), op.type()));
        opTypes = types;
      }
      for (var dev : md.getStepStats().getDevStatsList()) {
        for (var ns : dev.getNodeStatsList()) {
          String name = ns.getNodeName();
          String type = ranType(ns.getTimelineLabel(), opTypes.getOrDefault(name, name));
          perOp.merge(type + " " + name, ns.getAllEndRelMicros() / 1000.0, Double::sum);
        }
      }
    }
    return perOp;
  }

  /**
   * One matrix product of a training step: {@code batch} products (1 for a MatMul) of an m x k by a k x n matrix,
   * each operand transposed or not as the graph has it.
   */
  public record Product(String type, long batch, long m, long k, long n, boolean transposeA, boolean transposeB) {
    public double flops() {
      return 2.0 * batch * m * k * n;
    }
  }

  /**
   * Every matrix product (MatMul, BatchMatMul) one training step runs, forward and both gradients, as the built
   * graph has them: the products the step's targets depend on, with their operands' shapes on this batch (the graph
   * is asked for the shapes on a real batch, without a weight update). These are the model's own products, whatever
   * the backbone: the floor no implementation of this model on TensorFlow can go under.
   */
  public List<Product> trainProducts(BatchFeeder batch) {
    return products(List.of(trainOp.op(), loss.op(), gradNorms.op(), lossParts.op()), batch);
  }

  /** Every matrix product the evaluation pass (click probabilities, no dropout) runs on a batch, as above. */
  public List<Product> evalProducts(BatchFeeder batch) {
    return products(List.of(prob.op()), batch);
  }

  private List<Product> products(List<org.tensorflow.Operation> roots, BatchFeeder batch) {
    java.util.Set<org.tensorflow.GraphOperation> seen = new java.util.HashSet<>();
    java.util.ArrayDeque<org.tensorflow.GraphOperation> todo = new java.util.ArrayDeque<>();
    for (org.tensorflow.Operation root : roots) {
      todo.add((org.tensorflow.GraphOperation) root);
    }
    List<org.tensorflow.GraphOperation> products = new ArrayList<>();
    while (!todo.isEmpty()) {
      org.tensorflow.GraphOperation op = todo.pop();
      if (!seen.add(op)) {
        continue;
      }
      // A product with a constant (the softmax's row sums against a matrix of ones) is how an op is computed, not
      // one of the model's products.
      if ((op.type().equals("MatMul") || op.type().startsWith("BatchMatMul"))
          && !op.input(0).op().type().equals("Const") && !op.input(1).op().type().equals("Const")) {
        products.add(op);
      }
      for (int i = 0; i < op.numInputs(); i++) {
        todo.add((org.tensorflow.GraphOperation) op.input(i).op());
      }
      todo.addAll(op.controlInputs());
    }
    products.sort(java.util.Comparator.comparing(org.tensorflow.GraphOperation::name));
    org.tensorflow.op.Ops tf = org.tensorflow.op.Ops.create(graph).withSubScope("product_shapes");
    List<Operand<TInt64>> shapes = new ArrayList<>();
    for (org.tensorflow.GraphOperation op : products) {
      shapes.add(tf.shape(op.input(0), TInt64.class));
      shapes.add(tf.shape(op.input(1), TInt64.class));
    }
    List<Product> out = new ArrayList<>();
    try (TFloat32 lr = TFloat32.scalarOf(0f); TFloat32 t = TFloat32.scalarOf(1f); TInt64 rng = TInt64.scalarOf(1)) {
      Session.Runner r = session.runner();
      batch.feedFeatures(r, inputs);
      batch.feedLabels(r, label, ratingClass);
      dropoutMasks.feed(r, batch.size(), 1);
      r.feed(optimizer.learningRate, lr).feed(optimizer.step, t).feed(net.random.step(), rng);
      shapes.forEach(r::fetch);
      try (Result res = r.run()) {
        for (int i = 0; i < products.size(); i++) {
          org.tensorflow.GraphOperation op = products.get(i);
          long[] a = longs((TInt64) res.get(2 * i));
          long[] b = longs((TInt64) res.get(2 * i + 1));
          boolean batched = op.type().startsWith("BatchMatMul");
          boolean ta = op.attributes().getAttrBool(batched ? "adj_x" : "transpose_a");
          boolean tb = op.attributes().getAttrBool(batched ? "adj_y" : "transpose_b");
          int ra = a.length;
          int rb = b.length;
          long n = tb ? b[rb - 2] : b[rb - 1];
          long m = ta ? a[ra - 1] : a[ra - 2];
          long k = ta ? a[ra - 2] : a[ra - 1];
          long count = 1;
          for (int d = 0; d < Math.max(ra, rb) - 2; d++) { // broadcast leading dimensions
            long da = d < ra - 2 ? a[ra - 3 - d] : 1;
            long db = d < rb - 2 ? b[rb - 3 - d] : 1;
            count *= Math.max(da, db);
          }
          out.add(new Product(op.type(), count, m, k, n, ta, tb));
        }
      }
    } finally {
      batch.close();
      dropoutMasks.close();
    }
    return out;
  }

  private static long[] longs(TInt64 t) {
    long[] v = new long[(int) t.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = t.getLong(i);
    }
    return v;
  }

  private volatile java.util.Map<String, String> opTypes;

  /**
   * The op type the executor ran, read off a step-stats timeline label ("name = Type(inputs)"): after Grappler's
   * rewrites (a fused _FusedMatMul keeps the name of the BiasAdd it replaced), else the graph's type.
   */
  static String ranType(String timelineLabel, String graphType) {
    int eq = timelineLabel.indexOf(" = ");
    int paren = timelineLabel.indexOf('(', eq + 3);
    return eq < 0 || paren < 0 ? graphType : timelineLabel.substring(eq + 3, paren);
  }

  /** Sums profileStep's per-op times by op type (the part of the key before the space). */
  public static java.util.Map<String, Double> byType(java.util.Map<String, Double> perOp) {
    java.util.Map<String, Double> out = new java.util.TreeMap<>();
    perOp.forEach((k, v) -> out.merge(k.substring(0, k.indexOf(' ')), v, Double::sum));
    return out;
  }

  /** Click probabilities of the fed batch into out[offset..offset+size). */
  public void predict(BatchFeeder batch, float[] out, int offset) {
    fetchRows(batch, prob, null, out, offset);
  }

  /**
   * Click probabilities of the fed batch with N(0, sigma^2) noise added to its field embeddings; the noise depends
   * only on (seed, batchIndex) and the batch's shape.
   */
  public void predictNoisy(BatchFeeder batch, float sigma, long seed, long batchIndex, float[] out, int offset) {
    try (TFloat32 s = TFloat32.scalarOf(sigma); TInt64 sd = TInt64.vectorOf(seed, batchIndex)) {
      fetchRows(batch, noisyProb, r -> r.feed(noiseSigma, s).feed(noiseSeed, sd), out, offset);
    }
  }

  /** Per row of the fed batch, the L2 norm of the gradient of its click probability in its field embeddings. */
  public void inputGradientNorms(BatchFeeder batch, float[] out, int offset) {
    fetchRows(batch, inputGradNorm, null, out, offset);
  }

  /** Runs one per-row output [B] on the fed batch (plus optional extra feeds) into out[offset..]. */
  private void fetchRows(BatchFeeder batch, Operand<TFloat32> output, java.util.function.Consumer<Session.Runner> feeds,
      float[] out, int offset) {
    try {
      Session.Runner r = session.runner();
      batch.feedFeatures(r, inputs);
      if (feeds != null) {
        feeds.accept(r);
      }
      r.fetch(output);
      try (Result res = r.run()) {
        ((TFloat32) res.get(0)).copyTo(DataBuffers.of(out, false, false).slice(offset, batch.size()));
      }
    } finally {
      batch.close();
    }
  }

  /** The field-embedding tables (token, sequence and float), the ones Perturb's TABLES mode adds noise to. */
  public List<Param> embeddingTables() {
    List<Param> out = new ArrayList<>();
    if (embedding.tokenTable != null) {
      out.add(embedding.tokenTable);
    }
    out.addAll(embedding.seqTables);
    if (embedding.floatTable != null) {
      out.add(embedding.floatTable);
    }
    return out;
  }

  public Session session() {
    return session;
  }

  /** Current values of every checkpointed variable (trainable weights and running statistics). */
  public List<float[]> snapshot() {
    return Net.read(session, checkpointParams);
  }

  public void restore(List<float[]> values) {
    Net.assign(session, checkpointParams, values);
  }

  public List<Param> checkpointParams() {
    return checkpointParams;
  }

  /** Names of the checkpointed variables, in {@link #snapshot()}'s order. */
  public List<String> checkpointNames() {
    return checkpointParams.stream().map(p -> p.name).toList();
  }

  /** Names of every variable of the graph (weights, running statistics, optimizer slots), in {@link #variables()}'s order. */
  public List<String> variableNames() {
    return net.params().stream().map(p -> p.name).toList();
  }

  /** Current values of every variable of the graph, optimizer slots included: what resuming training needs. */
  public List<float[]> variables() {
    return Net.read(session, net.params());
  }

  /** Assigns every variable from {@link #variables()}'s values, checking that names and sizes match this graph. */
  public void restoreVariables(List<String> names, List<float[]> values) {
    List<Param> all = net.params();
    if (!names.equals(variableNames())) {
      throw new IllegalArgumentException("the saved state has variables " + names.size() + " not matching this model's "
          + all.size() + " (a different backbone or hyperparameters)");
    }
    Net.assign(session, all, values);
  }

  public long trainableScalars() {
    return net.trainable().stream().mapToLong(Param::size).sum();
  }

  /** L2 norms of the checkpoint's weights per group ("embedding", "user_item", "other"). */
  public double[] weightNorms(List<float[]> values) {
    double emb = 0;
    double ui = 0;
    double other = 0;
    List<Integer> cols = userItemColumns;
    for (int i = 0; i < checkpointParams.size(); i++) {
      Param p = checkpointParams.get(i);
      if (!p.trainable) {
        continue;
      }
      double s = 0;
      for (float v : values.get(i)) {
        s += (double) v * v;
      }
      if (p.group == Param.Group.EMBEDDING) {
        emb += s;
      } else {
        other += s;
      }
      if (p == embedding.tokenTable) {
        int d = config.embeddingSize();
        for (int col : cols) {
          int[] range = embedding.tokenRowRange(inputs, col);
          for (int k = range[0] * d; k < range[1] * d; k++) {
            ui += (double) values.get(i)[k] * values.get(i)[k];
          }
        }
      }
    }
    return new double[] {Math.sqrt(emb), Math.sqrt(ui), Math.sqrt(other)};
  }

  /**
   * Writes a checkpoint: for each variable its name, element count and values. Durable and atomic
   * ({@link org.ctrlab.server.files.Durable#replace}): a run is recorded SUCCEEDED only after it is on disk.
   */
  public static void save(Path file, List<Param> params, List<float[]> values) throws IOException {
    org.ctrlab.server.files.Durable.replace(file, out -> {
      out.writeInt(0x43544c42); // "CTLB"
      out.writeInt(params.size());
      for (int i = 0; i < params.size(); i++) {
        out.writeUTF(params.get(i).name);
        float[] v = values.get(i);
        out.writeInt(v.length);
        for (float x : v) {
          out.writeFloat(x);
        }
      }
    });
  }

  /** Reads a checkpoint written by {@link #save} for this model's variables. */
  public List<float[]> load(Path file) throws IOException {
    try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
      if (in.readInt() != 0x43544c42) {
        throw new IOException(file + " is not a ctrlab checkpoint");
      }
      int n = in.readInt();
      if (n != checkpointParams.size()) {
        throw new IOException(file + " has " + n + " variables, the model " + checkpointParams.size());
      }
      List<float[]> out = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String name = in.readUTF();
        Param p = checkpointParams.get(i);
        int len = in.readInt();
        if (!name.equals(p.name) || len != p.size()) {
          throw new IOException(file + ": variable " + i + " is " + name + "[" + len + "], the model has " + p.name
              + "[" + p.size() + "]");
        }
        float[] v = new float[len];
        for (int k = 0; k < len; k++) {
          v[k] = in.readFloat();
        }
        out.add(v);
      }
      return out;
    }
  }

  @Override
  public void close() {
    dropoutMasks.shutdown();
    session.close();
    graph.close();
  }
}
