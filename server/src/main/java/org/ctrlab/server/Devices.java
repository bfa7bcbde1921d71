package org.ctrlab.server;

import static org.tensorflow.internal.c_api.global.tensorflow.TF_CloseSession;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteDeviceList;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteGraph;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteSession;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteSessionOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeviceListCount;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeviceListName;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeviceListType;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewGraph;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewSession;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewSessionOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_SessionListDevices;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_SetConfig;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.TensorFlow;
import org.tensorflow.internal.c_api.TF_DeviceList;
import org.tensorflow.internal.c_api.TF_Graph;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;

/** The TensorFlow devices this process can use, so the server can say where runs execute. */
public final class Devices {
  private Devices() {}

  /** Device names such as "/job:localhost/replica:0/task:0/device:CPU:0" with their types. */
  public static List<String[]> list() {
    TensorFlow.version(); // loads the native library
    List<String[]> out = new ArrayList<>();
    TF_Status st = TF_NewStatus();
    TF_Graph g = TF_NewGraph();
    TF_SessionOptions o = TF_NewSessionOptions();
    byte[] config = sessionConfig().toByteArray();
    try (org.bytedeco.javacpp.BytePointer b = new org.bytedeco.javacpp.BytePointer(config)) {
      TF_SetConfig(o, b, config.length, st);
    }
    TF_Session s = TF_NewSession(g, o, st);
    try {
      TF_DeviceList l = TF_SessionListDevices(s, st);
      for (int i = 0; i < TF_DeviceListCount(l); i++) {
        out.add(new String[] {TF_DeviceListName(l, i, st).getString(), TF_DeviceListType(l, i, st).getString()});
      }
      TF_DeleteDeviceList(l);
    } finally {
      TF_CloseSession(s, st);
      TF_DeleteSession(s, st);
      TF_DeleteSessionOptions(o);
      TF_DeleteGraph(g);
      TF_DeleteStatus(st);
    }
    return out;
  }

  /**
   * What every session of this process starts with: GPU memory taken as needed, not all of it at the first session
   * (TensorFlow's default), so that the server's own sessions and several workers can share a GPU box.
   */
  public static org.tensorflow.proto.ConfigProto sessionConfig() {
    var b = org.tensorflow.proto.ConfigProto.newBuilder()
        .setGpuOptions(org.tensorflow.proto.GPUOptions.newBuilder().setAllowGrowth(true));
    int n = threads;
    if (n > 0) {
      b.setIntraOpParallelismThreads(n).setInterOpParallelismThreads(n);
    }
    return b.build();
  }

  private static volatile int threads; // 0: TensorFlow's default (the cores)

  /**
   * The TensorFlow threads of this process, to call before its first session. TensorFlow sizes its intra-op
   * (Eigen/oneDNN) and inter-op pools once, from the first session of the process (listing the devices is one), and
   * later sessions' thread counts are ignored: a worker told to use one thread used the default pool of all cores.
   */
  public static void useThreads(int n) {
    threads = Math.max(0, n);
  }

  /**
   * How this process trains in bfloat16, or "" when it cannot: TensorFlow's oneDNN mixed-precision rewrite needs
   * oneDNN on and a CPU with AVX512_BF16 or AMX (on any other CPU it silently leaves the graph in float32).
   */
  public static String bf16() {
    String v = bf16;
    if (v == null) {
      v = bf16(cpuFlags(), oneDnn());
      bf16 = v;
    }
    return v;
  }

  private static volatile String bf16; // neither the CPU nor the environment changes while the process runs

  /** {@link #bf16()} for given CPU flags and oneDNN setting. */
  static String bf16(List<String> flags, boolean oneDnn) {
    String unit = flags.contains("amx_bf16") ? "AMX" : flags.contains("avx512_bf16") ? "AVX512_BF16" : "";
    return unit.isEmpty() || !oneDnn ? "" : "CPU: " + unit + " through oneDNN";
  }

  /** Why {@link #bf16()} is empty, for a refusal. */
  public static String noBf16Reason() {
    List<String> flags = cpuFlags();
    boolean unit = flags.contains("amx_bf16") || flags.contains("avx512_bf16");
    return !unit ? "this server's CPU has neither AVX512_BF16 nor AMX" : "TensorFlow's oneDNN kernels are off here"
        + " (start the server with TF_ENABLE_ONEDNN_OPTS=1)";
  }

  /** The CPU's flags from /proc/cpuinfo (empty where there is none). */
  static List<String> cpuFlags() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("flags")) {
          return List.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux, or unreadable
    }
    return List.of();
  }

  /**
   * Whether TensorFlow uses its oneDNN CPU kernels, by its own rule (TF 2.18 on Linux): TF_ENABLE_ONEDNN_OPTS if
   * set, else on only for CPUs with AVX-512 VNNI/BF16, AVX-VNNI or AMX. TensorFlow reads it once at start and a JVM
   * cannot set its own environment, so launchers set it (run.sh and the CPU Docker image do).
   */
  public static boolean oneDnn() {
    String v = System.getenv("TF_ENABLE_ONEDNN_OPTS");
    if (v != null && !v.isBlank()) {
      return v.equals("1") || v.equalsIgnoreCase("true");
    }
    // Without /proc/cpuinfo (not Linux) there are no flags, and TensorFlow's default elsewhere is off.
    List<String> flags = cpuFlags();
    return java.util.stream.Stream.of("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
        .anyMatch(flags::contains);
  }

  /** The device runs execute on: the first GPU if TensorFlow sees one, else the CPU, with the core count. */
  public static String describe() {
    try {
      for (String[] d : list()) {
        if (d[1].equals("GPU")) {
          return shortName(d[0]) + " (GPU)";
        }
      }
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      return "unknown (" + e.getMessage() + ")";
    }
    return "/device:CPU:0 (" + Runtime.getRuntime().availableProcessors() + " cores)";
  }

  /**
   * The GPUs TensorFlow sees, as the indices CUDA_VISIBLE_DEVICES takes ("0", "1", ...); empty on a CPU box. The
   * server gives each slot one of them.
   */
  public static List<String> gpuIndices() {
    List<String> out = new ArrayList<>();
    try {
      for (String[] d : list()) {
        if (d[1].equals("GPU")) {
          out.add(String.valueOf(out.size()));
        }
      }
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      // no TensorFlow devices: no GPUs to hand out
    }
    return out;
  }

  /**
   * The environment variable that gives every TensorFlow session its own intra-op pool, sized by that session's
   * config, instead of the process's one pool sized by its first session (TensorFlow reads it once, at the first
   * session; a JVM cannot set its own environment, so the supervisor sets it for its workers, and the tools say
   * when it is missing).
   */
  public static final String OWN_POOLS_ENV = "TF_OVERRIDE_GLOBAL_THREADPOOL";

  /** Whether each session of this process has thread pools of its own ({@link #OWN_POOLS_ENV}, TensorFlow's rule). */
  public static boolean ownPools() {
    String v = System.getenv(OWN_POOLS_ENV);
    return v != null && (v.equals("1") || v.equalsIgnoreCase("true"));
  }

  /** Whether TensorFlow sees a GPU in this process (asked once). */
  public static boolean hasGpu() {
    Boolean v = hasGpu;
    if (v == null) {
      v = !gpuIndices().isEmpty();
      hasGpu = v;
    }
    return v;
  }

  private static volatile Boolean hasGpu;

  private static String shortName(String n) {
    int i = n.indexOf("/device:");
    return i >= 0 ? n.substring(i) : n;
  }
}
