package org.fieldcase;

/**
 * Secret storage supplied by the app (on Android, secrets wrapped by an Android Keystore key).
 * Called on the thread of the device call that needs it; failures are reported by throwing.
 */
public interface KeyStore {
  /** The secret stored under name, or null when there is none. */
  byte[] get(String name) throws Exception;

  /** Stores or replaces the secret durably before returning. */
  void put(String name, byte[] secret) throws Exception;

  /** Destroys the secret; succeeds when there was none. */
  void remove(String name) throws Exception;
}
