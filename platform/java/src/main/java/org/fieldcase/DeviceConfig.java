package org.fieldcase;

/**
 * How a {@link Device} is opened: where its database is, who uses it, and the platform services.
 * Without a {@link KeyStore} the secrets go to owner-only files in {@link #keystoreDir}; without
 * an {@link HttpTransport} the library's own HTTP client talks to {@link #serverUrl}. The app's
 * services are called on the thread of the device call that needs them.
 */
public final class DeviceConfig {
  String database;
  String workerId;
  String deviceId;
  String role;
  String serverUrl;
  String keystoreDir;
  boolean minimumKdf;
  int maxFailedUnlocks;
  int idleTimeoutSeconds;
  int syncAttempts;
  KeyStore keyStore;
  HttpTransport transport;
  Connectivity connectivity;
  Logger logger;
  int logLevel = Logger.INFO;

  /** Required: the database file, the worker's record id and the device id from the server. */
  public DeviceConfig(String database, String workerId, String deviceId) {
    this.database = database;
    this.workerId = workerId;
    this.deviceId = deviceId;
  }

  /** "social_worker" (default), "team_manager", ... */
  public DeviceConfig role(String role) { this.role = role; return this; }
  /** "https://sync.example.gov.uk", for the built-in transport. */
  public DeviceConfig serverUrl(String url) { this.serverUrl = url; return this; }
  /** A private directory for the built-in key store. */
  public DeviceConfig keystoreDir(String dir) { this.keystoreDir = dir; return this; }
  /** The weakest PIN hashing: tests and demos only. */
  public DeviceConfig minimumKdf(boolean minimum) { this.minimumKdf = minimum; return this; }
  /** Wrong PINs before the data is erased (default 10). */
  public DeviceConfig maxFailedUnlocks(int n) { this.maxFailedUnlocks = n; return this; }
  /** Locks after this long unused (default 300 s). */
  public DeviceConfig idleTimeoutSeconds(int s) { this.idleTimeoutSeconds = s; return this; }
  /** Tries per round trip before a sync gives up (default 5; 1 when WorkManager retries). */
  public DeviceConfig syncAttempts(int n) { this.syncAttempts = n; return this; }
  /** The app's key store (Android Keystore), instead of files. */
  public DeviceConfig keyStore(KeyStore keyStore) { this.keyStore = keyStore; return this; }
  /** The app's HTTP client (OkHttp), instead of the built-in one. */
  public DeviceConfig transport(HttpTransport transport) {
    this.transport = transport;
    return this;
  }
  /** The app's view of the network; without it the device assumes it is online. */
  public DeviceConfig connectivity(Connectivity connectivity) {
    this.connectivity = connectivity;
    return this;
  }
  /** Where log lines at {@code minLevel} and above go; without it nothing is logged. */
  public DeviceConfig logger(Logger logger, int minLevel) {
    this.logger = logger;
    this.logLevel = minLevel;
    return this;
  }
}
