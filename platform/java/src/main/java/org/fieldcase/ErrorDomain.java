package org.fieldcase;

/** Where an error comes from; the numbers are those of {@code fc_error_domain} in fieldcase.h. */
public enum ErrorDomain {
  /** No error. */
  NONE(0),
  /** The core: codes are the stable {@link ErrorCode} numbers. */
  FIELDCASE(1),
  /** The API was misused (a closed device, bad JSON, a call while another runs). */
  API(2),
  /** A platform service supplied by the app failed with its own code. */
  HOST(3);

  private final int value;

  ErrorDomain(int value) {
    this.value = value;
  }

  /** The C API's number of this domain. */
  public int value() {
    return value;
  }

  /** The domain with this number; {@link #HOST} for numbers this version does not know. */
  public static ErrorDomain of(int value) {
    for (ErrorDomain d : values()) {
      if (d.value == value) return d;
    }
    return HOST;
  }
}
