package org.fieldcase;

/**
 * The worker's encrypted database on this device: unlock with the PIN, record, read, sync.
 *
 * <p>Records go in and out as JSON text (see fieldcase.h for the shapes). Every failure is a
 * {@link FieldcaseException} with the error's domain and code. Close it (try-with-resources):
 * closing locks the database and wipes keys from memory; a closed device throws
 * {@code API_INVALID_HANDLE} rather than crashing.
 *
 * <p>Threads: use one device from one thread at a time (a call while another thread is inside a
 * call fails with {@code API_BUSY}); {@link #cancelSync()}, {@link #isUnlocked()} and
 * {@link #attemptsLeft()} may be called from any thread. {@link #sync} blocks: run it off the
 * main thread.
 */
public final class Device implements AutoCloseable {
  static {
    Fieldcase.load();
  }

  private volatile long handle;

  private Device(long handle) {
    this.handle = handle;
  }

  /** Creates a new encrypted database under {@code pin} (4 to 256 characters), unlocked. */
  public static Device create(DeviceConfig config, String pin) {
    return new Device(nativeCreate(config, pin));
  }

  /** Opens an existing database, locked. */
  public static Device open(DeviceConfig config) {
    return new Device(nativeOpen(config));
  }

  /** Wrong PIN: {@code WRONG_PIN} (attempts remain) or {@code WIPED} after the last one. */
  public void unlock(String pin) { nativeUnlock(handle, pin); }
  public void lock() { nativeLock(handle); }
  /** Whether the device is unlocked (as of the last call); false once closed. */
  public boolean isUnlocked() { return nativeIsUnlocked(handle); }
  /** Locks if idle longer than the idle timeout; call from a timer. True if it locked now. */
  public boolean pollIdle() { return nativePollIdle(handle); }
  /** Unlock attempts left before the data is erased; -1 once closed. */
  public int attemptsLeft() { return nativeAttemptsLeft(handle); }
  public void changePin(String oldPin, String newPin) { nativeChangePin(handle, oldPin, newPin); }
  /** Crypto-erases the device now; the reason must not contain case data. */
  public void wipe(String reason) { nativeWipe(handle, reason); }
  /** Keeps the device token issued by the server (in the key store) for {@link #sync}. */
  public void setToken(String token) { nativeSetToken(handle, token); }

  /** The children allocated to the worker: a JSON array of records. */
  public String caseload() { return nativeCaseload(handle); }
  /** "My day" for a date ("YYYY-MM-DD"), as JSON. */
  public String myDay(String date) { return nativeMyDay(handle, date); }
  /** One record as JSON; {@code NOT_FOUND} if there is none. */
  public String getRecord(String id) { return nativeGetRecord(handle, id); }
  /** The live records of a kind, of one case when caseId is not null: a JSON array. */
  public String listRecords(String kind, String caseId) { return nativeList(handle, kind, caseId); }
  public String history(String id) { return nativeHistory(handle, id); }
  public String conflicts() { return nativeConflicts(handle); }
  /**
   * Settles a conflict by writing {@code valueJson} (one JSON value: the conflict's kept or lost
   * value, or a new one) to its field; it closes everywhere once the next sync is accepted.
   */
  public void resolveConflict(String conflictId, String valueJson) {
    nativeResolveConflict(handle, conflictId, valueJson);
  }
  public String rejections() { return nativeRejections(handle); }
  public long pendingTransactions() { return nativePending(handle); }

  /** Creates a record from a JSON object of fields; returns its id. caseId null for a child. */
  public String createRecord(String kind, String caseId, String fieldsJson) {
    return nativeCreateRecord(handle, kind, caseId, fieldsJson);
  }
  public void updateRecord(String id, String changesJson) { nativeUpdate(handle, id, changesJson); }
  public void deleteRecord(String id) { nativeDelete(handle, id); }
  /** Several operations as one transaction (see fc_device_write); returns the ids as JSON. */
  public String write(String opsJson) { return nativeWrite(handle, opsJson); }
  /** Stores a photo or document under a record; returns the attachment's id. */
  public String attach(String parentId, String filename, String mediaType, byte[] bytes,
      String caption) {
    return nativeAttach(handle, parentId, filename, mediaType, bytes, caption);
  }
  public byte[] attachmentBytes(String attachmentId) {
    return nativeAttachment(handle, attachmentId);
  }

  /** Syncs with the server; listener may be null. */
  public SyncReport sync(SyncListener listener) { return nativeSync(handle, listener); }
  /** Asks a running sync to stop before its next round; from any thread. */
  public void cancelSync() { nativeCancelSync(handle); }

  /** Locks and releases the native device. Idempotent. */
  @Override
  public synchronized void close() {
    long h = handle;
    handle = 0;
    if (h != 0) nativeRelease(h);
  }

  private static native long nativeCreate(DeviceConfig config, String pin);
  private static native long nativeOpen(DeviceConfig config);
  private static native void nativeRelease(long handle);
  private static native void nativeUnlock(long handle, String pin);
  private static native void nativeLock(long handle);
  private static native boolean nativeIsUnlocked(long handle);
  private static native boolean nativePollIdle(long handle);
  private static native int nativeAttemptsLeft(long handle);
  private static native void nativeChangePin(long handle, String oldPin, String newPin);
  private static native void nativeWipe(long handle, String reason);
  private static native void nativeSetToken(long handle, String token);
  private static native String nativeCaseload(long handle);
  private static native String nativeMyDay(long handle, String date);
  private static native String nativeGetRecord(long handle, String id);
  private static native String nativeList(long handle, String kind, String caseId);
  private static native String nativeHistory(long handle, String id);
  private static native String nativeConflicts(long handle);
  private static native void nativeResolveConflict(long handle, String conflictId,
      String valueJson);
  private static native String nativeRejections(long handle);
  private static native long nativePending(long handle);
  private static native String nativeCreateRecord(long handle, String kind, String caseId,
      String fieldsJson);
  private static native void nativeUpdate(long handle, String id, String changesJson);
  private static native void nativeDelete(long handle, String id);
  private static native String nativeWrite(long handle, String opsJson);
  private static native String nativeAttach(long handle, String parentId, String filename,
      String mediaType, byte[] bytes, String caption);
  private static native byte[] nativeAttachment(long handle, String attachmentId);
  private static native SyncReport nativeSync(long handle, SyncListener listener);
  private static native void nativeCancelSync(long handle);
}
