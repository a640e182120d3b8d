/** An in-memory Connection for driving a SecureChannel without a socket. */

import {
  CloseCode,
  type CloseInfo,
  type Connection,
  type WireData,
} from "../../src/transport/connection.ts";

/**
 * An in-memory Connection that records what is sent and how it is closed,
 * and receives what a test delivers to it.
 */
export class RecordingConnection implements Connection {
  readonly remoteAddress = "test:1";
  readonly bufferedAmount = 0;
  readonly sent: WireData[] = [];
  readonly closes: [number | undefined, string | undefined][] = [];
  readonly closed: Promise<CloseInfo>;
  #resolve!: (info: CloseInfo) => void;
  #inbox: WireData[] = [];

  constructor() {
    this.closed = new Promise((resolve) => (this.#resolve = resolve));
  }
  send(data: WireData): void {
    // Connection.send copies: the caller may free its buffer on return.
    this.sent.push(typeof data === "string" ? data : data.slice());
  }
  /** Makes `data` the next thing {@link receive} returns. */
  deliver(data: WireData): void {
    this.#inbox.push(data);
  }
  receive(): Promise<WireData | null> {
    const next = this.#inbox.shift();
    if (next !== undefined) return Promise.resolve(next);
    return this.closed.then(() => null);
  }
  close(code?: number, reason?: string): void {
    this.closes.push([code, reason]);
    this.#resolve({
      code: code ?? CloseCode.normal,
      reason: reason ?? "",
      violation: null,
    });
  }
}
