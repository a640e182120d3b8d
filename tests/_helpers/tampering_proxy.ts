/**
 * A TCP proxy in front of a real server that does to the WebSocket what
 * something on the network could: it passes everything through, reads the
 * server's frames on their way to the client, and on request changes the
 * next binary frame or puts bytes of its own between two frames.
 */

import { type LinkListener, listenForLinks, writeAll } from "./proxy_links.ts";

/** One client's connection through the proxy. */
interface Link {
  client: Deno.Conn;
  server: Deno.Conn;
  /** Writes to the client, in order: whole frames, or injected bytes. */
  down: Promise<void>;
}

export class TamperingProxy {
  readonly port: number;
  readonly #listener: LinkListener;
  readonly #links = new Set<Link>();
  /** Each link's two loops, until they end. */
  readonly #piping = new Set<Promise<void>>();
  #newest: Link | null = null;
  #change: { edit: (payload: Uint8Array) => void; done: () => void } | null =
    null;

  constructor(targetPort: number) {
    this.#listener = listenForLinks(
      targetPort,
      (client, server) => this.#link(client, server),
    );
    this.port = this.#listener.port;
  }

  /**
   * Lets `edit` change the payload (in place) of the next binary frame the
   * server sends, on any connection; resolves once that frame went on.
   */
  changeNextBinaryFrame(edit: (payload: Uint8Array) => void): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#change = { edit, done: done.resolve };
    return done.promise;
  }

  /**
   * Sends `bytes` to the client of the newest connection, as if the server
   * had, between two of the server's frames; resolves once written.
   */
  inject(bytes: Uint8Array): Promise<void> {
    const link = this.#newest;
    if (link === null) throw new Error("No connection to inject into");
    return this.#write(link, bytes);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#listener.close();
    for (const link of this.#links) close(link);
    await Promise.all(this.#piping);
  }

  #link(client: Deno.Conn, server: Deno.Conn): void {
    const link: Link = { client, server, down: Promise.resolve() };
    this.#links.add(link);
    this.#newest = link;
    const piping = Promise.all([this.#up(link), this.#downstream(link)])
      .then(() => {
        this.#links.delete(link);
        this.#piping.delete(piping);
        close(link);
      });
    this.#piping.add(piping);
  }

  /** Client to server: as it comes. */
  async #up(link: Link): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await link.client.read(buffer);
        if (read === null) break;
        await writeAll(link.server, buffer.subarray(0, read));
      }
    } catch {
      // A side closed.
    }
    close(link);
  }

  /** Server to client: the upgrade's answer, then whole frames. */
  async #downstream(link: Link): Promise<void> {
    let pending = new Uint8Array(0);
    let headDone = false;
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await link.server.read(buffer);
        if (read === null) break;
        pending = joined(pending, buffer.subarray(0, read));
        if (!headDone) {
          const end = headEnd(pending);
          if (end < 0) continue;
          await this.#write(link, pending.slice(0, end));
          pending = pending.slice(end);
          headDone = true;
        }
        for (let size; (size = frameSize(pending)) !== null;) {
          const frame = pending.slice(0, size.total);
          pending = pending.slice(size.total);
          const change = this.#change;
          if (change !== null && (frame[0]! & 0x0f) === 0x2) {
            this.#change = null;
            change.edit(frame.subarray(size.header));
            await this.#write(link, frame);
            change.done();
            continue;
          }
          await this.#write(link, frame);
        }
      }
    } catch {
      // A side closed.
    }
    close(link);
  }

  #write(link: Link, bytes: Uint8Array): Promise<void> {
    const written = link.down.then(() => writeAll(link.client, bytes));
    link.down = written.catch(() => {});
    return written;
  }
}

/** Where the HTTP head ends, blank line included; -1 until it has. */
function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i - 3] === 0x0d && bytes[i - 2] === 0x0a &&
      bytes[i - 1] === 0x0d && bytes[i] === 0x0a
    ) return i + 1;
  }
  return -1;
}

/** The sizes of the frame at the start of `bytes`, once all of it is there. */
function frameSize(
  bytes: Uint8Array,
): { header: number; total: number } | null {
  if (bytes.length < 2) return null;
  let length = bytes[1]! & 0x7f;
  let header = 2;
  if (length === 126) {
    if (bytes.length < 4) return null;
    length = (bytes[2]! << 8) | bytes[3]!;
    header = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return null;
    length = Number(
      new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(2),
    );
    header = 10;
  }
  if ((bytes[1]! & 0x80) !== 0) header += 4;
  const total = header + length;
  return bytes.length < total ? null : { header, total };
}

function joined(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function close(link: Link): void {
  for (const conn of [link.client, link.server]) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * The header of a binary frame that announces `length` bytes and brings
 * none of them: a client that waited for the payload would hang.
 */
export function announcedFrame(length: number): Uint8Array {
  const header = new Uint8Array(10);
  header[0] = 0x82;
  header[1] = 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header;
}
