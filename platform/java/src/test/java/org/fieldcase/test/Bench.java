package org.fieldcase.test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.fieldcase.Device;
import org.fieldcase.DeviceConfig;

/**
 * The JNI side of `fieldcase-bench capi`: the same caseload and the same visit (three draft
 * notes, one transaction) as the C++ and C paths, recorded through org.fieldcase.Device, in
 * lockstep with them: after setting up it prints "ready", then for each line "v" on its input
 * records one visit and prints the milliseconds it took, wall and CPU time of this thread
 * ("1.234 0.210"); "q" ends it.
 *
 * <p>usage: Bench DIR CHILDREN HISTORY_VISITS WARMUP
 */
public final class Bench {
  private static final String WORKER = "0189a000-0000-7000-8000-000000000001";

  static String childFields(int n) {
    return "{\"local_id\": \"C" + (1000 + n) + "\", \"first_name\": \"Child\", \"last_name\": "
        + "\"Number" + n + "\", \"date_of_birth\": \"2015-03-02\", \"gender\": \"1\", "
        + "\"allocated_worker\": \"" + WORKER + "\"}";
  }

  /** The visit the benchmark records, built as the app would build it. */
  static String visitOps(String caseId, String at, String observations, String noteText) {
    StringBuilder ops = new StringBuilder(4096);
    ops.append("[{\"op\":\"create\",\"kind\":\"visit\",\"case_id\":\"").append(caseId)
        .append("\",\"ref\":\"v\",\"fields\":{\"visit_type\":\"child_in_need\",\"start_at\":\"")
        .append(at).append("\",\"end_at\":\"").append(at)
        .append("\",\"child_seen\":true,\"child_seen_alone\":true,\"observations\":\"")
        .append(observations).append("\"}}");
    for (int n = 0; n < 3; ++n) {
      ops.append(",{\"op\":\"create\",\"kind\":\"case_note\",\"case_id\":\"").append(caseId)
          .append("\",\"links\":{\"visit_id\":\"v\"},\"fields\":{\"contact_at\":\"").append(at)
          .append("\",\"text\":\"").append(noteText).append("\",\"status\":\"draft\"}}");
    }
    return ops.append(']').toString();
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int children = Integer.parseInt(args[1]);
    int history = Integer.parseInt(args[2]);
    int warmup = Integer.parseInt(args[3]);
    Files.createDirectories(dir);
    DeviceConfig config = new DeviceConfig(dir.resolve("jni.db").toString(), WORKER, "bench-jni")
        .keystoreDir(dir.resolve("jni-keys").toString())
        .minimumKdf(true);
    String at = Instant.now().minus(1, ChronoUnit.DAYS).truncatedTo(ChronoUnit.SECONDS).toString();
    String observations = "v".repeat(600);
    String noteText = "t".repeat(400);
    try (Device device = Device.create(config, "246813")) {
      String[] cases = new String[children];
      for (int c = 0; c < children; ++c) {
        cases[c] = device.createRecord("child", null, childFields(c));
      }
      for (int i = 0; i < history; ++i) {
        device.write(visitOps(cases[i % children], at, observations, noteText));
      }
      for (int i = 0; i < warmup; ++i) {
        device.write(visitOps(cases[i % children], at, observations, noteText));
      }
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      PrintStream out = System.out;
      out.println("ready");
      out.flush();
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      int i = 0;
      for (String line; (line = in.readLine()) != null && line.equals("v"); ++i) {
        long cpu = threads.getCurrentThreadCpuTime();
        long start = System.nanoTime();
        device.write(visitOps(cases[i % children], at, observations, noteText));
        long wall = System.nanoTime() - start;
        cpu = threads.getCurrentThreadCpuTime() - cpu;
        out.println(wall / 1e6 + " " + cpu / 1e6);
        out.flush();
      }
    }
  }
}
