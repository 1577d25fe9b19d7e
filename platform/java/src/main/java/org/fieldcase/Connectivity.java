package org.fieldcase;

/**
 * Whether the network is reachable, supplied by the app (ConnectivityManager with
 * NET_CAPABILITY_VALIDATED on Android). Asked at the start of each sync, on its thread; when it
 * answers false the sync fails at once with {@code IO} ("offline").
 */
@FunctionalInterface
public interface Connectivity {
  boolean online();
}
