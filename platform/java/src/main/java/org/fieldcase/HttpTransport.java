package org.fieldcase;

import java.io.IOException;

/**
 * How the core reaches the sync server when the app performs HTTP itself (OkHttp on Android):
 * POST {@code body} (JSON) to the server's base URL plus {@code path}, with
 * {@code Authorization: Bearer <token>}, and return the status and the decoded body. Any HTTP
 * status is an answer; throw IOException only when no answer came.
 */
public interface HttpTransport {
  /** An HTTP answer. */
  final class Response {
    public final int status;
    public final byte[] body;

    public Response(int status, byte[] body) {
      this.status = status;
      this.body = body;
    }
  }

  Response post(String path, byte[] body, String bearerToken) throws IOException;
}
