package org.fieldcase;

/**
 * The stable error codes of fieldcase.h. Codes of {@link ErrorDomain#FIELDCASE} are the core's
 * (never reused for another meaning); codes of {@link ErrorDomain#API} report misuse.
 */
public final class ErrorCode {
  private ErrorCode() {}

  // ErrorDomain.FIELDCASE
  public static final int INVALID_ARGUMENT = 1;
  public static final int NOT_FOUND = 2;
  public static final int ALREADY_EXISTS = 3;
  public static final int UNSUPPORTED = 4;
  public static final int INTERNAL = 5;
  /** A read or write failed; the server could not be reached; the device is offline. */
  public static final int IO = 6;
  public static final int DISK_FULL = 7;
  public static final int BUSY = 8;
  /** A record breaks a rule; the message names the field and the rule. */
  public static final int VALIDATION = 9;
  public static final int UNAUTHENTICATED = 10;
  public static final int CANCELLED = 11;
  /** Authenticated, but the worker's role does not permit this. */
  public static final int FORBIDDEN = 12;
  /** Locked out after repeated failures; retry later. */
  public static final int TOO_MANY_ATTEMPTS = 13;
  /** A service the call needs (the server's database) cannot be reached; retry later. */
  public static final int UNAVAILABLE = 14;
  public static final int INTEGRITY = 100;
  public static final int WRONG_KEY = 101;
  /** Wrong PIN; attempts remain ({@link Device#attemptsLeft()}). */
  public static final int WRONG_PIN = 102;
  /** The data was crypto-erased (too many wrong PINs, or a wipe order). */
  public static final int WIPED = 103;
  public static final int LOCKED = 104;
  public static final int NOT_A_DATABASE = 105;
  public static final int SCHEMA = 106;
  /** Not synced for longer than the server's offline limit: only {@link Device#sync} works. */
  public static final int OFFLINE_LOCKED = 107;
  /** A new PIN breaks the PIN policy (at least 6 characters, not a run or a repetition). */
  public static final int WEAK_PIN = 108;

  // ErrorDomain.API
  public static final int API_NULL_ARGUMENT = 1;
  /** The device was closed (or never opened). */
  public static final int API_INVALID_HANDLE = 2;
  public static final int API_BAD_JSON = 3;
  /** Another thread is inside a call on the same device. */
  public static final int API_BUSY = 4;
  public static final int API_BAD_CONFIG = 5;
  public static final int API_OUT_OF_MEMORY = 6;
  public static final int API_UNEXPECTED = 7;
  public static final int API_NOT_IN_CALLBACK = 8;
}
