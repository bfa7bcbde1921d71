package org.ctrlab.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ctrlab.api.v1.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SlurmLauncherTest {
  /**
   * squeue's %S and scontrol's StartTime: seconds since the epoch (SLURM_TIME_FORMAT=%s), or Slurm's standard
   * format, the local time of the host running them; no time is 0.
   */
  @Test
  void slurmTimesAreReadAsEpochSecondsOrLocalTimesAndAnythingElseAsNone() {
    assertEquals(1_796_340_569_000L, SlurmLauncher.time("1796340569\n"));
    assertEquals(LocalDateTime.of(2026, 12, 3, 23, 30, 5).atZone(ZoneId.systemDefault()).toInstant().toEpochMilli(),
        SlurmLauncher.time("2026-12-03T23:30:05\n"));
    for (String none : List.of("N/A", "Unknown", "None", "", "2026-12-03", "0", "-1796340569", "23:30:05")) {
      assertEquals(0, SlurmLauncher.time(none), none);
    }
  }

  @Test
  void fieldsOfAnScontrolLineAreFoundByKey() {
    String line = "JobId=42 JobName=ctrlab-run JobState=RUNNING Reason=None Restarts=1 StartTime=2026-12-03T23:30:05"
        + " EndTime=Unknown";
    assertEquals("RUNNING", SlurmLauncher.field(line, "JobState"));
    assertEquals("2026-12-03T23:30:05", SlurmLauncher.field(line, "StartTime"));
    assertEquals("", SlurmLauncher.field(line, "ExitCode"));
  }

  /**
   * A server's start follows its runs' jobs with one squeue for all of them; only a job squeue does not list is
   * asked about on its own (scontrol: one Slurm has forgotten is not followed), and a finished one's exit is read.
   * Slurm here is two scripts that answer as Slurm 22.05 does and write down each call.
   */
  @Test
  void aStartAsksSlurmAboutAllItsRunsJobsWithOneSqueue(@TempDir Path dir) throws Exception {
    Path calls = dir.resolve("calls");
    script(dir, "squeue", """
        echo "squeue $*" >> CALLS
        echo "11|RUNNING|None|1796340569|1796340500"
        echo "12|PENDING|BeginTime|1796999999|1796340600"
        echo "13|COMPLETED|None|1796340000|1796339000"
        """.replace("CALLS", calls.toString()));
    script(dir, "scontrol", """
        echo "scontrol $*" >> CALLS
        case "$4" in
          13) echo "JobId=13 JobState=COMPLETED Reason=None ExitCode=0:0 StartTime=1796340000" ;;
          *) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1 ;;
        esac
        """.replace("CALLS", calls.toString()));
    SlurmLauncher.Settings settings = new SlurmLauncher.Settings(null, 0, 0, null, null, null, List.of(), null,
        Duration.ofHours(1));
    try (SlurmLauncher slurm = new SlurmLauncher(settings, List.of(), List.of(), Map.of(), dir)) {
      List<Optional<Launcher.Job>> jobs = slurm.adopt(List.of(run("11"), run("12"), run("13"), run("14"), run("")));
      assertEquals(5, jobs.size());
      assertEquals("RUNNING", jobs.get(0).orElseThrow().status());
      assertEquals(1_796_340_569_000L, jobs.get(0).orElseThrow().startedUnixMs().getAsLong());
      assertTrue(jobs.get(1).orElseThrow().queued());
      assertFalse(jobs.get(1).orElseThrow().startedUnixMs().isPresent(), "a pending job's start is a forecast");
      assertEquals(1_796_340_600_000L, jobs.get(1).orElseThrow().queuedSinceUnixMs().getAsLong(),
          "when it entered the queue (a requeue's time)");
      assertEquals(0, jobs.get(2).orElseThrow().exit().orElseThrow().code());
      assertTrue(jobs.get(3).isEmpty(), "a job Slurm no longer knows is not followed");
      assertTrue(jobs.get(4).isEmpty(), "a run without a job");
      // (The poller, once it has jobs to follow, may ask squeue about 11 and 12 too: its calls list no other job.)
      List<String> asked = Files.readAllLines(calls);
      assertEquals(List.of("squeue --states=all -h -o %i|%T|%r|%S|%V -j 11,12,13,14", "scontrol show job -o 13",
          "scontrol show job -o 14"), asked.stream().filter(c -> c.contains("13") || c.contains("14")).toList());
    }
  }

  /**
   * When squeue cannot answer at all, a start follows every job with its state unknown (the poller asks again)
   * rather than asking scontrol about each; the same job id named twice is one job.
   */
  @Test
  void aStartFollowsItsJobsWhenSlurmCannotAnswer(@TempDir Path dir) throws Exception {
    Path calls = dir.resolve("calls");
    script(dir, "scontrol", "echo \"scontrol $*\" >> " + calls + "\n"); // no squeue: it cannot be run
    SlurmLauncher.Settings settings = new SlurmLauncher.Settings(null, 0, 0, null, null, null, List.of(), null,
        Duration.ofHours(1));
    try (SlurmLauncher slurm = new SlurmLauncher(settings, List.of(), List.of(), Map.of(), dir)) {
      List<Optional<Launcher.Job>> jobs = slurm.adopt(List.of(run("21"), run("22"), run("21")));
      assertEquals("", jobs.get(0).orElseThrow().status(), "followed, its state not known yet");
      assertTrue(jobs.get(1).isPresent());
      assertSame(jobs.get(0).get(), jobs.get(2).get(), "one job for one id");
      assertFalse(Files.exists(calls), "scontrol is not asked about each job");
    }
  }

  private static Run run(String jobId) {
    return Run.newBuilder().setRunId("r" + jobId).setJobId(jobId).build();
  }

  private static void script(Path dir, String name, String body) throws Exception {
    Path p = dir.resolve(name);
    Files.writeString(p, "#!/bin/bash\n" + body);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
  }
}
