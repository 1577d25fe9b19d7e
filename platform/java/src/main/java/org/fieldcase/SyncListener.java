package org.fieldcase;

/**
 * Told about a sync's progress, on the thread running {@link Device#sync(SyncListener)}. Must not
 * call back into the device; to stop the sync call {@link Device#cancelSync()} (from any thread).
 */
@FunctionalInterface
public interface SyncListener {
  void onProgress(SyncProgress progress);
}
