/*
 * Proves fieldcase.h is valid C99 on its own: compiled with -std=c99 -Wall -Wextra -pedantic
 * -Werror and linked into nothing but itself (an object library). Touches every type.
 */
#include "fieldcase.h"

int fc_header_only_check(void);

int fc_header_only_check(void) {
  fc_error error = {FC_DOMAIN_NONE, 0, {0}};
  fc_device_config config;
  fc_keystore keystore = {0, 0, 0, 0, 0};
  fc_transport transport = {0, 0, 0};
  fc_clock clock = {0, 0, 0, 0};
  fc_connectivity connectivity = {0, 0, 0};
  fc_logger logger = {0, 0, FC_LOG_INFO, 0};
  fc_sync_progress progress = {0, 0, 0, 0, 0, 0};
  fc_http_request request = {"/v1/sync", "application/json", (const uint8_t*)"{}", 2, "t"};
  fc_device* device = 0;
  fc_sync_progress_fn fn = 0;
  config.size = sizeof config;
  config.keystore = &keystore;
  config.transport = &transport;
  config.clock = &clock;
  config.connectivity = &connectivity;
  config.logger = &logger;
  (void)device;
  (void)fn;
  (void)request;
  (void)progress;
  return FC_API_VERSION + error.code + (int)config.size + FC_ERR_SCHEMA + FC_API_NOT_IN_CALLBACK +
         FC_CONNECTIVITY_ONLINE + FC_KDF_MINIMUM + FC_SECRET_MAX + FC_ERROR_MESSAGE_MAX;
}
