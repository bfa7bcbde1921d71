package org.ctrlab.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.List;
import org.junit.jupiter.api.Test;

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
}
