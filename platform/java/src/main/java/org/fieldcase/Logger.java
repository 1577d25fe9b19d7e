package org.fieldcase;

/**
 * Where the library's log lines go (android.util.Log). Lines never contain case data or
 * secrets: operations, counts and error code names. Called on the thread of the device call.
 */
@FunctionalInterface
public interface Logger {
  /** Levels, as fc_log_level. */
  int DEBUG = 0;
  int INFO = 1;
  int WARNING = 2;
  int ERROR = 3;

  void log(int level, String message);
}
