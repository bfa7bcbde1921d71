package org.ctrlab.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A ctrlab server in a process of its own (this JVM's Java and class path), as an operator starts it, so tests can
 * kill it with real signals.
 */
public final class ServerProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on [\\d.]+:(\\d+)");

  public final Process process;
  public final int port;

  private ServerProcess(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** Starts a server on a free loopback port over these folders; its log goes to log (appended). */
  public static ServerProcess start(Path dataDir, Path runDir, Path log, String... extra) throws IOException {
    return start(List.of(), dataDir, runDir, log, extra);
  }

  /** As {@link #start(Path, Path, Path, String...)}, under a wrapper command (e.g. strace and its options). */
  public static ServerProcess start(List<String> wrapper, Path dataDir, Path runDir, Path log, String... extra)
      throws IOException {
    List<String> cmd = new ArrayList<>(wrapper);
    cmd.addAll(List.of(
        ProcessHandle.current().info().command().orElse("java"), "-Xmx2g", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), "org.ctrlab.server.ServerMain", "--port", "0", "--data-dir",
        dataDir.toString(), "--run-dir", runDir.toString(), "--no-download", "--threads", "2",
        "--worker-jvm-option", TestData.WORKER_JVM.get(0)));
    cmd.addAll(List.of(extra));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null) {
      Matcher m = LISTENING.matcher(line);
      if (m.find()) {
        Thread drain = new Thread(() -> {
          try {
            while (out.readLine() != null) {
              // keep the pipe from filling
            }
          } catch (IOException e) {
            // closed
          }
        }, "server-stdout");
        drain.setDaemon(true);
        drain.start();
        return new ServerProcess(p, Integer.parseInt(m.group(1)));
      }
    }
    p.destroyForcibly();
    throw new IOException("the server did not start; see " + log);
  }

  /** SIGKILL, and wait for it to be gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGTERM (a graceful stop), and wait for it to end; returns its exit code. */
  public int terminate() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("the server did not stop within 60 s of SIGTERM");
    }
    return process.exitValue();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      terminate();
    }
  }
}
