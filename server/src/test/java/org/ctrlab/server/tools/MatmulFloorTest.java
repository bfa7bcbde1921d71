package org.ctrlab.server.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class MatmulFloorTest {
  /** matmul-floor --kernels: per product of each layer, four kernels' times, each with its ratio to the first. */
  @Test
  void kernelsPrintsEachProductAsEachKernelWithRatiosToFloat32() {
    PrintStream out = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
      code = new CommandLine(new MatmulFloor()).execute("--layers", "24:8", "--batch", "64", "--steps", "3",
          "--kernels");
    } finally {
      System.setOut(out);
    }
    String text = buf.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, text);
    assertTrue(text.contains("per 3-step epoch"), text);
    List<String> rows = text.lines().filter(l -> l.startsWith("24:8")).toList();
    assertEquals(3, rows.size(), text);
    String[] shapes = {"[64 x 24] [24 x 8]", "[64 x 8] [8 x 24]", "[24 x 64] [64 x 8]"}; // forward, dX, dW
    for (int i = 0; i < 3; i++) {
      assertTrue(rows.get(i).contains(shapes[i]), rows.get(i));
      String[] f = rows.get(i).substring(rows.get(i).indexOf(']', rows.get(i).indexOf(']') + 1) + 1).trim()
          .split("\\s+");
      assertEquals(8, f.length, Arrays.toString(f)); // ms and ratio for f32, f32+bias, bf16, bf16+bias
      assertEquals("1.00", f[1]);
      double base = Double.parseDouble(f[0]);
      for (int k = 0; k < 8; k += 2) {
        double ms = Double.parseDouble(f[k]);
        assertTrue(ms > 0, Arrays.toString(f));
        // ms are printed to 3 decimals, ratios to 2, of the unrounded times
        assertEquals(ms / base, Double.parseDouble(f[k + 1]), 0.006 + 0.001 / base * (1 + ms / base),
            Arrays.toString(f));
      }
    }
  }
}
