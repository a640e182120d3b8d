/**
 * A protocol-level chat client: connection, handshake, requests matched to
 * their replies, and a stream of everything else the server sends. It knows
 * nothing about terminals; the interactive session, tests and the benchmark
 * all drive it.
 */

import { fromBase64, toBase64 } from "../crypto/bytes.ts";
import {
  generateIdentity,
  type Identity,
  IDENTITY_PROOF_VERSION,
  identityChallengeMessage,
  identityKeyProblem,
  importIdentityPem,
  signChallenge,
} from "../crypto/identity.ts";
import type { DecodedMessage } from "../protocol/message_framing.ts";
import {
  isKnownServerType,
  parseServerMessage,
} from "../protocol/parse_server_message.ts";
import {
  type ByeReason,
  type ClientMessage,
  MAX_ACK_CURSORS,
  type ServerMessage,
} from "../protocol/messages.ts";
import type { SmallFrameAead } from "../crypto/session_cipher.ts";
import { type RoomCrypto, webRoomCrypto } from "../crypto/room_frame.ts";
import { DeliveryLedger } from "./delivery.ts";
import { StoreLedgers } from "./store_ledgers.ts";
import { HistoryAnswers } from "./history_answers.ts";
import {
  CloseCode,
  type Connection,
  DEFAULT_MAX_INBOX_BYTES,
  WebSocketConnection,
} from "../transport/connection.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { withDeadline } from "../transport/with_deadline.ts";
import { withPatience } from "./with_patience.ts";
import {
  type BatchDecoder,
  ChannelError,
  messageOf,
  openChannel,
  type SecureChannel,
} from "../transport/secure_channel.ts";

/**
 * What `register` answers when the server's challenge does not announce the
 * current identity proof: the server predates it and would refuse the proof.
 */
export const OUTDATED_SERVER =
  "ERROR: The server runs an older version of chat that cannot check this client's identity proof; ask its operator to update chat";

/** A client message before the client numbers it. */
export type Request = ClientMessage extends infer M
  ? M extends { id: number } ? Omit<M, "id"> : never
  : never;

/** A client message that carries no request id and gets no reply. */
export type Notice = Exclude<ClientMessage, { id: number }>;

/** A reply to a request: the server always answers with one of these. */
export type Reply = Extract<ServerMessage, { re: number | null }>;

export interface Incoming {
  message: ServerMessage;
  body: Uint8Array;
  /**
   * A chat message older than one already shown from its sender or in its
   * conversation: marked as history (`message.history`), to be shown as such
   * (docs/PROTOCOL.md, "Delivery").
   */
  late?: true;
  /**
   * The id of the history request this message answers: the one its `req`
   * names; from a server that names none, the oldest waiting (the server
   * sends a request's messages just before its reply, and answers requests
   * in turn). A page of what waited is not taken for it: it names no
   * request, or, from a server that names none, comes before the `pong` of
   * the `ping` sent before the request (history_answers.ts). So a message
   * with `answers` is a copy of what the server keeps anyway, or of what
   * was delivered already: never the only copy of a message that waits.
   */
  answers?: number;
}

/**
 * Gets server messages. A listener that reads a `file_chunk` body after it
 * returns must return a promise that settles once it is done with it: the
 * frame the body came in is freed then. For an `e2e_private` or `e2e_group`,
 * such a promise delays its acknowledgement (docs/PROTOCOL.md 5.9) until it
 * settles: return one that settles once the message is opened and kept,
 * held for later, or shown as an error; or `HELD` for one left, never to be
 * acknowledged here, for the keys another process (or tab) has.
 */
export type MessageListener = (
  incoming: Incoming,
) => Handling;

/**
 * What a listener returns (MessageListener): nothing (done with it at once),
 * a promise that settles once it is done with it, or `HELD`.
 */
export type Handling = void | Promise<unknown> | Held;

/**
 * An end-to-end message left unacknowledged on purpose: not ours to
 * acknowledge (the keys that open it are another process's, or another
 * tab's), so the server keeps it for them, or for this name's next sign-in
 * with the keys. Unlike a promise, nothing waits for it: `quit` waits only
 * for messages still being shown.
 */
export interface Held {
  readonly kind: "held";
}

/** The one `Held` (see there). */
export const HELD: Held = Object.freeze({ kind: "held" });

/** Whether a listener returned `HELD`. */
export function isHeld(handling: Handling): handling is Held {
  return handling === HELD;
}

/** The promise in `handling`, if it is one; `HELD` and nothing are not. */
function promiseOf(handling: Handling): Promise<unknown> | undefined {
  return handling === undefined || isHeld(handling) ? undefined : handling;
}

export interface ConnectOptions {
  pinnedSpki?: Uint8Array;
  handshakeTimeoutMs?: number;
  /**
   * After this long without hearing from the server the client pings it;
   * after twice as long it gives up on the connection. 0 turns it off.
   */
  pingIntervalMs?: number;
  /**
   * How long after showing a message the client acknowledges it, unless
   * ACK_BATCH more come first (default ACK_DELAY_MS).
   */
  ackDelayMs?: number;
  /**
   * A synchronous AES-GCM for small frames: the terminal client passes
   * `frameAead` (native_aead.ts: OpenSSL, or node:crypto); a browser leaves it
   * unset and WebCrypto seals every frame.
   */
  smallFrames?: SmallFrameAead;
  /**
   * How room frames (docs/PROTOCOL.md 3.8) are checked and opened: the
   * terminal client passes `nativeRoomCrypto` (native_room.ts); the default
   * is WebCrypto's. `false`: do not ask for room frames.
   */
  roomCrypto?: RoomCrypto | false;
  /**
   * Opens the WebSocket to `url`. The terminal client passes one over a TCP
   * socket with TCP_NODELAY, with TLS over it for wss://
   * (`openTerminalConnection`, tcp_websocket.ts); the default is the
   * platform's WebSocket, which a browser has and nothing else.
   */
  openConnection?: (url: string) => Promise<Connection>;
  /**
   * How opened frames become messages (default `decodeBatch`): the bench's
   * load client counts deliveries without parsing them
   * (bench/_counting_decoder.ts).
   */
  decode?: BatchDecoder;
}

const DEFAULT_PING_INTERVAL_MS = 30_000;

/**
 * Acknowledgements go at most this long after a message was shown, or at
 * once after this many: a few a second at most, never one per message.
 */
const ACK_DELAY_MS = 250;
const ACK_BATCH = 64;
/** How long quitting waits for the server to take the last acknowledgement. */
export const QUIT_ACK_MS = 2000;

/** How the session ended, as the user should hear it. */
export interface Ending {
  /** True when we said goodbye or the server did; false when the link was cut. */
  clean: boolean;
  /** Safe to print: sanitised (it may quote the server). */
  reason: string;
  /**
   * `reason` in a few words, when it is long (what the server broke and what
   * that may mean): what the lines that follow from the end say (a request
   * left unanswered, a file cut off), `reason` being said once, on a line of
   * its own. Read it with {@link briefReason}.
   */
  brief?: string;
  /** Why the server said goodbye, when it did. */
  bye?: ByeReason;
  /**
   * This client ended the connection because what came from the server
   * broke the protocol (`reason` says what, and what it may mean): worth
   * keeping in sight, unlike a dropped network.
   */
  brokeProtocol?: true;
}

export class ChatClient {
  readonly serverFingerprint: string;
  readonly ended: Promise<Ending>;
  #channel: SecureChannel;
  #nextId = 1;
  #pending = new Map<number, (reply: Reply, body: Uint8Array) => void>();
  #listeners: MessageListener[] = [];
  #backlog: Incoming[] = [];
  /** Inside `listening`: the backlog waits for all its listeners. */
  #gathering = 0;
  /** What lets an end-to-end message be acknowledged (`#settleAfter`). */
  #settles = new WeakMap<Incoming, () => void>();
  #quitting = false;
  #over = false;
  #name: string | null = null;
  /** See `ownAfter`. */
  #ownAfter = 0;
  /** See `welcomeLastId`. */
  #welcomeLastId: number | undefined;
  /** #name as names are compared (never equal to a name before the welcome). */
  #nameKey = "\0";
  /** The name `register` last asked for, until its `prove` is answered. */
  #registering: string | null = null;
  /** Whether we asked for room frames at `register`. */
  #roomFrames = false;
  /**
   * Why the session ended in a few words (briefReason), once it has: later
   * requests fail with it.
   */
  #endReason: string | null = null;
  /** What this user was shown; may outlive this connection (register). */
  #ledger = new DeliveryLedger();
  /** The ledgers of every store this user was shown messages from. */
  #ledgers = new StoreLedgers(this.#ledger);
  /** Whether the server takes acknowledgements (its welcome said so). */
  #acks = false;
  /** Whether the server recognises retries by client id (its welcome said so). */
  #cids = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** History requests waiting for their reply: the messages before it answer them. */
  #historyRequests = new HistoryAnswers();

  /**
   * When the server was last heard, on the monotonic clock: a wall clock set
   * forward would read as a long silence and drop a live connection; set
   * back, as none, and a dead server would never be pinged.
   */
  #lastHeard = performance.now();
  #silence: string | null = null;
  /** Whether `abort` cut the connection. */
  #aborted = false;
  /** Asked before each frame is taken: a promise to wait for, or null. */
  #readWhen: () => Promise<void> | null = () => null;
  /** Whether the receive loop waits for `#readWhen` now. */
  #held = false;
  /** Whether the connection closed while reading was held. */
  #heldAtClose = false;
  /** Every chat message waits for its listeners before it is acknowledged. */
  #ackWhenHandled = false;

  readonly #ackDelayMs: number;

  private constructor(
    channel: SecureChannel,
    serverFingerprint: string,
    pingIntervalMs: number,
    ackDelayMs: number,
  ) {
    this.#channel = channel;
    this.#ackDelayMs = ackDelayMs;
    this.serverFingerprint = serverFingerprint;
    this.ended = this.#receiveLoop();
    if (pingIntervalMs > 0) this.#watch(pingIntervalMs);
  }

  /** Pings a quiet server, and drops a connection that stays silent. */
  #watch(intervalMs: number): void {
    const check = () => {
      // Not reading, the client cannot hear the server: no sign of a dead
      // one (the runtime still answers the server's WebSocket pings).
      if (this.#held) this.#lastHeard = performance.now();
      const quiet = performance.now() - this.#lastHeard;
      if (quiet >= 2 * intervalMs) {
        this.#silence = "The server stopped answering.";
        this.#channel.close(CloseCode.goingAway, "no answer");
        return;
      }
      if (quiet >= intervalMs) void this.request({ t: "ping" });
      timer = setTimeout(check, intervalMs / 2);
      unrefTimer(timer);
    };
    let timer = setTimeout(check, intervalMs / 2);
    unrefTimer(timer);
    this.ended.finally(() => clearTimeout(timer));
  }

  static async connect(
    url: string,
    options: ConnectOptions = {},
  ): Promise<ChatClient> {
    const conn = options.openConnection === undefined
      ? await WebSocketConnection.open(url)
      : await options.openConnection(url);
    const { channel, serverFingerprint } = await openChannel(conn, {
      ...(options.pinnedSpki ? { pinnedSpki: options.pinnedSpki } : {}),
      ...(options.handshakeTimeoutMs !== undefined
        ? { timeoutMs: options.handshakeTimeoutMs }
        : {}),
      ...(options.smallFrames ? { smallFrames: options.smallFrames } : {}),
      ...(options.decode ? { decode: options.decode } : {}),
      ...(options.roomCrypto === false
        ? {}
        : { roomCrypto: options.roomCrypto ?? webRoomCrypto }),
      // Said as the connection's ending (#cutOff), in order with the rest
      // of what the user is shown, not on stderr at once.
      report: () => {},
    });
    return new ChatClient(
      channel,
      serverFingerprint,
      options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      options.ackDelayMs ?? ACK_DELAY_MS,
    );
  }

  /** The name the server accepted, once registered. */
  get name(): string | null {
    return this.#name;
  }

  /**
   * The last message id of this name sent by another key before this one
   * held it (the welcome's `own_after`, docs/PROTOCOL.md 5.3); 0: none.
   */
  get ownAfter(): number {
    return this.#ownAfter;
  }

  /**
   * The newest message id the server had stored at the welcome (its
   * `last_id`, docs/PROTOCOL.md 5.3); undefined: a server before it.
   */
  get welcomeLastId(): number | undefined {
    return this.#welcomeLastId;
  }

  /** True once the session has ended, whoever ended it. */
  get isOver(): boolean {
    return this.#over;
  }

  /** Requests still waiting for their reply. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Receives every server message that is not a reply. Messages that arrived
   * before the first listener was added are replayed to it, and to it only:
   * several listeners that need them (a session's, its file receiver's and
   * sender's) are added in one `listening`.
   */
  onMessage(listener: MessageListener): void {
    this.#listeners.push(listener);
    if (this.#gathering === 0) this.#replayBacklog();
  }

  /**
   * Runs `add`, which adds listeners (`onMessage`), and only then replays
   * what arrived before any listener, each message to every one of them in
   * turn, as it would have come. Added one by one, the first took it all:
   * a file offer that came in the instant after the welcome, before the
   * session listened, reached the session's listener (which does not take
   * files) and never the file receiver, and was never shown.
   */
  listening<T>(add: () => T): T {
    this.#gathering++;
    try {
      return add();
    } finally {
      this.#gathering--;
      if (this.#gathering === 0) this.#replayBacklog();
    }
  }

  /** Hands what arrived before any listener to the listeners now. */
  #replayBacklog(): void {
    if (this.#listeners.length === 0) return;
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const incoming of backlog) this.#handOut(incoming);
  }

  /** Messages whose listeners are not done with them yet (#settleAfter). */
  readonly #unsettled = new Set<Promise<void>>();

  /**
   * Gives `incoming` to every listener, and lets it be acknowledged once
   * they are done with it (#settleAfter); returns the promises they
   * returned.
   */
  #handOut(incoming: Incoming): Promise<unknown>[] {
    const handled: Promise<unknown>[] = [];
    let held = false;
    for (const listener of this.#listeners) {
      const handling = listener(incoming);
      if (isHeld(handling)) held = true;
      const hold = promiseOf(handling);
      if (hold !== undefined) handled.push(hold);
    }
    if (held) this.#settles.delete(incoming);
    else this.#settleAfter(incoming, handled);
    return handled;
  }

  /**
   * Lets an end-to-end message (or any chat message, `ackWhenHandled`) be
   * acknowledged once the promises its listeners returned have settled (at
   * once if they returned none). One a listener `HELD` never is, and is not
   * counted among the unsettled: nothing is being done with it here.
   */
  #settleAfter(incoming: Incoming, handled: Promise<unknown>[]): void {
    const settle = this.#settles.get(incoming);
    if (settle === undefined) return;
    this.#settles.delete(incoming);
    if (handled.length === 0) {
      settle();
      return;
    }
    const settling: Promise<void> = Promise.allSettled(handled).then(() => {
      this.#unsettled.delete(settling);
      settle();
    });
    this.#unsettled.add(settling);
  }

  /**
   * Takes frames from the server only when `ready` allows: before each, the
   * client waits for the promise it returns (null: read on). For a reader
   * that fell behind (`chat connect --json` whose stdout is not read): the
   * server's messages then wait unread, and unacknowledged, in the
   * connection's inbox (its bound, DEFAULT_MAX_INBOX_BYTES, still holds:
   * past it the connection is dropped, and the server sends again what was
   * not acknowledged at the next registration).
   */
  holdReading(ready: () => Promise<void> | null): void {
    this.#readWhen = ready;
  }

  /**
   * From now on (call it before `register`: what waits for this user comes
   * right after the welcome), a chat message is acknowledged only once the
   * promises its listeners returned have settled, as end-to-end ones always
   * are. `chat connect --json` returns one that resolves when the message's
   * line is written to stdout: a program killed with lines still queued
   * gets them again at the next sign-in.
   */
  ackWhenHandled(): void {
    this.#ackWhenHandled = true;
  }

  /** Sends a request and resolves with the server's reply. */
  request(request: Request, body?: Uint8Array): Promise<Reply> {
    return this.numberedRequest(request, body).reply;
  }

  /**
   * Sends a request; `id` is its number, by which a later message may name
   * it (a file offer taken back before its reply, PROTOCOL.md 5.6).
   */
  numberedRequest(
    request: Request,
    body?: Uint8Array,
  ): { id: number; reply: Promise<Reply> } {
    if (this.#endReason !== null) {
      // No reply can come any more: say so now rather than never.
      const id = this.#nextId++;
      return { id, reply: Promise.resolve(notSent(id, this.#endReason)) };
    }
    // A history request goes after a ping, numbered before it: ids are in
    // the order requests are sent (history_answers.ts).
    const ping = request.t === "history" ? this.#nextId++ : null;
    const id = this.#nextId++;
    const reply = new Promise<Reply>((resolve) =>
      this.#pending.set(id, resolve)
    );
    if (request.t === "history" && ping !== null) {
      this.#askHistory(id, request, ping);
    }
    this.#channel.send({ ...request, id } as ClientMessage, body);
    return { id, reply };
  }

  /**
   * Notes history request `id`, after `ping`: a page of what waited that
   * is on its way comes before the `pong`, the answer after it
   * (history_answers.ts). Before every request, not only after an `ack`:
   * an `ack` the server held over the rate brings its page later, when the
   * server applies it on its own between two of our frames, and nothing
   * tells us it was held.
   */
  #askHistory(
    id: number,
    request: Extract<Request, { t: "history" }>,
    ping: number,
  ): void {
    // Nobody waits for its reply, which only opens the request's answer.
    this.#pending.set(ping, () => {});
    this.#historyRequests.asked(id, request.limit, {
      after: ping,
      room: request.target === undefined,
    });
    this.#channel.send({ t: "ping", id: ping });
  }

  /**
   * Sends a request and resolves with the server's reply and the reply's
   * body (a copy: the end-to-end bundle of `e2e_bundle` travels there).
   */
  requestWithBody(
    request: Request,
    body?: Uint8Array,
  ): Promise<{ reply: Reply; body: Uint8Array }> {
    const id = this.#nextId++;
    if (this.#endReason !== null) {
      return Promise.resolve({
        reply: notSent(id, this.#endReason),
        body: new Uint8Array(0),
      });
    }
    const promise = new Promise<{ reply: Reply; body: Uint8Array }>(
      (resolve) =>
        this.#pending.set(
          id,
          (reply, replyBody) => resolve({ reply, body: replyBody.slice() }),
        ),
    );
    this.#channel.send({ ...request, id } as ClientMessage, body);
    return promise;
  }

  /**
   * Sends a message that gets no reply (file data and acknowledgements).
   * Bulk messages yield to everything else (see SecureChannel.sendBulk).
   * `bodyWritten`: a file chunk's body is handed back, not freed
   * (SecureChannel.send).
   */
  post(
    message: Notice,
    body?: Uint8Array,
    bulk = false,
    bodyWritten?: () => void,
  ): void {
    this.#channel.send(message, body, bulk, bodyWritten);
  }

  /** Bytes queued for sending and not yet on the network. */
  get backlog(): number {
    return this.#channel.backlog;
  }

  /**
   * Registers `name`, proving possession of `identity` (a throwaway identity
   * when none is given: fine for tests, but then the name is bound to a key
   * that is gone when this client is). `ledger`: what this user was shown
   * on earlier connections, to drop what the server sends again (pass the
   * same one at every reconnect): per store (StoreLedgers), as the terminal
   * and the web page keep it (a node restarted with another store numbers
   * from 1 again), or one DeliveryLedger, taken to be that of whichever
   * store welcomes it.
   */
  async register(
    name: string,
    identity?: Identity,
    ledger?: DeliveryLedger | StoreLedgers,
  ): Promise<Reply> {
    if (ledger !== undefined) {
      this.#ledgers = ledger instanceof StoreLedgers
        ? ledger
        : new StoreLedgers(ledger);
      this.#ledger = this.#ledgers.current;
    }
    const id = identity ??
      await importIdentityPem((await generateIdentity()).privatePem);
    // An Identity can be built by hand (tests, the bench): a key anyone can
    // sign for never leaves this client.
    const problem = identityKeyProblem(id.publicRaw);
    if (problem !== null) {
      return {
        t: "error",
        re: null,
        code: "identity",
        text: `ERROR: Bad identity key: ${problem}`,
      };
    }
    this.#registering = name;
    // Refused with slow_down (its address's message rate: a class signing
    // in at once, each session with its keys and lists, passed 120 in a few
    // seconds), a sign-in is sent again after a pause, not shown as an
    // ERROR that ends the program: nothing of it was done.
    const first = await withPatience(() =>
      this.request({
        t: "register",
        name,
        key: toBase64(id.publicRaw),
        // This client reads every form of chat message (compact_chat.ts), and
        // acknowledges what it shows.
        compact: true,
        acks: true,
        varint: true,
        // …and the public room's messages sealed once for everyone, when this
        // channel can check them.
        ...(this.#channel.acceptsRoomFrames ? { room_frames: true } : {}),
      })
    );
    this.#roomFrames = this.#channel.acceptsRoomFrames;
    if (first.t !== "challenge") return first;
    let challenge: Uint8Array;
    try {
      challenge = fromBase64(first.nonce);
    } catch {
      return {
        t: "error",
        re: first.re,
        code: "internal",
        text: "ERROR: The server sent a bad challenge",
      };
    }
    if (first.proof !== IDENTITY_PROOF_VERSION) {
      // Such a server verifies the first proof format, without the key,
      // which this client no longer signs (docs/PROTOCOL.md section 10).
      return {
        t: "error",
        re: first.re,
        code: "identity",
        text: OUTDATED_SERVER,
      };
    }
    const message = identityChallengeMessage({
      publicKey: id.publicRaw,
      transcriptHash: this.#channel.transcriptHash,
      challenge,
      name,
    });
    const signature = toBase64(await signChallenge(id, message));
    const reply = await withPatience(() =>
      this.request({ t: "prove", signature })
    );
    this.#registering = null;
    if (reply.t === "welcome") {
      this.#name = reply.name;
      this.#nameKey = reply.name.toLowerCase();
      this.#ownAfter = reply.own_after ?? 0;
      this.#welcomeLastId = reply.last_id;
      this.#acks = reply.acks === true;
      this.#cids = reply.cids === true;
      // What was shown before the welcome (nothing, usually) is owed too.
      this.#scheduleAcks();
    }
    return reply;
  }

  /** Sends an acknowledgement soon, or now when enough has been shown. */
  #scheduleAcks(): void {
    if (!this.#acks || this.#ledger.pending === 0) return;
    if (this.#ledger.noted >= ACK_BATCH) {
      this.#sendAcks();
      return;
    }
    if (this.#ackTimer !== undefined) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      this.#sendAcks();
    }, this.#ackDelayMs);
    unrefTimer(this.#ackTimer);
  }

  /**
   * Acknowledges every conversation shown since the last time; returns
   * whether it sent anything.
   */
  #sendAcks(): boolean {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (!this.#acks || this.#ledger.pending === 0) return false;
    const cursors = this.#ledger.takeCursors();
    if (this.#endReason !== null || this.#quitting) {
      // Not sent: the next connection acknowledges them.
      this.#ledger.restore(cursors);
      return false;
    }
    for (let i = 0; i < cursors.length; i += MAX_ACK_CURSORS) {
      this.#channel.send({
        t: "ack",
        cursors: cursors.slice(i, i + MAX_ACK_CURSORS),
      });
    }
    return true;
  }

  /**
   * Sends text to the public room, a user or a group. `cid`: the message's
   * own id (newClientId), the same at every try, so that a server whose
   * welcome said `cids` stores it once however often it is sent.
   */
  say(text: string, cid?: string): Promise<Reply> {
    return this.request({ t: "say", ...withCid(cid) }, encodeText(text));
  }

  msg(to: string, text: string, cid?: string): Promise<Reply> {
    return this.request({ t: "msg", to, ...withCid(cid) }, encodeText(text));
  }

  gsay(group: string, text: string, cid?: string): Promise<Reply> {
    return this.request(
      { t: "gsay", group, ...withCid(cid) },
      encodeText(text),
    );
  }

  /**
   * Whether the server recognises a chat message sent again with the same
   * `cid` (its welcome said `cids`): only then is a message whose reply
   * was lost safe to send again.
   */
  get recognisesRetries(): boolean {
    return this.#cids;
  }

  /**
   * Says goodbye (encrypted), waits until it is on the wire, and closes.
   * `showing: false`: messages still being shown are not waited for, as
   * they never will be (the program reading stdout is gone): they stay
   * unacknowledged, for the next sign-in.
   */
  async quit(options: { showing?: boolean } = {}): Promise<Ending> {
    const showing = options.showing ?? true;
    if (!this.#quitting) {
      // What was shown is acknowledged before the goodbye, and known to be
      // taken once a ping after it is answered: the last frames before a
      // process exits can be lost (then it is shown again, as history).
      // A message still being shown (a line waiting for stdout) is waited
      // for too when nothing else is owed yet: a script whose input ended
      // while its one line was on its way out showed it, and got it again
      // at its next sign-in. One left for the keys another process holds
      // (`HELD`) is not among them: nothing here would ever settle it.
      // A request on its way (a line typed just before /quit, say) is
      // answered before the goodbye, within a wait of its own: the server
      // may have stored it and passed it on, and failed as not sent it was
      // typed again, a second message. Its own: sharing the wait below, a
      // request never answered took it all from the messages being shown.
      const answering = this.#answersOf([...this.#pending.keys()]);
      if (answering !== null) await withDeadline(answering, QUIT_ACK_MS);
      const sent = this.#sendAcks();
      if (sent || (showing && this.#unsettled.size > 0)) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const waited = new Promise((resolve) =>
          timer = setTimeout(resolve, QUIT_ACK_MS)
        );
        if (sent) await Promise.race([this.request({ t: "ping" }), waited]);
        // What the server sent before its answer was shown meanwhile, or
        // is being shown (a line waiting for stdout): acknowledged too,
        // within the same wait, or it comes again at the next sign-in.
        if (showing) {
          await Promise.race([Promise.all([...this.#unsettled]), waited]);
        }
        clearTimeout(timer);
        this.#sendAcks();
      }
      if (this.#quitting) return this.ended;
      this.#quitting = true;
      this.#channel.send({ t: "bye" });
      await this.#channel.drain();
      this.#channel.close(CloseCode.normal, "bye");
    }
    return this.ended;
  }

  /**
   * Settles once none of the requests `ids` waits for its reply any more
   * (null when none does now).
   */
  #answersOf(ids: readonly number[]): Promise<void> | null {
    const waiting = ids.filter((id) => this.#pending.has(id));
    if (waiting.length === 0) return null;
    return new Promise((resolve) => {
      const check = () => {
        if (waiting.some((id) => this.#pending.has(id))) return;
        this.#onReplied.delete(check);
        resolve();
      };
      this.#onReplied.add(check);
    });
  }

  /** Called after each reply is taken (and once the pending are failed). */
  readonly #onReplied = new Set<() => void>();

  /** Drops the connection without a goodbye (tests use this to cut the link). */
  abort(): void {
    this.#aborted = true;
    this.#channel.close(CloseCode.goingAway, "");
  }

  async #receiveLoop(): Promise<Ending> {
    let ending: Ending | null = null;
    try {
      while (ending === null) {
        // Asked here, not in #readyToRead: reading is rarely held, and an
        // async call awaited per frame is a promise and microtask turns for
        // nothing.
        const wait = this.#readWhen();
        if (wait !== null) await this.#readyToRead(wait);
        const batch = await this.#channel.receive();
        if (batch === null) break;
        this.#lastHeard = performance.now();
        const holds: Promise<unknown>[] = [];
        let untracked = false;
        for (const { header, body } of batch) {
          // Newer servers may send types this client does not know: skip them.
          if (!isKnownServerType(header)) continue;
          const message = parseServerMessage(header);
          // The room's batches carry our own lines too (the same bytes go
          // to every member, docs/PROTOCOL.md 3.8): they were shown when we
          // sent them. No server sends a live public message back to its
          // sender otherwise.
          if (
            message.t === "public" && message.history !== true &&
            this.#roomFrames && message.from.toLowerCase() === this.#nameKey
          ) continue;
          if (message.t === "bye") {
            ending = { clean: true, reason: message.text, bye: message.reason };
          }
          const tracked = this.#dispatch(message, body, holds);
          if (body.byteLength > 0 && !tracked) untracked = true;
        }
        this.#recycleWhenDone(batch, holds, untracked);
        this.#scheduleAcks();
      }
    } catch (error) {
      ending = error instanceof ChannelError || error instanceof TypeError
        ? {
          clean: false,
          reason: brokeProtocol(error),
          brief: CONNECTION_CLOSED,
          brokeProtocol: true,
        }
        : { clean: false, reason: messageOf(error) };
      this.#channel.close(CloseCode.protocolError, "protocol error");
    }
    if (ending === null) {
      ending = this.#quitting
        ? { clean: true, reason: "Disconnected." }
        : await this.#cutOff();
    }
    if (ending.clean && !this.#quitting) this.#channel.close();
    // The server's goodbye, and errors that quote what it sent (a JSON parse
    // error shows the input), reach a terminal: made safe here, once.
    ending = { ...ending, reason: sanitizeForTerminal(ending.reason) };
    this.#over = true;
    this.#failPending(briefReason(ending));
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    return ending;
  }

  /**
   * How a connection that ended without a goodbye ended, once its socket is
   * gone (soon after the server closed it, the network dropped it or the
   * transport failed it: no wait for an answer to a close of ours).
   */
  async #cutOff(): Promise<Ending> {
    if (this.#silence !== null) return { clean: false, reason: this.#silence };
    if (this.#aborted) return { clean: false, reason: CONNECTION_LOST };
    const { violation } = await this.#channel.closed;
    if (violation !== null) {
      return {
        clean: false,
        reason: brokeWebSocketProtocol(violation),
        brief: CONNECTION_CLOSED,
        brokeProtocol: true,
      };
    }
    // This client's channel could seal nothing more (its session exhausted).
    const failure = this.#channel.failure;
    if (failure !== null) {
      return { clean: false, reason: `${CONNECTION_CLOSED_HERE}: ${failure}` };
    }
    // The transport cut it on its own: its inbox overflowed.
    if (this.#heldAtClose && this.#channel.localCloseReason !== null) {
      return {
        clean: false,
        reason: DROPPED_WHILE_HELD,
        brief: "The connection was dropped.",
      };
    }
    return { clean: false, reason: CONNECTION_LOST };
  }

  /**
   * Waits while reading is held (`holdReading`: `first` is what its `ready`
   * returned), or until the link closes.
   */
  async #readyToRead(first: Promise<void>): Promise<void> {
    let wait: Promise<void> | null = first;
    this.#held = true;
    // Held, the inbox takes what comes up to its bound (pings are answered
    // meanwhile), then the connection is dropped: not left for the server
    // to keep (Connection.readPastPause).
    this.#channel.readPastPause(true);
    try {
      let closed = false;
      const gone = this.#channel.closed.then(() => (closed = true));
      while (wait !== null && !closed) {
        await Promise.race([wait, gone]);
        wait = this.#readWhen();
      }
      // What the inbox kept is read (the server's goodbye among it).
      this.#heldAtClose = closed;
    } finally {
      this.#held = false;
      this.#channel.readPastPause(false);
      // Silent because unread: the watchdog's clock starts again now.
      this.#lastHeard = performance.now();
    }
  }

  /**
   * Hands a message to whoever waits for it. Returns whether the body's last
   * reader is known: file data goes to listeners that return a promise for as
   * long as they read it (into `holds`); any other body may be kept anywhere.
   */
  #dispatch(
    message: ServerMessage,
    body: Uint8Array,
    holds: Promise<unknown>[],
  ): boolean {
    // Before anything sent after it (the missed messages may come in the
    // same batch): their ids and seqs are this store's.
    if (message.t === "welcome") {
      // The name asked for, as registered (docs/PROTOCOL.md 5.3): what is
      // kept per name follows the welcome (the end-to-end files,
      // e2e_paths.ts), and another name's are not for a server to hand us.
      if (
        this.#registering !== null &&
        message.name.toLowerCase() !== this.#registering.toLowerCase()
      ) {
        throw new TypeError(
          `Welcomed as '${message.name}', not as '${this.#registering}' as asked`,
        );
      }
      this.#ledger = this.#ledgers.useStore(message.store);
      // Before the missed messages after it too: they are history without
      // `req`, which such a server never sends as an answer.
      if (message.reqs === true) this.#historyRequests.named();
    }
    // Only replies carry `re`: a history answer's chat messages name their
    // request with `req` (below), and its reply is the `ok` after them.
    if ("re" in message && message.re !== null) {
      const resolve = this.#pending.get(message.re);
      if (resolve) {
        this.#pending.delete(message.re);
        this.#historyRequests.replied(message.re);
        resolve(message, body);
        for (const check of [...this.#onReplied]) check();
        return true;
      }
    }
    const incoming: Incoming = { message, body };
    if (isChat(message)) {
      // What a history request asked for is shown whatever was shown
      // before. It still goes through the ledger, which acknowledges it
      // like the rest: a copy of a message that waits has the same id and
      // seq, and nothing gains from holding its conversation back.
      // Only as much as one reply may hold (history_answers.ts): more is
      // shown at once, not held with the request's lines.
      const answers = message.history === true
        ? this.#historyRequests.answer(body.byteLength, {
          req: message.req,
          room: message.t === "public",
        })
        : undefined;
      const asked = answers !== undefined;
      if (asked) incoming.answers = answers;
      // An end-to-end one is a private message with a sealed body: a
      // duplicate is dropped before anyone tries to open it again (its
      // keys are gone once it has been opened).
      const chat = message.t === "e2e_private"
        ? { ...message, t: "private" as const }
        : message.t === "e2e_group"
        ? { ...message, t: "group" as const }
        : message;
      // Acknowledged once its listeners are done with it (opened, kept, or
      // shown as an error): a client that ends before gets it again. So is
      // one that came before any listener (held in the backlog): a client
      // that ends before it has one (a terminal whose keys would not open
      // stops right after the welcome) showed nothing, and acknowledged
      // everything that waited for it.
      const opening = chat !== message || this.#ackWhenHandled ||
        this.#listeners.length === 0;
      const verdict = this.#ledger.receive(chat, this.#name ?? "", opening);
      switch (verdict) {
        case "duplicate":
          if (asked) break;
          // Nobody reads its body.
          return true;
        case "late":
          // History that was asked for is history already.
          if (asked) break;
          incoming.message = { ...message, history: true };
          incoming.late = true;
          break;
        case "show":
          break;
      }
      // A duplicate that was asked for is shown, but it is not the one the
      // ledger waits for: dealt with, it would let the cursor pass the
      // first copy while that is still being opened (or left for the keys).
      if (opening && verdict !== "duplicate") {
        this.#settles.set(incoming, () => {
          this.#ledger.opened(chat, this.#name ?? "");
          this.#scheduleAcks();
        });
      }
    }
    if (this.#listeners.length === 0) {
      this.#backlog.push(incoming);
      return false;
    }
    holds.push(...this.#handOut(incoming));
    return message.t === "file_chunk";
  }

  /**
   * Frees a received frame once every file chunk in it is written, rather
   * than leaving it to the garbage collector (see `releaseBuffer`): a
   * download would otherwise hold tens of MiB of dead frames at its peak.
   */
  #recycleWhenDone(
    batch: DecodedMessage[],
    holds: Promise<unknown>[],
    untracked: boolean,
  ): void {
    if (untracked) return;
    if (holds.length === 0) this.#channel.recycle(batch);
    else Promise.allSettled(holds).then(() => this.#channel.recycle(batch));
  }

  #failPending(reason: string): void {
    this.#endReason = reason;
    for (const [id, resolve] of this.#pending) {
      resolve(notSent(id, reason), new Uint8Array(0));
    }
    this.#pending.clear();
    this.#historyRequests.clear();
    for (const check of [...this.#onReplied]) check();
  }
}

/** A chat message, plain or end to end: what a history request's answer holds. */
function isChat(
  message: ServerMessage,
): message is Extract<
  ServerMessage,
  { t: "public" | "private" | "group" | "e2e_private" | "e2e_group" }
> {
  return message.t === "public" || message.t === "private" ||
    message.t === "group" || message.t === "e2e_private" ||
    message.t === "e2e_group";
}

/** Why the connection ended when nothing more is known. */
export const CONNECTION_LOST = "The connection to the server was lost.";

/**
 * `Ending.brief` when this client closed the connection on what the server
 * sent: the first words of the reason (brokeWebSocketProtocol,
 * brokeProtocol), which is said in full once.
 */
export const CONNECTION_CLOSED = "The connection to the server was closed.";

/** Begins the ending's reason when this client's channel failed (#cutOff). */
const CONNECTION_CLOSED_HERE = "This client closed the connection";

/**
 * How `ending` ended in a few words, for the lines that follow from it (a
 * request left unanswered, a file cut off): `Ending.brief`, or the reason
 * when it is short already (a sentence: "The connection to the server was
 * lost.").
 */
export function briefReason(ending: Ending): string {
  return ending.brief ?? ending.reason;
}

/**
 * briefReason as the end of a sentence ("... stopped: the connection to the
 * server was closed."), as the other reasons after a colon are ("you
 * cancelled it"): asClause.
 */
export function briefClause(ending: Ending): string {
  return asClause(briefReason(ending));
}

/**
 * The words the reasons that reach asClause begin with when they begin a
 * sentence (this client's, the server's error texts, the platform's). A
 * word not listed keeps its capital: it may be a name ("Bob's keys are not
 * valid"), and a capital left is only a capital, a name lower-cased is
 * another spelling of someone.
 */
const SENTENCE_STARTERS = new Set([
  "A",
  "An",
  "Bad",
  "Cannot",
  "Could",
  "Disconnected",
  "Empty",
  "File",
  "Group",
  "Invalid",
  "It",
  "Message",
  "Missing",
  "More",
  "No",
  "Nobody",
  "Not",
  "Nothing",
  "Only",
  "Refused",
  "Server",
  "Still",
  "The",
  "There",
  "This",
  "Too",
  "Transfer",
  "Unexpected",
  "Unknown",
  "User",
  "Username",
  "You",
  "Your",
]);

/**
 * A reason as the end of a sentence, after a colon ("ERROR: Not sent: the
 * connection to the server was closed."): its first letter in lower case
 * when its first word is an ordinary one (SENTENCE_STARTERS), not a name
 * ("Bob's keys ...", and "No's keys ..." for a user called No) nor an
 * acronym, and without an "ERROR: " of its own (a server's error text
 * quoted).
 */
export function asClause(reason: string): string {
  const text = reason.startsWith("ERROR: ")
    ? reason.slice("ERROR: ".length)
    : reason;
  const first = /^[A-Za-z]+('s\b)?/.exec(text);
  return first !== null && first[1] === undefined &&
      SENTENCE_STARTERS.has(first[0])
    ? text[0]!.toLowerCase() + text.slice(1)
    : text;
}

/**
 * Why the connection ended when the transport failed it: the server broke
 * the WebSocket protocol (CloseInfo.violation says what it sent). Nothing
 * authenticates WebSocket framing: anything on the way could have sent it.
 */
export function brokeWebSocketProtocol(violation: string): string {
  return `The connection to the server was closed: the server broke the WebSocket protocol (it sent ${violation}). It may be a different program, or something on the network is tampering with the connection.`;
}

/**
 * Why the connection ended when this client closed it on what came from
 * the server: a frame the encryption refused (forged, altered, replayed,
 * out of order: something on the way, or a bug), or a message in an
 * authenticated frame that breaks the protocol (the server's own doing). A
 * TypeError: a message that failed parseServerMessage's checks. May quote
 * the server: sanitise it.
 */
export function brokeProtocol(error: ChannelError | TypeError): string {
  if (error instanceof ChannelError && error.kind === "frame") {
    return `The connection to the server was closed: the server sent a frame that failed the encryption's checks (${error.detail}). Something on the network may be tampering with the connection, or the server has a bug.`;
  }
  const detail = error instanceof ChannelError ? error.detail : error.message;
  return `The connection to the server was closed: the server broke the protocol (${detail}). The encryption checked out, so the server itself sent it, not something on the network: tell its operator.`;
}

/**
 * Why the connection ended when this client cut it, its inbox full, while
 * reading was held (`holdReading`).
 */
export const DROPPED_WHILE_HELD = `The connection was dropped: more than ${
  DEFAULT_MAX_INBOX_BYTES / 1024 / 1024
} MiB came from the server while this client held off reading it, because what it had already taken was not being read`;

/** The replies made up here for requests the connection ended under. */
const unanswered = new WeakSet<Reply>();

function notSent(id: number, reason: string): Reply {
  const reply: Reply = {
    t: "error",
    re: id,
    code: "internal",
    text: `ERROR: Not sent: ${asClause(reason)}`,
  };
  unanswered.add(reply);
  return reply;
}

/**
 * The answer to a chat line whose send failed here, before any answer (its
 * end-to-end state could not be saved, say): the reason, as the user can
 * act on it. Not a line the server may have: nothing went.
 */
export function sendFailed(error: unknown): Reply {
  const reason = error instanceof Error ? error.message : String(error);
  return {
    t: "error",
    re: null,
    code: "internal",
    text: `ERROR: Not sent: ${asClause(reason)}`,
  };
}

/**
 * True for the reply a request gets when its connection ended before the
 * server answered: the server may or may not have acted on it.
 */
export function wasUnanswered(reply: Reply): boolean {
  return unanswered.has(reply);
}

/**
 * A fresh client id for a chat message: 128 random bits as 32 lowercase hex
 * digits (docs/PROTOCOL.md, "Delivery").
 */
export function newClientId(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toHex();
}

/**
 * Lets the process exit while the timer waits (Deno); a browser has no such
 * notion, and no `Deno`.
 */
function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  const deno = (globalThis as {
    Deno?: { unrefTimer(id: number): void };
  }).Deno;
  deno?.unrefTimer(timer as unknown as number);
}

function withCid(cid: string | undefined): { cid?: string } {
  return cid === undefined ? {} : { cid };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bodies from the network may hold invalid UTF-8: decode leniently. */
export function decodeText(body: Uint8Array): string {
  return decoder.decode(body);
}
