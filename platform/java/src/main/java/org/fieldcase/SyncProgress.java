package org.fieldcase;

/** Where a running sync is, reported after each round trip. Immutable. */
public final class SyncProgress {
  private final long transactionsSent;
  private final long transactionsTotal;
  private final long changesReceived;
  private final long bytesSent;
  private final long bytesReceived;
  private final int round;

  public SyncProgress(long transactionsSent, long transactionsTotal, long changesReceived,
      long bytesSent, long bytesReceived, int round) {
    this.transactionsSent = transactionsSent;
    this.transactionsTotal = transactionsTotal;
    this.changesReceived = changesReceived;
    this.bytesSent = bytesSent;
    this.bytesReceived = bytesReceived;
    this.round = round;
  }

  public long transactionsSent() { return transactionsSent; }
  /** The number of local transactions waiting when the sync started. */
  public long transactionsTotal() { return transactionsTotal; }
  public long changesReceived() { return changesReceived; }
  public long bytesSent() { return bytesSent; }
  public long bytesReceived() { return bytesReceived; }
  /** 0 before the first round trip. */
  public int round() { return round; }
}
