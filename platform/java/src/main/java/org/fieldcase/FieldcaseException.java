package org.fieldcase;

/**
 * A failed fieldcase call: the error domain, its stable numbered code and a message. The message
 * never contains a PIN or the device token.
 */
public class FieldcaseException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final ErrorDomain domain;
  private final int code;
  private final String codeName;

  public FieldcaseException(ErrorDomain domain, int code, String codeName, String message) {
    super(codeName + ": " + message);
    this.domain = domain;
    this.code = code;
    this.codeName = codeName;
  }

  // Called from the JNI layer.
  static FieldcaseException fromNative(int domain, int code, String codeName, String message) {
    return new FieldcaseException(ErrorDomain.of(domain), code, codeName, message);
  }

  public ErrorDomain domain() {
    return domain;
  }

  /** The code within {@link #domain()}; see {@link ErrorCode}. */
  public int code() {
    return code;
  }

  /** The code's short name ("wrong_pin", "invalid_handle"). */
  public String codeName() {
    return codeName;
  }

  /** Whether this is the core's {@code code} (domain {@link ErrorDomain#FIELDCASE}). */
  public boolean is(int fieldcaseCode) {
    return domain == ErrorDomain.FIELDCASE && code == fieldcaseCode;
  }
}
