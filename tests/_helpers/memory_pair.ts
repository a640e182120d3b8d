/**
 * Two ends of a connection in memory, no socket: what one sends, the other
 * receives. The server's end is an EdgeConnection, as the edge hands over.
 */

import {
  CloseCode,
  type CloseInfo,
  type Connection,
  Inbox,
  type WireData,
} from "../../src/transport/connection.ts";
import type { EdgeConnection } from "../../src/server/ws_edge.ts";

class End implements EdgeConnection {
  readonly bufferedAmount = 0;
  readonly localCloseReason = null;
  // An in-memory peer is this machine's, as loopback is.
  readonly loopback = true;
  readonly inbox = new Inbox();
  readonly closed: Promise<CloseInfo>;
  peer!: End;
  #resolve!: (info: CloseInfo) => void;
  #done = false;

  constructor(readonly remoteAddress: string) {
    this.closed = new Promise((resolve) => (this.#resolve = resolve));
  }

  handshakeDone(): void {}

  send(data: WireData): void {
    if (this.#done) return;
    // Connection.send copies: the caller may free its buffer on return.
    this.peer.inbox.push(typeof data === "string" ? data : data.slice());
  }

  receive(): Promise<WireData | null> {
    return this.inbox.receive();
  }

  close(code: number = CloseCode.normal, reason = ""): void {
    if (this.#done) return;
    // What either side sent before stays readable by the other.
    this.#end({ code, reason, violation: null }, false);
    this.peer.#end({ code, reason, violation: null }, true);
  }

  #end(info: CloseInfo, keep: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.inbox.end(keep);
    this.#resolve(info);
  }
}

/** A connected pair: `server` for the server's core, `client` for a peer. */
export function memoryPair(
  address = "10.0.0.1:5000",
): { server: EdgeConnection; client: Connection } {
  const server = new End(address);
  const client = new End("server");
  server.peer = client;
  client.peer = server;
  return { server, client };
}
