/**
 * CPU per socket write, by the ways a Deno server can write, at the pace of
 * people typing: 99 loopback sockets each get one 150-byte frame per round,
 * 200 rounds a second for 5 s (the latency bench's public room: 200
 * messages a second to 99 recipients). The readers are in another process.
 *
 *     deno run -A bench/write_cost.ts [node-handle|sealed-handle|ffi-send|node-write|deno-conn|websocket ...]
 *
 * - `node-handle`: the socket's TCP handle directly (`writeBuffer`), as the
 *   chat server writes a frame (src/server/direct_write.ts);
 * - `sealed-handle`: as `node-handle`, each frame first sealed with its
 *   socket's own key (AES-256-GCM through OpenSSL, as the server seals a
 *   delivery): the least an encrypted relay of one frame per recipient
 *   costs on this runtime;
 * - `ffi-send`: send(2) through FFI on one copy of each socket's descriptor
 *   (the handle's `fdForIpc()`, taken once): the system call with no
 *   runtime around it (Linux only: MSG_DONTWAIT | MSG_NOSIGNAL);
 * - `node-write`: `node:net`'s `socket.write`;
 * - `deno-conn`: `Deno.listen`'s `Deno.Conn.write`;
 * - `websocket`: `Deno.serve` with `Deno.upgradeWebSocket`, as the plain
 *   relay (bench/plain_relay.ts) sends.
 *
 * Prints user and system CPU per write of this process (node:process
 * cpuUsage). Not part of `deno task bench`: it says what the system call and
 * the runtime's path to it cost, which the chat server's CPU per delivery
 * (`deno task bench`) can then be read against.
 */

import net from "node:net";
import process from "node:process";
import { loadOpenSslAead } from "../src/crypto/openssl_aead.ts";

const SOCKETS = 99;
const ROUNDS_PER_SECOND = 200;
const SECONDS = 5;
const FRAME_BYTES = 150;
const WAYS = [
  "node-handle",
  "sealed-handle",
  "ffi-send",
  "node-write",
  "deno-conn",
  "websocket",
] as const;
type Way = typeof WAYS[number];

if (Deno.args[0] === "--sink") {
  await sink(Number(Deno.args[1]), Deno.args[2] === "websocket");
} else {
  const ways = Deno.args.length === 0 ? [...WAYS] : Deno.args as Way[];
  for (const way of ways) {
    if (!WAYS.includes(way)) throw new Error(`Unknown way '${way}'`);
    const { user, system } = await measure(way);
    console.log(
      `${way.padEnd(12)} user ${user.toFixed(2)} + system ${
        system.toFixed(2)
      } = ${(user + system).toFixed(2)} µs CPU per write`,
    );
  }
}

/** The reading side: SOCKETS connections, drained until the server goes. */
async function sink(port: number, websocket: boolean): Promise<void> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    if (websocket) await upgrade(conn);
    conns.push(conn);
  }
  console.log("ready");
  await Promise.all(conns.map(async (conn) => {
    const buffer = new Uint8Array(65536);
    try {
      while ((await conn.read(buffer)) !== null) {
        // Drained: only the server's side is measured.
      }
    } catch {
      // The server went first.
    }
  }));
}

/** A WebSocket handshake by hand; the frames after it are only drained. */
async function upgrade(conn: Deno.Conn): Promise<void> {
  await conn.write(
    new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  const buffer = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("The server closed during the upgrade");
    head += new TextDecoder().decode(buffer.subarray(0, n));
  }
}

function startSink(port: number, way: Way): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL(import.meta.url).pathname,
      "--sink",
      String(port),
      way === "websocket" ? "websocket" : "tcp",
    ],
    stdout: "piped",
  }).spawn();
}

async function ready(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
}

/** Resolves once `count()` reaches SOCKETS, polling as connections come. */
async function all(count: () => number): Promise<void> {
  while (count() < SOCKETS) await new Promise((r) => setTimeout(r, 10));
}

async function measure(way: Way): Promise<{ user: number; system: number }> {
  const frame = new Uint8Array(FRAME_BYTES).fill(0x41);
  let send: () => void;
  let close: () => void | Promise<void>;
  let child: Deno.ChildProcess;
  if (
    way === "node-handle" || way === "node-write" || way === "ffi-send" ||
    way === "sealed-handle"
  ) {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.on("error", () => {});
      sockets.push(socket);
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    child = startSink((server.address() as net.AddressInfo).port, way);
    await ready(child);
    await all(() => sockets.length);
    const request = { oncomplete() {} };
    const libc = way === "ffi-send"
      ? Deno.dlopen("libc.so.6", {
        send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i64" },
        close: { parameters: ["i32"], result: "i32" },
      }).symbols
      : null;
    const fds = libc === null
      ? []
      : sockets.map((socket) =>
        (socket as unknown as { _handle: { fdForIpc(): number } })._handle
          .fdForIpc()
      );
    const length = BigInt(frame.byteLength);
    send = libc !== null
      ? () => {
        for (const fd of fds) libc.send(fd, frame, length, 0x40 | 0x4000);
      }
      : way === "sealed-handle"
      ? sealedWrites(sockets, frame, request)
      : way === "node-handle"
      ? () => {
        for (const socket of sockets) {
          (socket as unknown as {
            _handle: { writeBuffer(r: unknown, d: Uint8Array): number };
          })._handle.writeBuffer(request, frame);
        }
      }
      : () => {
        for (const socket of sockets) socket.write(frame);
      };
    close = () => {
      // Our copies of the descriptors keep the sockets open otherwise.
      for (const fd of fds) libc?.close(fd);
      for (const socket of sockets) socket.destroy();
      server.close();
    };
  } else if (way === "deno-conn") {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    child = startSink(listener.addr.port, way);
    const conns: Deno.Conn[] = [];
    for (let i = 0; i < SOCKETS; i++) {
      const conn = await listener.accept();
      conn.setNoDelay(true);
      conns.push(conn);
    }
    await ready(child);
    send = () => {
      for (const conn of conns) conn.write(frame).catch(() => {});
    };
    close = () => {
      for (const conn of conns) conn.close();
      listener.close();
    };
  } else {
    const sockets: WebSocket[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => {
        const { socket, response } = Deno.upgradeWebSocket(request);
        socket.onopen = () => sockets.push(socket);
        return response;
      },
    );
    child = startSink(server.addr.port, way);
    await ready(child);
    await all(() => sockets.length);
    send = () => {
      for (const socket of sockets) socket.send(frame);
    };
    close = () => server.shutdown();
  }
  // Let the connections settle before counting.
  await new Promise((r) => setTimeout(r, 300));
  const before = process.cpuUsage();
  const total = ROUNDS_PER_SECOND * SECONDS;
  let rounds = 0;
  const start = performance.now();
  while (rounds < total) {
    const due = Math.floor(
      (performance.now() - start) / (1000 / ROUNDS_PER_SECOND),
    );
    while (rounds <= due && rounds < total) {
      send();
      rounds++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const used = process.cpuUsage(before);
  await close();
  child.kill();
  await child.status;
  const writes = rounds * SOCKETS;
  return { user: used.user / writes, system: used.system / writes };
}

/**
 * `sealed-handle`: each socket's frame sealed with its own key (AES-256-GCM
 * through OpenSSL, as the server seals a delivery: a context per key, a
 * fresh nonce per frame) into one buffer, then written to the handle. The
 * least an encrypted relay of one frame per recipient can cost here.
 */
function sealedWrites(
  sockets: net.Socket[],
  frame: Uint8Array,
  request: { oncomplete(): void },
): () => void {
  const aead = loadOpenSslAead();
  if (aead === null) {
    throw new Error("sealed-handle needs libcrypto and --allow-ffi");
  }
  const keys = sockets.map(() => crypto.getRandomValues(new Uint8Array(32)));
  const nonce = new Uint8Array(12);
  // A frame as the server's: version and sequence number, then the sealed body.
  const header = new Uint8Array(9);
  const plaintext = frame.subarray(0, FRAME_BYTES - 2 - header.length - 16);
  const out = new Uint8Array(FRAME_BYTES);
  let seq = 0;
  return () => {
    for (let i = 0; i < sockets.length; i++) {
      seq++;
      nonce[11] = header[8] = seq & 0xff;
      nonce[10] = header[7] = (seq >>> 8) & 0xff;
      aead.sealInto(keys[i]!, nonce, header, plaintext, out, 2 + header.length);
      (sockets[i] as unknown as {
        _handle: { writeBuffer(r: unknown, d: Uint8Array): number };
      })._handle.writeBuffer(request, out);
    }
  };
}
