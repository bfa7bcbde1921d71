package org.ctrlab.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How the supervisor shares a box among its slots, and how it reads a worker's end. */
class SupervisorTest {
  static Supervisor with(int slots, List<String> gpus) {
    return new Supervisor(null, null, new Supervisor.Settings(slots, 1, gpus, 3, Path.of("runs"), 72), r -> { });
  }

  @Test
  void eachSlotGetsItsOwnGpuInTurnWithMemoryGrowth() {
    Supervisor s = with(3, List.of("0", "1"));
    assertEquals(Map.of("CUDA_VISIBLE_DEVICES", "0", "TF_FORCE_GPU_ALLOW_GROWTH", "true",
        "TF_OVERRIDE_GLOBAL_THREADPOOL", "true"), s.env(0));
    assertEquals("1", s.env(1).get("CUDA_VISIBLE_DEVICES"));
    assertEquals("0", s.env(2).get("CUDA_VISIBLE_DEVICES"), "more slots than GPUs: they share, in turn");
    assertEquals(Map.of("TF_OVERRIDE_GLOBAL_THREADPOOL", "true"), with(2, List.of()).env(1),
        "a CPU box sets only the sessions' own pools");
  }

  @Test
  void settingsRefuseNonsense() {
    assertThrows(IllegalArgumentException.class, () -> new Supervisor.Settings(0, 1, List.of(), 3, Path.of("r"), 72));
    assertThrows(IllegalArgumentException.class, () -> new Supervisor.Settings(1, 1, List.of(), 0, Path.of("r"), 72));
  }

  @Test
  void exitCodesAreToldInWords() {
    assertEquals("killed by signal 9 (SIGKILL) (by hand, or by the kernel's out-of-memory killer)",
        LocalLauncher.describe(137));
    assertEquals("killed by signal 6 (SIGABRT) (a native abort)", LocalLauncher.describe(134));
    assertEquals("ran out of Java heap (exit status 3)", LocalLauncher.describe(3));
    assertEquals("exit status 1", LocalLauncher.describe(1));
    assertTrue(new Launcher.Exit(139, "").signalled());
  }
}
