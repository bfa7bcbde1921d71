package org.ctrlab.server;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.ctrlab.server.service.Limits;
import org.ctrlab.server.service.Visibility;

/**
 * Everything a server is started with, each with the default a single user on one box wants. Setters return the
 * options, so a test or a tool states only what differs: {@code new ServerOptions().port(0).runDir(dir)}.
 */
public final class ServerOptions {
  /** --max-run-hours by default: three days. */
  public static final double DEFAULT_MAX_RUN_HOURS = 72;

  private String host = "127.0.0.1";
  private int port = 50051;
  private Path dataDir = Path.of("data");
  private Path runDir = Path.of("runs");
  private Map<String, Path> datasets = Map.of();
  private Path configDir;
  private Path tokens;
  private int slots = 1;
  private int threads;
  private boolean allowDownload = true;
  private int maxAttempts = 3;
  private List<String> gpus;
  private List<String> workerJvmOptions = List.of();
  private Limits limits = Limits.DEFAULTS;
  private int analysisThreads = 2;
  private org.ctrlab.server.service.StreamLimits streams = org.ctrlab.server.service.StreamLimits.DEFAULTS;
  private double maxRunHours = DEFAULT_MAX_RUN_HOURS;
  private Duration keep = Duration.ZERO;
  private long maxRunDirBytes;
  private Path tlsCert;
  private Path tlsKey;
  private Path tlsClientCa;
  private boolean insecure;
  private Visibility visibility = Visibility.ALL;
  private int metricsPort = -1;
  private int httpPort = -1;
  private String metricsHost = "127.0.0.1";
  private String store;
  private Path storePasswordFile;
  private String launcher = "local";
  private org.ctrlab.server.jobs.SlurmLauncher.Settings slurm = new org.ctrlab.server.jobs.SlurmLauncher.Settings(
      null, 0, 0, null, null, null, List.of(), null, java.time.Duration.ofSeconds(2));

  public String host() {
    return host;
  }

  /** Address to listen on; anything but loopback needs TLS and tokens, or {@link #insecure}. */
  public ServerOptions host(String v) {
    host = v;
    return this;
  }

  public int port() {
    return port;
  }

  /** 0 picks a free port. */
  public ServerOptions port(int v) {
    port = v;
    return this;
  }

  public Path dataDir() {
    return dataDir;
  }

  public ServerOptions dataDir(Path v) {
    dataDir = v;
    return this;
  }

  public Path runDir() {
    return runDir;
  }

  public ServerOptions runDir(Path v) {
    runDir = v;
    return this;
  }

  public Map<String, Path> datasets() {
    return datasets;
  }

  /** Datasets read from other folders than dataDir/NAME. */
  public ServerOptions datasets(Map<String, Path> v) {
    datasets = Map.copyOf(v);
    return this;
  }

  public Path configDir() {
    return configDir;
  }

  public ServerOptions configDir(Path v) {
    configDir = v;
    return this;
  }

  public Path tokens() {
    return tokens;
  }

  /** The token file; null: no tokens, every caller is the user "local". */
  public ServerOptions tokens(Path v) {
    tokens = v;
    return this;
  }

  public int slots() {
    return slots;
  }

  public ServerOptions slots(int v) {
    slots = v;
    return this;
  }

  public int threads() {
    return threads;
  }

  /** TensorFlow threads per run; 0: the cores divided among the slots. */
  public ServerOptions threads(int v) {
    threads = v;
    return this;
  }

  public boolean allowDownload() {
    return allowDownload;
  }

  public ServerOptions allowDownload(boolean v) {
    allowDownload = v;
    return this;
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  public ServerOptions maxAttempts(int v) {
    maxAttempts = v;
    return this;
  }

  public List<String> gpus() {
    return gpus;
  }

  /** GPU indices for the slots; null: every GPU TensorFlow sees. */
  public ServerOptions gpus(List<String> v) {
    gpus = v == null ? null : List.copyOf(v);
    return this;
  }

  public List<String> workerJvmOptions() {
    return workerJvmOptions;
  }

  public ServerOptions workerJvmOptions(List<String> v) {
    workerJvmOptions = List.copyOf(v);
    return this;
  }

  public Limits limits() {
    return limits;
  }

  public ServerOptions limits(Limits v) {
    limits = v;
    return this;
  }

  public org.ctrlab.server.service.StreamLimits streams() {
    return streams;
  }

  /** What one user or connection may hold open, and how long a stream may wait for its reader. */
  public ServerOptions streams(org.ctrlab.server.service.StreamLimits v) {
    streams = v;
    return this;
  }

  public double maxRunHours() {
    return maxRunHours;
  }

  /** The longest a run may take, from its first start, before it is ended as FAILED (a run may ask for less). */
  public ServerOptions maxRunHours(double v) {
    maxRunHours = v;
    return this;
  }

  public int analysisThreads() {
    return analysisThreads;
  }

  public ServerOptions analysisThreads(int v) {
    analysisThreads = v;
    return this;
  }

  public Duration keep() {
    return keep;
  }

  /** How long finished runs keep their files; zero: forever. */
  public ServerOptions keep(Duration v) {
    keep = v;
    return this;
  }

  public long maxRunDirBytes() {
    return maxRunDirBytes;
  }

  /** Cap on the run folder; 0: none. */
  public ServerOptions maxRunDirBytes(long v) {
    maxRunDirBytes = v;
    return this;
  }

  public Path tlsCert() {
    return tlsCert;
  }

  public Path tlsKey() {
    return tlsKey;
  }

  public Path tlsClientCa() {
    return tlsClientCa;
  }

  /** The server's certificate chain and PKCS#8 key (PEM), and the CA that client certificates must chain to. */
  public ServerOptions tls(Path cert, Path key, Path clientCa) {
    tlsCert = cert;
    tlsKey = key;
    tlsClientCa = clientCa;
    return this;
  }

  public boolean insecure() {
    return insecure;
  }

  /** Allows a non-loopback address without TLS or tokens (a trusted network only). */
  public ServerOptions insecure(boolean v) {
    insecure = v;
    return this;
  }

  public Visibility visibility() {
    return visibility;
  }

  public ServerOptions visibility(Visibility v) {
    visibility = v;
    return this;
  }

  /** Where the metrics endpoint listens: loopback by default (it has neither TLS nor tokens). */
  public String metricsHost() {
    return metricsHost;
  }

  public ServerOptions metricsHost(String v) {
    metricsHost = v;
    return this;
  }

  public int metricsPort() {
    return metricsPort;
  }

  /** The dashboard's port (on the server's host); -1: none, 0: a free one. */
  public int httpPort() {
    return httpPort;
  }

  /** Serve the dashboard on this port: ctrlab-server's --http-port, 8080 unless told; -1 (this class's default) none. */
  public ServerOptions httpPort(int v) {
    httpPort = v;
    return this;
  }

  public String store() {
    return store;
  }

  /** The run store: a PostgreSQL JDBC URL, or an SQLite file; null: runDir/ctrlab.db. */
  public ServerOptions store(String v) {
    store = v;
    return this;
  }

  public Path storePasswordFile() {
    return storePasswordFile;
  }

  /** A file holding the PostgreSQL password (null: from the URL or $CTRLAB_STORE_PASSWORD[_FILE]). */
  public ServerOptions storePasswordFile(Path v) {
    storePasswordFile = v;
    return this;
  }

  public String launcher() {
    return launcher;
  }

  /** "local" (child processes, the default) or "slurm" (batch jobs). */
  public ServerOptions launcher(String v) {
    if (!v.equals("local") && !v.equals("slurm")) {
      throw new IllegalArgumentException("--launcher is local or slurm, got " + v);
    }
    launcher = v;
    return this;
  }

  public org.ctrlab.server.jobs.SlurmLauncher.Settings slurm() {
    return slurm;
  }

  /** What each Slurm job asks for (with the slurm launcher). */
  public ServerOptions slurm(org.ctrlab.server.jobs.SlurmLauncher.Settings v) {
    slurm = v;
    return this;
  }

  /** Port of the Prometheus metrics endpoint (on the server's host); -1: none, 0: a free one. */
  public ServerOptions metricsPort(int v) {
    metricsPort = v;
    return this;
  }
}
