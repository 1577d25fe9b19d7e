package org.fieldcase;

import java.util.Collections;
import java.util.List;

/** The outcome of a sync. Immutable; {@link #json()} has every detail (rejection reasons...). */
public final class SyncReport {
  private final int roundTrips;
  private final long accepted;
  private final long rejected;
  private final long changesReceived;
  private final long bytesSent;
  private final long bytesReceived;
  private final List<String> purgedCases;
  private final boolean wiped;
  private final String json;

  SyncReport(int roundTrips, long accepted, long rejected, long changesReceived, long bytesSent,
      long bytesReceived, String[] purgedCases, boolean wiped, String json) {
    this.roundTrips = roundTrips;
    this.accepted = accepted;
    this.rejected = rejected;
    this.changesReceived = changesReceived;
    this.bytesSent = bytesSent;
    this.bytesReceived = bytesReceived;
    this.purgedCases = Collections.unmodifiableList(List.of(purgedCases));
    this.wiped = wiped;
    this.json = json;
  }

  public int roundTrips() { return roundTrips; }
  /** Local transactions the server accepted. */
  public long accepted() { return accepted; }
  /** Local transactions the server refused (see {@link Device#rejections()}). */
  public long rejected() { return rejected; }
  public long changesReceived() { return changesReceived; }
  public long bytesSent() { return bytesSent; }
  public long bytesReceived() { return bytesReceived; }
  /** Cases reallocated away from this worker: they are gone from the device. */
  public List<String> purgedCases() { return purgedCases; }
  /** The server ordered a wipe and the device's data has been crypto-erased. */
  public boolean wiped() { return wiped; }
  /** The whole report as the C API's JSON. */
  public String json() { return json; }
}
