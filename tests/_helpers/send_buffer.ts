/**
 * A small kernel send buffer for the server's connections (libc over FFI,
 * Linux), as a slow link gives them: there the kernel sizes a connection's
 * send buffer to what the link holds in flight, tens of KiB. On loopback it
 * grows to megabytes, and the kernel tells the server a socket is writable
 * again only once a third of it is free: a slow reader's progress then hides
 * in the kernel, whatever the server does. The same holds for a reader's
 * receive buffer (shrinkReceiveBuffer).
 */

const AF_INET = 2;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_ACCEPTCONN = 30;
/** Far past the descriptors a test process holds. */
const MAX_FD = 4096;

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
} as const;

/**
 * Sets SO_SNDBUF to `bytes` on this process's IPv4 socket listening on
 * `port`: the connections it accepts from then on inherit it (and the
 * kernel no longer grows it). Throws when there is no such socket.
 */
export function shrinkSendBuffers(port: number, bytes: number): void {
  const libc = Deno.dlopen("libc.so.6", SYMBOLS);
  try {
    const address = new Uint8Array(128);
    const length = new Uint32Array(1);
    const value = new Int32Array(1);
    const valueLength = new Uint32Array(1);
    for (let fd = 0; fd < MAX_FD; fd++) {
      length[0] = address.byteLength;
      if (libc.symbols.getsockname(fd, address, length) !== 0) continue;
      const view = new DataView(address.buffer);
      if (view.getUint16(0, true) !== AF_INET) continue;
      if (view.getUint16(2, false) !== port) continue;
      valueLength[0] = 4;
      if (
        libc.symbols.getsockopt(
            fd,
            SOL_SOCKET,
            SO_ACCEPTCONN,
            value,
            valueLength,
          ) !== 0 || value[0] !== 1
      ) continue;
      value[0] = bytes;
      if (libc.symbols.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, value, 4) !== 0) {
        throw new Error(`setsockopt(SO_SNDBUF) failed on descriptor ${fd}`);
      }
      return;
    }
    throw new Error(`No socket of this process listens on port ${port}`);
  } finally {
    libc.close();
  }
}

/**
 * Sets SO_RCVBUF to `bytes` on this process's connected IPv4 socket whose
 * own port is `localPort` (a client's) and whose peer's is `peerPort`: the
 * kernel may give the same ephemeral port to another socket of the process
 * connected elsewhere (the server's TLS bridge, in the same process). On loopback the kernel grows a
 * receive buffer to hundreds of KiB and opens the window again only once
 * half of it is free: a reader taking 16 KiB every 100 ms is then seen by
 * the server to take nothing for more than a second, then hundreds of KiB
 * at once. Throws when there is no such socket.
 */
export function shrinkReceiveBuffer(
  localPort: number,
  peerPort: number,
  bytes: number,
): void {
  const libc = Deno.dlopen("libc.so.6", SYMBOLS);
  try {
    const address = new Uint8Array(128);
    const length = new Uint32Array(1);
    const value = new Int32Array(1);
    for (let fd = 0; fd < MAX_FD; fd++) {
      length[0] = address.byteLength;
      if (libc.symbols.getsockname(fd, address, length) !== 0) continue;
      const view = new DataView(address.buffer);
      if (view.getUint16(0, true) !== AF_INET) continue;
      if (view.getUint16(2, false) !== localPort) continue;
      length[0] = address.byteLength;
      if (libc.symbols.getpeername(fd, address, length) !== 0) continue;
      if (view.getUint16(2, false) !== peerPort) continue;
      value[0] = bytes;
      if (libc.symbols.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, value, 4) !== 0) {
        throw new Error(`setsockopt(SO_RCVBUF) failed on descriptor ${fd}`);
      }
      return;
    }
    throw new Error(
      `No socket of this process has port ${localPort} connected to ${peerPort}`,
    );
  } finally {
    libc.close();
  }
}
