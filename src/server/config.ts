// This module is browser compatible.

/**
 * The server's connection-level limits, each a named setting with a default.
 * State-level limits (groups, members, files) live in `ServerLimits`.
 */

export interface ConnectionLimits {
  /** Connections open at once, counted until each socket is really gone. */
  maxConnections: number;
  /** The same for one remote address (a hostile peer can hold sockets open). */
  maxConnectionsPerAddress: number;
  /** A handshake must finish within this. */
  handshakeTimeoutMs: number;
  /** A connection must register a name within this after its handshake. */
  registerTimeoutMs: number;
  /** Chat messages and commands per second per connection; 0 turns it off. */
  messagesPerSecond: number;
  /** Messages allowed in a burst above the rate. */
  messageBurst: number;
  /** Refused messages in a row before a flooding client is disconnected. */
  floodStrikes: number;
  /** Bytes queued for one client before it counts as not reading and is cut off. */
  maxBacklogBytes: number;
  /** Seconds of silence before the server pings; no pong in as long again closes. */
  idleTimeoutSeconds: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object
  .freeze({
    maxConnections: 20_000,
    maxConnectionsPerAddress: 64,
    handshakeTimeoutMs: 10_000,
    registerTimeoutMs: 60_000,
    messagesPerSecond: 20,
    messageBurst: 40,
    floodStrikes: 50,
    maxBacklogBytes: 32 * 1024 * 1024,
    idleTimeoutSeconds: 30,
  });
