package org.fieldcase.test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The real fieldcase-server on a loopback port the system picks, with its admin commands. */
final class TestServer implements AutoCloseable {
  final Path dir;
  final int port;
  final String url;
  private final String binary;
  private final Process process;

  TestServer(String binary, Path dir) throws IOException {
    this.binary = binary;
    this.dir = dir;
    process = new ProcessBuilder(binary, "serve", "--listen", "127.0.0.1:0", "--database",
        dir.resolve("server.db").toString())
        .redirectError(dir.resolve("serve.err").toFile())
        .start();
    BufferedReader out = new BufferedReader(
        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine();
    if (line == null || !line.contains("listening on")) {
      process.destroyForcibly();
      throw new IOException("fieldcase-server did not start: " + line);
    }
    port = Integer.parseInt(line.substring(line.lastIndexOf(':') + 1).trim());
    url = "http://127.0.0.1:" + port;
  }

  /** Runs an admin command; returns the first line of its output. */
  String admin(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(Arrays.asList(binary, "admin", "--database",
        dir.resolve("server.db").toString(), "--quiet"));
    command.addAll(Arrays.asList(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("admin " + String.join(" ", args) + " failed: " + output);
    }
    int nl = output.indexOf('\n');
    return nl < 0 ? output : output.substring(0, nl);
  }

  /** Creates the organisation and returns the team id. */
  String organisation() throws IOException, InterruptedException {
    admin("authority", "create", "--name", "City", "--la-code", "123");
    String area = admin("area", "create", "--name", "North");
    return admin("team", "create", "--name", "Team 1", "--area", area);
  }

  String worker(String team, String name) throws IOException, InterruptedException {
    return admin("worker", "create", "--name", name, "--role", "social_worker", "--team", team);
  }

  /** {device id, token} */
  String[] issueDevice(String worker) throws IOException, InterruptedException {
    String line = admin("device", "issue", "--worker", worker);
    int space = line.indexOf(' ');
    return new String[] {line.substring(0, space), line.substring(space + 1).trim()};
  }

  @Override
  public void close() {
    process.destroyForcibly();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
