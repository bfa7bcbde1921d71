package org.ctrlab.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The server's options from flags and from a config file, flags winning. */
class ServerMainTest {
  @TempDir
  Path tmp;

  @Test
  void aConfigFileGivesDefaultsAndFlagsWin() throws Exception {
    Path f = tmp.resolve("server.properties");
    Files.writeString(f, "launcher=slurm\nslurm-partition=gpu\nslurm-gpus=1\nslurm-mem=32G\nslots=3\n"
        + "shared-dir=/shared/runs\nslurm-arg=--qos=normal\n");
    ServerMain m = new ServerMain();
    CommandLine cl = new CommandLine(m);
    cl.setDefaultValueProvider(new CommandLine.PropertiesDefaultProvider(f.toFile()));
    cl.parseArgs("--slots", "5", "--config-file", f.toString());
    ServerOptions o = m.options();
    assertEquals("slurm", o.launcher());
    assertEquals("gpu", o.slurm().partition());
    assertEquals(1, o.slurm().gpusPerRun());
    assertEquals("32G", o.slurm().memory());
    assertEquals(5, o.slots(), "the flag wins over the file");
    assertEquals(Path.of("/shared/runs"), o.runDir());
  }
}
