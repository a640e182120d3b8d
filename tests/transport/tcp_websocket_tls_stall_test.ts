/**
 * TcpWebSocketConnection over wss:// against a server that takes the TCP
 * connection and never answers the TLS handshake (a black hole: an
 * attacker on the network, or a port that listens and says nothing), as a
 * reconnect loop meets it attempt after attempt. Deno 2.9.6 keeps the
 * socket of a TLS handshake given up on until the server answers or closes
 * it, so what counts is how many connections the client opened and still
 * holds: as the black hole counts them, each one it accepted.
 */

import assert from "node:assert/strict";
import {
  MAX_STALLED_TLS_HANDSHAKES,
  stalledTlsHandshakes,
  TcpWebSocketConnection,
  TlsHandshakeError,
} from "../../src/transport/tcp_websocket.ts";

/** Why opening `url` failed; fails the test if it opened. */
function failure(url: string, upgradeTimeoutMs: number): Promise<unknown> {
  return TcpWebSocketConnection.open(url, { upgradeTimeoutMs }).then(
    () => assert.fail(`${url} was opened`),
    (error: unknown) => error,
  );
}

Deno.test({
  name:
    "TcpWebSocketConnection over wss:// holds a bounded number of sockets for TLS handshakes a black hole never answers, however many attempts",
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const url = `wss://127.0.0.1:${listener.addr.port}/`;
    // Takes every connection and never writes a byte (nor closes).
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) accepted.push(conn);
    })();
    const attempts = MAX_STALLED_TLS_HANDSHAKES + 6;
    const errors: unknown[] = [];
    for (let i = 0; i < attempts; i++) errors.push(await failure(url, 50));
    assert.equal(stalledTlsHandshakes().count, MAX_STALLED_TLS_HANDSHAKES);
    // The first ones time out, their sockets held; past the bound, nothing
    // more is opened (without it, each attempt left one more).
    assert.equal(
      accepted.length,
      MAX_STALLED_TLS_HANDSHAKES,
      `${accepted.length} connections opened in ${attempts} attempts`,
    );
    for (const [i, error] of errors.entries()) {
      assert.ok(error instanceof TlsHandshakeError, String(error));
      assert.equal(error.untrusted, false);
      assert.match(
        error.message,
        i < MAX_STALLED_TLS_HANDSHAKES
          ? /^The server did not finish the TLS handshake within 0\.05 s/
          : new RegExp(
            `^${MAX_STALLED_TLS_HANDSHAKES} earlier TLS handshakes are still waiting for servers that took the connection and never answered \\(.+\\), so no more are started`,
          ),
      );
    }

    // The server goes: its handshakes end (Deno frees their sockets on its
    // own time), and the next attempt is made.
    for (const conn of accepted.splice(0)) conn.close();
    await stalledTlsHandshakes().ended;
    assert.equal(stalledTlsHandshakes().count, 0);
    const again = await failure(url, 50);
    assert.ok(again instanceof TlsHandshakeError, String(again));
    assert.match(again.message, /did not finish the TLS handshake/);
    assert.equal(accepted.length, 1);
    for (const conn of accepted.splice(0)) conn.close();
    await stalledTlsHandshakes().ended;
    listener.close();
    await accepting;
  },
});
