// This module is browser compatible.

/**
 * The server's connection-level limits, each a named setting with a default.
 * State-level limits (groups, members, files) live in `ServerLimits`.
 */

import { MAX_FRAME_BYTES, MAX_HANDSHAKE_BYTES } from "../protocol/limits.ts";

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
  /**
   * Chat messages and commands per second from one address (an IPv6 /64),
   * all its connections together: without it, each connection an address
   * may hold multiplies its rate. 0 turns it off.
   */
  messagesPerSecondPerAddress: number;
  /** Messages one address may send in a burst above its rate. */
  messageBurstPerAddress: number;
  /**
   * `history` requests per second per connection, on top of the message
   * rate: each reply may hold 256 KiB read from the disk. 0 turns it off.
   */
  historyPerSecond: number;
  /** `history` requests allowed in a burst above their rate. */
  historyBurst: number;
  /**
   * `history` requests per second from one address, all its connections
   * together (each may hold 64): without it, an address asks for as many
   * as its message rate lets through. 0 turns it off.
   */
  historyPerSecondPerAddress: number;
  /** `history` requests one address may send in a burst above its rate. */
  historyBurstPerAddress: number;
  /**
   * `history` requests of each connection, its first ones, not counted
   * against its address's: a client asks once, unasked, at each sign-in
   * (message_rate.ts). Its own bucket counts them still.
   */
  historyFreePerConnection: number;
  /**
   * Names never seen before that one address may register per minute (a
   * name it has used before signs in freely): accounts cost nothing else,
   * and each holds store (keys, messages waiting, groups). Loopback is not
   * held to it (the server's own machine). 0 turns it off.
   */
  newNamesPerMinutePerAddress: number;
  /** New names one address may register in a burst above that rate. */
  newNameBurstPerAddress: number;
  /**
   * Sign-ins (of any name, new or not) that one address may make per
   * minute: each tells every user signed in that someone came, and its end
   * that they left, so an address signing in and out as fast as it may
   * connect printed 20 such lines a second on everyone's screen. Loopback
   * is not held to it unless `limitNewNamesFromLoopback`. 0 turns it off.
   */
  signInsPerMinutePerAddress: number;
  /** Sign-ins one address may make in a burst above that rate. */
  signInBurstPerAddress: number;
  /**
   * A known name whose session from an address (its key proven) lasted
   * this long and ended within `comebackWithinMs` comes back without
   * spending that address's sign-ins when they cannot pay (comebacks.ts):
   * a class's dropped Wi-Fi, however often, while one name looped in and
   * out comes back free at most once per this long.
   */
  comebackSettledMs: number;
  /** How soon after its session's end a comeback must come. */
  comebackWithinMs: number;
  /**
   * How often the store is told that each signed-in name is still there
   * (sightings.ts): after a crash, which wrote no ends, a name seen this
   * long before it at most comes back as after a clean stop.
   */
  sightingEveryMs: number;
  /**
   * Holds loopback to the new-name rate too, and to what the accounts of one
   * address may take together (one-time prekeys, groups created and joined:
   * state.ts ServerLimits, account_budgets.ts); off by default: the server's own machine, a local
   * bench or proxy, makes names and takes keys freely.
   */
  limitNewNamesFromLoopback: boolean;
  /** Refused messages in a row before a flooding client is disconnected. */
  floodStrikes: number;
  /** Bytes queued for one client before it counts as not reading and is cut off. */
  maxBacklogBytes: number;
  /**
   * Bytes queued for all the connections of one address (an IPv6 /64)
   * together: past it, the one with the most queued is cut off as not
   * reading. Without it, each connection an address may hold multiplies
   * maxBacklogBytes. 0 turns it off.
   */
  maxBacklogBytesPerAddress: number;
  /**
   * Bytes queued for all recipients together (sealed frames not yet written
   * to their sockets, and messages not yet sealed): past it the server stops
   * reading every sender until it drains to half (backpressure.ts), so what
   * a flood can make the server hold is bounded whatever the number of
   * recipients. 0 turns it off.
   */
  maxQueuedBytes: number;
  /**
   * Bytes read from all connections together and not yet routed (a frame
   * from its arrival until its reader is done with it): past it the server
   * stops reading every connection until half of it is done (ws_edge.ts).
   * Each connection's own inbox mark alone let a hundred flooding senders
   * have 200 MiB read and waiting at once. 0 turns it off.
   */
  maxUnreadBytes: number;
  /**
   * How long senders may be held back by recipients that do not drain: past
   * it, the connection with the most queued is cut off as not reading (and
   * again after as long, until it flows).
   */
  queueStallMs: number;
  /** Seconds of silence before the server pings; no pong in as long again closes. */
  idleTimeoutSeconds: number;
  /**
   * Largest WebSocket message, all its fragments together: past it the
   * connection closes with 1009 at once, so a message that never ends cannot
   * grow the server's memory.
   */
  maxPayloadBytes: number;
  /**
   * The same for a connection whose handshake is not done: a peer that has
   * proven nothing gets no more than the largest handshake message.
   */
  maxHandshakePayloadBytes: number;
  /**
   * Most WebSocket frames one message may come in: each costs the server
   * about 270 bytes, so a message in one-byte fragments must not cost a
   * million. Neither our client nor browsers fragment what they send.
   */
  maxMessageFragments: number;
  /**
   * Most reads of the socket one frame may come in, before and after the
   * handshake. `ws` keeps each read until the frame is whole, and the server
   * looks over all it keeps at every read (ws_read_release.ts): a frame sent
   * a byte per TCP segment was up to 262,144 reads held in memory, each read
   * slower than the last. The largest frame (MAX_FRAME_BYTES) in the
   * smallest segments an honest peer's TCP sends is 2098 reads, about half
   * the limit: 500 bytes each over Linux's smallest path MTU (552, less 40
   * bytes of IP and TCP headers and 12 of timestamps; 536-byte segments
   * carry 524). The handshake's texts are a few KiB.
   * (tests/server/ws_frame_reads_test.ts sends it so.)
   */
  maxHandshakeFrameReads: number;
  maxFrameReads: number;
  /**
   * Reads of an upgraded socket under 512 bytes a second, and at once; past
   * them the socket is not read for 100 ms, so the kernel gathers what
   * trickles in (paced_reads.ts). A rate of 0 turns it off.
   */
  smallReadsPerSecond: number;
  smallReadBurst: number;
  /** A peer that has not finished the close handshake by then is cut off. */
  closeTimeoutMs: number;
  /** The HTTP request (its headers) must have arrived within this. */
  headersTimeoutMs: number;
  /**
   * New WebSocket connections per second from one address (an IPv6 /64),
   * each one a handshake with an RSA decryption; 0 turns it off.
   */
  handshakesPerSecond: number;
  /** Handshakes from one address allowed in a burst above the rate. */
  handshakeBurst: number;
  /** RSA decryptions running at once, whoever asked for them. */
  maxDecryptsInFlight: number;
  /**
   * Connections whose handshake is not done (from the TCP accept on), on the
   * server: past it new connections are refused, so that peers that never
   * finish cannot take the slots registered users need. 0 turns it off.
   */
  maxUnfinished: number;
  /** The same from one address (an IPv6 /64). */
  maxUnfinishedPerAddress: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object
  .freeze({
    maxConnections: 20_000,
    maxConnectionsPerAddress: 64,
    handshakeTimeoutMs: 10_000,
    registerTimeoutMs: 60_000,
    messagesPerSecond: 20,
    messageBurst: 40,
    // Three connections' worth: a few clients behind one address chat freely.
    messagesPerSecondPerAddress: 60,
    messageBurstPerAddress: 120,
    historyPerSecond: 1,
    historyBurst: 5,
    historyPerSecondPerAddress: 3,
    historyBurstPerAddress: 10,
    historyFreePerConnection: 1,
    // A class signing up at once behind one address, then one every 6 s.
    newNamesPerMinutePerAddress: 10,
    newNameBurstPerAddress: 30,
    // A class signing in at once behind one address (or coming back after a
    // restart), then one every 6 s: 20 lines a minute on others' screens.
    signInsPerMinutePerAddress: 10,
    signInBurstPerAddress: 30,
    comebackSettledMs: 30_000,
    comebackWithinMs: 120_000,
    sightingEveryMs: 60_000,
    limitNewNamesFromLoopback: false,
    floodStrikes: 50,
    maxBacklogBytes: 32 * 1024 * 1024,
    maxBacklogBytesPerAddress: 64 * 1024 * 1024,
    // Two recipients at their own cut-off; a 100-byte message to 500 users
    // is about 60 KB sealed, so this is a thousand of them in flight.
    maxQueuedBytes: 64 * 1024 * 1024,
    // Sixteen of the largest frames.
    maxUnreadBytes: 16 * 1024 * 1024,
    queueStallMs: 5000,
    idleTimeoutSeconds: 30,
    // The largest sealed frame; the handshake's texts are far smaller.
    maxPayloadBytes: MAX_FRAME_BYTES,
    maxHandshakePayloadBytes: MAX_HANDSHAKE_BYTES,
    maxMessageFragments: 64,
    maxHandshakeFrameReads: 64,
    maxFrameReads: 4096,
    // Messages (20 a second), acks and a fast file's acks (one per MiB) are
    // far fewer; a peer sending a byte per segment made hundreds.
    smallReadsPerSecond: 32,
    smallReadBurst: 128,
    closeTimeoutMs: 4000,
    headersTimeoutMs: 5000,
    // Generous: a class behind one NAT address shares it.
    handshakesPerSecond: 10,
    handshakeBurst: 30,
    // More than the cores: a decryption's slot passes on only when the
    // event loop gets to its completion, and with 2 slots a busy loop (a
    // thousand reconnecting clients registering) left the thread pool idle:
    // the tail of such a storm waited past the 10 s handshake deadline and
    // came back 10 s later (bench/BASELINE.md, restart).
    maxDecryptsInFlight: 8,
    maxUnfinished: 256,
    maxUnfinishedPerAddress: 8,
  });

/**
 * The largest the server's database may grow (its pages in use), in bytes:
 * past it the oldest messages no one is still owed are deleted, and if that
 * is not enough new messages are refused. 0 means no cap.
 */
export const DEFAULT_MAX_STORE_BYTES = 1024 * 1024 * 1024;
