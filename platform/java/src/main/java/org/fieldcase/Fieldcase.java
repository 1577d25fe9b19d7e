package org.fieldcase;

/** The native library and its version. Loading happens once, on first use of any class here. */
public final class Fieldcase {
  /** The C API version this binding was written against (FC_API_VERSION). */
  public static final int API_VERSION = 10000;

  private static boolean loaded;

  private Fieldcase() {}

  /** Loads libfieldcase_jni (from java.library.path) and checks the C API's major version. */
  static synchronized void load() {
    if (loaded) return;
    System.loadLibrary("fieldcase_jni");
    int native_ = nativeApiVersion();
    if (native_ / 10000 != API_VERSION / 10000) {
      throw new UnsatisfiedLinkError(
          "libfieldcase_c has C API version " + native_ + ", this binding needs " + API_VERSION);
    }
    loaded = true;
  }

  /** The version of the core ("0.1.0"). */
  public static String version() {
    load();
    return nativeVersion();
  }

  /** FC_API_VERSION of the loaded library. */
  public static int apiVersion() {
    load();
    return nativeApiVersion();
  }

  /** Devices opened through this binding and not closed yet (for leak checks in tests). */
  public static long openDevices() {
    load();
    return nativeOpenDevices();
  }

  private static native int nativeApiVersion();

  private static native String nativeVersion();

  private static native long nativeOpenDevices();
}
