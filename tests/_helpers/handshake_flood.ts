/**
 * A handshake flood, run as its own process so that its CPU is not the test
 * server's: `connections` loops from `localAddress` (e.g. 127.0.0.2, another
 * source address on loopback) each upgrade, read the server_hello, answer
 * with a client_hello holding random bytes where the RSA ciphertext goes (no
 * RSA work for the attacker, one decryption for the server), and start over,
 * until `seconds` have passed, each at most `perSecond` times a second (the
 * attack's pace: 32 x 10 is the 312 handshakes/s of issue 14's attacker).
 * Prints one JSON line: what the server did.
 *
 *   deno run --allow-net tests/_helpers/handshake_flood.ts PORT ADDRESS CONNECTIONS SECONDS PER_SECOND
 */

import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { toBase64 } from "../../src/crypto/bytes.ts";
import { clientFrame, Opcode, upgradeRequest } from "./raw_tcp.ts";

const encoder = new TextEncoder();

interface Tally {
  upgraded: number;
  refused: number;
  answered: number;
  failed: number;
}

/** One connection: resolves with how far it got. */
function attempt(
  port: number,
  localAddress: string,
): Promise<"refused" | "answered" | "upgraded" | "failed"> {
  return new Promise((resolve) => {
    let socket: Socket | null = null;
    let pending = Buffer.alloc(0);
    let state: "head" | "hello" | "finished" = "head";
    let result: "refused" | "answered" | "upgraded" | "failed" = "failed";
    const done = () => {
      socket?.destroy();
      resolve(result);
    };
    const timer = setTimeout(done, 10_000);
    socket = connect({ host: "127.0.0.1", port, localAddress }, () => {
      socket!.write(upgradeRequest());
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(result);
    });
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (state === "head") {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = pending.subarray(0, end).toString();
        pending = pending.subarray(end + 4);
        if (!head.startsWith("HTTP/1.1 101")) {
          result = "refused";
          return done();
        }
        result = "upgraded";
        state = "hello";
      }
      // Server frames: unmasked, small; a 7- or 16-bit length.
      while (pending.byteLength >= 2) {
        let length = pending[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (pending.byteLength < 4) return;
          length = pending.readUInt16BE(2);
          offset = 4;
        }
        if (pending.byteLength < offset + length) return;
        const payload = pending.subarray(offset, offset + length).toString();
        pending = pending.subarray(offset + length);
        if (state === "hello") {
          const hello = JSON.parse(payload);
          const keyBytes = Buffer.from(hello.key, "base64").byteLength;
          // The ciphertext is as long as the modulus, a bit under the SPKI.
          const modulus = keyBytes > 400 ? 512 : keyBytes > 200 ? 256 : 128;
          const random = (n: number) =>
            toBase64(crypto.getRandomValues(new Uint8Array(n)));
          const clientHello = JSON.stringify({
            type: "client_hello",
            version: hello.version,
            nonce: random(32),
            secret: random(modulus),
            share: random(32),
          });
          socket!.write(
            clientFrame(Opcode.text, encoder.encode(clientHello)),
          );
          state = "finished";
        } else {
          // The server_finished: the server did its RSA decryption.
          result = "answered";
          return done();
        }
      }
    });
  });
}

if (import.meta.main) {
  const [port, localAddress, connections, seconds, perSecond] = Deno.args;
  const until = Date.now() + Number(seconds) * 1000;
  const intervalMs = 1000 / Number(perSecond);
  const tally: Tally = { upgraded: 0, refused: 0, answered: 0, failed: 0 };
  await Promise.all(
    Array.from({ length: Number(connections) }, async () => {
      while (Date.now() < until) {
        const next = Date.now() + intervalMs;
        tally[await attempt(Number(port), localAddress!)]++;
        const wait = next - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }),
  );
  console.log(JSON.stringify(tally));
}
