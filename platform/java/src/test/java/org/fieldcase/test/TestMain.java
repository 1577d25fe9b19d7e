package org.fieldcase.test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.fieldcase.Device;
import org.fieldcase.DeviceConfig;
import org.fieldcase.ErrorCode;
import org.fieldcase.ErrorDomain;
import org.fieldcase.Fieldcase;
import org.fieldcase.FieldcaseException;
import org.fieldcase.HttpTransport;
import org.fieldcase.KeyStore;
import org.fieldcase.Logger;
import org.fieldcase.SyncProgress;
import org.fieldcase.SyncReport;

/**
 * Tests of the Java binding through JNI, against the real fieldcase-server on loopback. A small
 * runner: {@code TestMain <server binary> <test>}; exits 1 when a check fails.
 */
public final class TestMain {
  private static int failures = 0;
  private static String server;
  private static final String PIN = "246813";

  private static void check(boolean condition, String what) {
    if (!condition) {
      ++failures;
      StackTraceElement at = new Throwable().getStackTrace()[1];
      System.err.println("TestMain.java:" + at.getLineNumber() + ": check failed: " + what);
    }
  }

  /** Runs body and checks it throws a FieldcaseException of this domain and code. */
  private static FieldcaseException expect(ErrorDomain domain, int code, Runnable body) {
    try {
      body.run();
    } catch (FieldcaseException e) {
      check(e.domain() == domain && e.code() == code,
          "expected " + domain + " " + code + ", got " + e.domain() + " " + e.code() + ": "
              + e.getMessage());
      return e;
    }
    StackTraceElement at = new Throwable().getStackTrace()[1];
    ++failures;
    System.err.println("TestMain.java:" + at.getLineNumber() + ": no exception, expected "
        + domain + " " + code);
    return null;
  }

  private static String childFields(String worker) {
    return "{\"first_name\": \"Zoë\", \"last_name\": \"Smith 😀\", \"date_of_birth\": "
        + "\"2015-03-02\", \"gender\": \"2\", \"local_id\": \"C-1\", \"allocated_worker\": \""
        + worker + "\"}";
  }

  private static String visitOps(String child) {
    return "[{\"op\": \"create\", \"kind\": \"visit\", \"case_id\": \"" + child + "\", "
        + "\"ref\": \"v\", \"fields\": {\"visit_type\": \"child_in_need\", \"start_at\": "
        + "\"2024-05-01T10:00:00Z\", \"child_seen\": true, \"observations\": \"Calm\"}}, "
        + "{\"op\": \"create\", \"kind\": \"case_note\", \"case_id\": \"" + child + "\", "
        + "\"links\": {\"visit_id\": \"v\"}, \"fields\": {\"contact_at\": "
        + "\"2024-05-01T10:00:00Z\", \"text\": \"Discussed school\", \"status\": "
        + "\"completed\"}}]";
  }

  private static void removeTree(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  // --- tests ---

  static void endToEnd(Path dir) throws Exception {
    try (TestServer s = new TestServer(server, dir)) {
      String team = s.organisation();
      String ann = s.worker(team, "Ann");
      String bea = s.worker(team, "Bea");
      String[] issued = s.issueDevice(ann);
      DeviceConfig config = new DeviceConfig(dir.resolve("case.db").toString(), ann, issued[0])
          .keystoreDir(dir.resolve("keys").toString())
          .serverUrl(s.url)
          .minimumKdf(true)
          .syncAttempts(1);
      String child;
      try (Device device = Device.create(config, PIN)) {
        check(device.isUnlocked(), "unlocked after create");
        device.setToken(issued[1]);
        child = device.createRecord("child", null, childFields(ann));
        String ids = device.write(visitOps(child));
        check(ids.startsWith("[\"") && ids.contains("\",\""), "two ids: " + ids);
        check(device.getRecord(child).contains("Smith 😀"), "non-BMP text round trips");
        check(device.caseload().contains("Zoë"), "caseload has the child");
        check(device.pendingTransactions() == 2, "two transactions waiting");

        device.lock();
        FieldcaseException wrong = expect(ErrorDomain.FIELDCASE, ErrorCode.WRONG_PIN,
            () -> device.unlock("1111"));
        check(wrong != null && wrong.is(ErrorCode.WRONG_PIN)
            && wrong.codeName().equals("wrong_pin"), "wrong PIN exception");
        check(wrong != null && !wrong.getMessage().contains("1111"), "no PIN in the message");
        check(device.attemptsLeft() == 9, "one attempt used");
        device.unlock(PIN);

        List<SyncProgress> seen = new ArrayList<>();
        SyncReport report = device.sync(seen::add);
        check(report.accepted() == 2 && report.rejected() == 0, "accepted: " + report.json());
        check(seen.size() >= 2, "progress reported");
        check(seen.get(seen.size() - 1).transactionsSent() == 2, "progress counts transactions");
        check(report.roundTrips() >= 1 && report.bytesSent() > 0, "round trips and bytes");
        check(device.pendingTransactions() == 0, "nothing waiting");
        check(device.conflicts().equals("[]"), "no conflicts");
        expect(ErrorDomain.FIELDCASE, ErrorCode.NOT_FOUND,
            () -> device.resolveConflict("no-such-conflict", "null"));

        s.admin("allocate", "--case", child, "--worker", bea);
        report = device.sync(null);
        check(report.purgedCases().equals(List.of(child)), "purged: " + report.json());
        check(device.caseload().equals("[]"), "caseload empty after the purge");
        expect(ErrorDomain.FIELDCASE, ErrorCode.NOT_FOUND, () -> device.getRecord(child));
      }
      // Reopened: locked until the PIN is given.
      try (Device device = Device.open(config)) {
        check(!device.isUnlocked(), "opened locked");
        expect(ErrorDomain.FIELDCASE, ErrorCode.LOCKED, device::caseload);
        device.unlock(PIN);
        check(device.caseload().equals("[]"), "still purged");
      }
    }
  }

  /** An in-memory key store (what an app would back with the Android Keystore). */
  static final class MemoryKeyStore implements KeyStore {
    final Map<String, byte[]> secrets = new HashMap<>();
    boolean failing;

    @Override
    public byte[] get(String name) {
      byte[] s = secrets.get(name);
      return s == null ? null : s.clone();
    }

    @Override
    public void put(String name, byte[] secret) {
      if (failing) throw new IllegalStateException("keystore unavailable");
      secrets.put(name, secret.clone());
    }

    @Override
    public void remove(String name) {
      secrets.remove(name);
    }
  }

  /** The app's HTTP client (what an app would do with OkHttp): java.net.http here. */
  static final class JavaHttp implements HttpTransport {
    final HttpClient client = HttpClient.newHttpClient();
    final String base;
    final AtomicInteger posts = new AtomicInteger();
    volatile boolean down;

    JavaHttp(String base) {
      this.base = base;
    }

    @Override
    public Response post(String path, byte[] body, String token) throws IOException {
      posts.incrementAndGet();
      if (down) throw new IOException("network unreachable");
      HttpRequest request = HttpRequest.newBuilder(URI.create(base + path))
          .header("Content-Type", "application/json")
          .header("Authorization", "Bearer " + token)
          .POST(HttpRequest.BodyPublishers.ofByteArray(body))
          .build();
      try {
        HttpResponse<byte[]> answer = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
        return new Response(answer.statusCode(), answer.body());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
    }
  }

  static void hostServices(Path dir) throws Exception {
    try (TestServer s = new TestServer(server, dir)) {
      String team = s.organisation();
      String ann = s.worker(team, "Ann");
      String[] issued = s.issueDevice(ann);
      MemoryKeyStore keys = new MemoryKeyStore();
      JavaHttp http = new JavaHttp(s.url);
      AtomicBoolean online = new AtomicBoolean(true);
      StringBuilder log = new StringBuilder();
      DeviceConfig config = new DeviceConfig(dir.resolve("case.db").toString(), ann, issued[0])
          .keyStore(keys)
          .transport(http)
          .minimumKdf(true)
          .syncAttempts(1);

      keys.failing = true;
      FieldcaseException refused = expect(ErrorDomain.HOST, 1, () -> Device.create(config, PIN));
      check(refused != null && refused.getMessage().contains("keystore unavailable"),
          "the key store's failure is reported");
      keys.failing = false;
      config.keyStore(keys);
      DeviceConfig fresh = new DeviceConfig(dir.resolve("case2.db").toString(), ann, issued[0])
          .keyStore(keys)
          .transport(http)
          .connectivity(online::get)
          .logger((level, line) -> log.append(level).append(' ').append(line).append('\n'),
              Logger.DEBUG)
          .minimumKdf(true)
          .syncAttempts(1);
      try (Device device = Device.create(fresh, PIN)) {
        check(keys.secrets.keySet().stream().anyMatch(n -> n.startsWith("fieldcase.vault.")),
            "device secret in the app's key store");
        device.setToken(issued[1]);
        check(keys.secrets.values().stream().noneMatch(v -> Arrays.equals(v,
            issued[1].getBytes(StandardCharsets.UTF_8))),
            "token inside the vault, not in the key store");
        String child = device.createRecord("child", null, childFields(ann));
        device.write(visitOps(child));

        online.set(false);
        int postsBefore = http.posts.get();
        FieldcaseException offline =
            expect(ErrorDomain.FIELDCASE, ErrorCode.IO, () -> device.sync(null));
        check(offline != null && offline.getMessage().contains("offline"), "offline");
        check(http.posts.get() == postsBefore, "no request while offline");
        online.set(true);

        http.down = true;
        expect(ErrorDomain.FIELDCASE, ErrorCode.IO, () -> device.sync(null));
        http.down = false;

        // A listener that throws stops the sync, and its exception reaches the caller.
        try {
          device.sync(p -> {
            throw new IllegalStateException("listener gave up");
          });
          check(false, "the listener's exception was not rethrown");
        } catch (IllegalStateException e) {
          check(e.getMessage().equals("listener gave up"), "listener exception");
        }
        check(device.pendingTransactions() == 2, "nothing sent");

        // 150 transactions: two rounds through the app's transport and key store callbacks.
        String visit = "{\"visit_type\": \"child_in_need\", \"start_at\": "
            + "\"2024-05-01T10:00:00Z\", \"child_seen\": true}";
        for (int i = 0; i < 148; ++i) device.createRecord("visit", child, visit);
        List<SyncProgress> seen = new ArrayList<>();
        SyncReport report = device.sync(seen::add);
        check(report.accepted() == 150, "accepted through the app's transport: " + report.json());
        check(report.roundTrips() >= 2 && seen.get(seen.size() - 1).round() >= 2, "two rounds");
        check(http.posts.get() >= 3, "the app's transport carried the requests");

        byte[] photo = {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2};
        String attachment = device.attach(child, "door.png", "image/png", photo, null);
        check(Arrays.equals(device.attachmentBytes(attachment), photo), "attachment round trip");

        device.changePin(PIN, "135792");
        device.lock();
        expect(ErrorDomain.FIELDCASE, ErrorCode.WRONG_PIN, () -> device.unlock(PIN));
        device.unlock("135792");
        device.wipe("lost tablet");
        String lines = log.toString();
        check(lines.contains("1 sync finished: 150 accepted"), "sync logged: " + lines);
        check(lines.contains("2 unlock failed: wrong_pin"), "failed unlock logged at WARNING");
        check(!lines.contains(PIN) && !lines.contains("135792") && !lines.contains(issued[1]),
            "no secrets in the log");
        check(keys.secrets.keySet().stream().noneMatch(n -> n.startsWith("fieldcase.vault.")),
            "device secret destroyed by the wipe");
        expect(ErrorDomain.FIELDCASE, ErrorCode.WIPED, device::caseload);
      }
    }
  }

  static void errors(Path dir) throws Exception {
    check(Fieldcase.apiVersion() == Fieldcase.API_VERSION, "API version");
    check(Fieldcase.version().matches("\\d+\\.\\d+\\.\\d+.*"), "version");
    String worker = "0189a000-0000-7000-8000-000000000001";
    DeviceConfig config = new DeviceConfig(dir.resolve("case.db").toString(), worker, "d-1")
        .keystoreDir(dir.resolve("keys").toString())
        .serverUrl("http://127.0.0.1:9")
        .minimumKdf(true)
        .maxFailedUnlocks(3)
        .syncAttempts(1);
    expect(ErrorDomain.FIELDCASE, ErrorCode.NOT_FOUND, () -> Device.open(config));
    expect(ErrorDomain.API, ErrorCode.API_NULL_ARGUMENT, () -> Device.create(null, PIN));
    expect(ErrorDomain.API, ErrorCode.API_BAD_CONFIG,
        () -> Device.create(new DeviceConfig(null, worker, "d"), PIN));
    expect(ErrorDomain.FIELDCASE, ErrorCode.WEAK_PIN, () -> Device.create(config, "1"));

    Device device = Device.create(config, PIN);
    expect(ErrorDomain.FIELDCASE, ErrorCode.ALREADY_EXISTS, () -> Device.create(config, PIN));
    expect(ErrorDomain.API, ErrorCode.API_BAD_JSON,
        () -> device.createRecord("child", null, "{oops"));
    expect(ErrorDomain.API, ErrorCode.API_NULL_ARGUMENT,
        () -> device.createRecord("child", null, null));
    FieldcaseException invalid = expect(ErrorDomain.FIELDCASE, ErrorCode.VALIDATION,
        () -> device.createRecord("child", null, "{\"first_name\": \"A\"}"));
    check(invalid != null && invalid.getMessage().contains("child."), "names the field");
    expect(ErrorDomain.FIELDCASE, ErrorCode.NOT_FOUND, () -> device.sync(null)); // no token
    device.setToken("t0ken");
    expect(ErrorDomain.FIELDCASE, ErrorCode.IO, () -> device.sync(null)); // nobody listening
    check(device.myDay("2024-05-01").contains("\"today\":\"2024-05-01\""), "my day");

    device.lock();
    expect(ErrorDomain.FIELDCASE, ErrorCode.LOCKED, device::caseload);
    expect(ErrorDomain.FIELDCASE, ErrorCode.WRONG_PIN, () -> device.unlock("0000"));
    expect(ErrorDomain.FIELDCASE, ErrorCode.WRONG_PIN, () -> device.unlock("0001"));
    expect(ErrorDomain.FIELDCASE, ErrorCode.WIPED, () -> device.unlock("0002"));
    expect(ErrorDomain.FIELDCASE, ErrorCode.WIPED, () -> device.unlock(PIN));

    device.close();
    device.close(); // idempotent
    expect(ErrorDomain.API, ErrorCode.API_INVALID_HANDLE, device::caseload);
    expect(ErrorDomain.API, ErrorCode.API_INVALID_HANDLE, () -> device.unlock(PIN));
    check(!device.isUnlocked() && device.attemptsLeft() == -1, "closed device answers safely");
    device.cancelSync();
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: TestMain <fieldcase-server> end_to_end|host_services|errors");
      System.exit(2);
    }
    server = args[0];
    Path dir = Files.createTempDirectory("fieldcase-java-");
    try {
      switch (args[1]) {
        case "end_to_end": endToEnd(dir); break;
        case "host_services": hostServices(dir); break;
        case "errors": errors(dir); break;
        default:
          System.err.println("unknown test " + args[1]);
          System.exit(2);
      }
    } catch (Throwable t) {
      ++failures;
      t.printStackTrace();
    } finally {
      removeTree(dir);
    }
    check(Fieldcase.openDevices() == 0, "native devices left open: " + Fieldcase.openDevices());
    if (failures > 0) {
      System.err.println(args[1] + ": " + failures + " check(s) failed");
      System.exit(1);
    }
    System.out.println(args[1] + ": passed");
  }
}
