package org.ctrlab.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class DevicesTest {
  @Test
  void bf16NeedsABf16UnitAndOneDnn() {
    assertEquals("CPU: AVX512_BF16 through oneDNN", Devices.bf16(List.of("fma", "avx512f", "avx512_bf16"), true));
    assertEquals("CPU: AMX through oneDNN", Devices.bf16(List.of("avx512_bf16", "amx_tile", "amx_bf16"), true));
    assertEquals("", Devices.bf16(List.of("avx512_bf16"), false), "oneDNN off: TensorFlow would not rewrite");
    assertEquals("", Devices.bf16(List.of("avx2", "fma"), true), "Zen 3: no bf16 unit");
    assertEquals("", Devices.bf16(List.of(), true));
  }

  @Test
  void theProcessThreadCountSizesEverySession() {
    try {
      Devices.useThreads(1);
      var c = Devices.sessionConfig();
      assertEquals(1, c.getIntraOpParallelismThreads());
      assertEquals(1, c.getInterOpParallelismThreads());
      assertEquals(true, c.getGpuOptions().getAllowGrowth());
      Devices.useThreads(0);
      assertEquals(0, Devices.sessionConfig().getIntraOpParallelismThreads(), "0: TensorFlow's default");
    } finally {
      Devices.useThreads(0);
    }
  }
}
