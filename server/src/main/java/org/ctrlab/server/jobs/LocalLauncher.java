package org.ctrlab.server.jobs;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ctrlab.api.v1.Run;

/**
 * Runs each worker as a child process of the server: the same Java, the same class path, {@code ServerMain worker
 * RUN_ID} with the server's data and store options. Its standard output and error go to the run's worker.log; its
 * standard input is a pipe the server never writes, so that when the server dies, even by SIGKILL, the worker sees
 * end-of-file and stops (the next server resumes the run from its last epoch).
 */
public final class LocalLauncher implements Launcher {
  private static final Pattern WHERE = Pattern.compile("pid (\\d+) on (\\S+)");
  /** Marks a worker's JVM with its run: {@code -Dctrlab.worker=RUN_ID}. */
  static final String WORKER_PROPERTY = "-Dctrlab.worker=";

  private final List<String> javaCommand;
  private final String classPath;
  private final List<String> workerArgs;
  private final Map<String, String> env;
  private final String host;

  /**
   * @param jvmOptions options for each worker's JVM (heap size, say)
   * @param workerArgs the worker's options shared by every run (data, configs)
   * @param env the worker's environment shared by every run (where the store is)
   */
  public LocalLauncher(List<String> jvmOptions, List<String> workerArgs, Map<String, String> env) {
    this.env = Map.copyOf(env);
    String java = ProcessHandle.current().info().command().orElse(
        Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("-XX:+ExitOnOutOfMemoryError");
    cmd.addAll(jvmOptions);
    this.javaCommand = List.copyOf(cmd);
    this.classPath = System.getProperty("java.class.path");
    this.workerArgs = List.copyOf(workerArgs);
    this.host = hostName();
  }

  static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }

  @Override
  public Job launch(Spec spec) throws IOException {
    // The run id first on the command line (ps, and reap() below, read it there; /proc truncates long ones) and
    // the class path in the environment rather than on the command line.
    List<String> cmd = new ArrayList<>(javaCommand);
    cmd.add(1, WORKER_PROPERTY + spec.runId());
    cmd.addAll(List.of("org.ctrlab.server.ServerMain", "worker", spec.runId(), "--attempt", String.valueOf(spec.attempt()), "--threads",
        String.valueOf(spec.threads()), "--exit-with-stdin"));
    cmd.addAll(workerArgs);
    org.ctrlab.server.files.PrivateFiles.createFile(spec.log()); // its folder too: the owner's only
    try (OutputStream o = Files.newOutputStream(spec.log(), java.nio.file.StandardOpenOption.APPEND)) {
      o.write(String.format("=== %s attempt %d of run %s (slot %d, %d threads)%n", Instant.now(), spec.attempt(),
          spec.runId(), spec.slot(), spec.threads()).getBytes(StandardCharsets.UTF_8));
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(spec.log().toFile()))
        .redirectInput(ProcessBuilder.Redirect.PIPE);
    pb.environment().put("CLASSPATH", classPath);
    pb.environment().putAll(env);
    pb.environment().putAll(spec.env());
    Process p = pb.start();
    return new LocalJob(p, "pid " + p.pid() + " on " + host);
  }

  private static final class LocalJob implements Job {
    private final Process process;
    private final String where;

    LocalJob(Process process, String where) {
      this.process = process;
      this.where = where;
    }

    @Override
    public String where() {
      return where;
    }

    @Override
    public Optional<Exit> exit() {
      if (process.isAlive()) {
        return Optional.empty();
      }
      int code = process.exitValue();
      return Optional.of(new Exit(code, describe(code)));
    }

    @Override
    public void kill() {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public Optional<Job> adopt(Run run) {
    reap(run);
    return Optional.empty();
  }

  /** Stops the worker of an earlier server still running this run, if there is one on this host. */
  private void reap(Run run) {
    Matcher m = WHERE.matcher(run.getWorker());
    if (!m.matches() || !m.group(2).equals(host)) {
      return;
    }
    Optional<ProcessHandle> h = ProcessHandle.of(Long.parseLong(m.group(1)));
    // Only a worker of this run: a pid can be reused by an unrelated process after a reboot.
    if (h.isPresent() && h.get().info().commandLine().map(c -> c.contains(WORKER_PROPERTY + run.getRunId()))
        .orElse(false)) {
      h.get().destroyForcibly();
      try {
        h.get().onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // it is gone or will be; the attempt fence keeps it from writing either way
      }
    }
  }

  /** A worker's exit code in words. */
  static String describe(int code) {
    if (code > 128 && code <= 128 + 64) {
      int sig = code - 128;
      String name = switch (sig) {
        case 1 -> "SIGHUP";
        case 2 -> "SIGINT";
        case 3 -> "SIGQUIT";
        case 4 -> "SIGILL";
        case 6 -> "SIGABRT";
        case 7 -> "SIGBUS";
        case 8 -> "SIGFPE";
        case 9 -> "SIGKILL";
        case 11 -> "SIGSEGV";
        case 13 -> "SIGPIPE";
        case 15 -> "SIGTERM";
        default -> "signal " + sig;
      };
      String why = switch (sig) {
        case 9 -> " (by hand, or by the kernel's out-of-memory killer)";
        case 6 -> " (a native abort)";
        case 11 -> " (a native crash)";
        default -> "";
      };
      return "killed by signal " + sig + " (" + name + ")" + why;
    }
    return switch (code) {
      case 0 -> "exited normally";
      case Worker.EXIT_OUT_OF_MEMORY -> "ran out of Java heap (exit status 3)";
      default -> "exit status " + code;
    };
  }
}
