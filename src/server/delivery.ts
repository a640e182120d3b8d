/**
 * Delivery: what the router returned, to this process's connections. An
 * address becomes connections (recipients.ts), a message is encoded once
 * per form whatever the number of recipients, and what confirms a sender's
 * writes waits until they are durable while everyone else gets theirs now.
 *
 * It knows connections only as the channels it writes to; the server
 * decides what happens to a recipient that does not read (`cutOff`,
 * `grew`). A node of several (issue 19) would hand the addresses it cannot
 * resolve alone (users, groups, the room) to a bus here as well.
 */

import {
  type CompactPosition,
  encodeCompactChat,
} from "../protocol/compact_chat.ts";
import { encodeHeader, encodeMessage } from "../protocol/message_framing.ts";
import type { RoomKeyMessage, ServerMessage } from "../protocol/messages.ts";
import {
  messageOf,
  SharedBytes,
  type SharedFrame,
} from "../transport/secure_channel.ts";
import type { Address, Outbound, Recipients } from "./outbound.ts";
import { reaches, recipients } from "./recipients.ts";
import { RoomBatch, type RoomFrames } from "./room_frames.ts";
import type { ConnId } from "./session.ts";
import type { RoomMac } from "../crypto/room_frame.ts";
import type { ServerState } from "./state.ts";

/** What delivery needs of a connection's secure channel. */
export interface DeliveryChannel {
  /** It asked for chat messages in the compact form. */
  readonly readsCompactChat: boolean;
  /**
   * …with their id and seq (it acknowledges what it shows), in fixed-size
   * or varint fields; "none" without.
   */
  readonly readsChatPositions: CompactPosition;
  /** It takes the public room's messages in room frames (room_frames.ts). */
  readonly readsRoomFrames: boolean;
  /** Its MAC on each room frame it is sent (set when it joins the room). */
  roomMac: RoomMac | null;
  /** Bytes queued for it, exactly (costly to read). */
  readonly backlog: number;
  /** Bytes queued for it, at least this many (cheap). */
  readonly backlogEstimate: number;
  sendEncoded(encoded: Uint8Array): void;
  sendBulk(shared: SharedBytes): void;
  sendShared(shared: SharedFrame): void;
}

export interface DeliveryOptions {
  state: ServerState;
  /** Open channels by connection; one not there is gone and gets nothing. */
  channels: ReadonlyMap<ConnId, DeliveryChannel>;
  /** See Store.durable. */
  durable(): Promise<void> | null;
  /** What one connection may have queued before it is cut off. */
  maxBacklogBytes: number;
  /** `id` has more than maxBacklogBytes queued: it must go. */
  cutOff(id: ConnId): void;
  /**
   * Room frames for the channels that read them (docs/PROTOCOL.md 3.8);
   * without, every public message is sealed per recipient.
   */
  room?: RoomFrames;
  /** `id` was sent something and has about `estimate` bytes queued. */
  grew(id: ConnId, estimate: number): void;
  log(line: string): void;
}

/** A point in a connection's queue held until writes are durable. */
interface Gate {
  open: boolean;
}

/** Replies whose header can be large (lists of names): measured, not guessed. */
const LIST_REPLIES = new Set(["users", "groups", "members"]);

/**
 * About the bytes an outbound message costs its recipient's queue: its body,
 * and a header that is small unless it lists names.
 */
export function roughSize({ message, body }: Outbound): number {
  return (body?.byteLength ?? 0) +
    (LIST_REPLIES.has(message.t) ? JSON.stringify(message).length : 64);
}

function isRoom(to: Recipients): boolean {
  return !Array.isArray(to) && (to as Address).kind === "room";
}

function isChat({ message }: Outbound): boolean {
  return message.t === "public" || message.t === "private" ||
    message.t === "group" || message.t === "e2e_private" ||
    message.t === "e2e_group";
}

/**
 * A live message that waits for its recipients' acknowledgements (private
 * or group, end to end or not, with its position): not history.
 */
function isLiveAcknowledged(message: ServerMessage): boolean {
  return (message.t === "private" || message.t === "group" ||
    message.t === "e2e_private" || message.t === "e2e_group") &&
    message.history !== true && message.id !== undefined;
}

export class Delivery {
  readonly #state: ServerState;
  readonly #channels: ReadonlyMap<ConnId, DeliveryChannel>;
  readonly #options: DeliveryOptions;
  readonly #maxBacklogBytes: number;

  /** Bytes of replies waiting for the disk, per connection (deliverRun). */
  readonly #heldBytes = new Map<ConnId, number>();

  /**
   * Connections with chat messages waiting for the disk (deliverRun), and
   * what comes for them meanwhile, in order: a gate is passed once its
   * writes are durable. Whatever else is sent to such a connection queues
   * behind, so that it gets its chat messages in the order they were routed
   * (the missed ones after a welcome before the next live one).
   */
  readonly #waiting = new Map<
    ConnId,
    (Uint8Array | SharedBytes | RoomBatch | Gate)[]
  >();

  readonly #room: RoomFrames | null;
  /**
   * The connections that get room frames, each from the first batch
   * started after it joined (see joinRoom), and their MAC keys.
   */
  readonly #members = new Map<ConnId, Uint8Array>();

  /**
   * Bodies that came in bulk frames and are being routed: passed on as they
   * are, where a body inside a batch is copied (the batch is freed once
   * routed). The server adds a bulk frame's body before routing it and
   * deletes it after.
   */
  readonly bulkBodies = new WeakSet<Uint8Array>();

  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.#state = options.state;
    this.#channels = options.channels;
    this.#maxBacklogBytes = options.maxBacklogBytes;
    this.#room = options.room ?? null;
  }

  /**
   * `id`, whose channel reads room frames, gets the public room's messages
   * in them from now on: first the room key and its own MAC key (straight
   * to its channel, ahead of anything waiting for the disk, so that they
   * come before any room frame), then every batch started from now on. The
   * open batch is closed: it is not queued for `id`, so nothing more may
   * join it.
   */
  joinRoom(id: ConnId): void {
    const channel = this.#channels.get(id);
    if (this.#room === null || channel === undefined) return;
    const member = this.#room.memberKey();
    const key = this.#encodeJson(this.#room.keyMessage(member.key));
    if (key === null) return;
    this.#room.close();
    channel.roomMac = member.mac;
    channel.sendEncoded(key);
    this.#members.set(id, member.key);
  }

  /** Bytes queued for `id`: in its channel, and waiting for the disk. */
  queuedFor(id: ConnId): number {
    return (this.#channels.get(id)?.backlog ?? 0) +
      (this.#heldBytes.get(id) ?? 0);
  }

  /** Drops what waits for a connection that is gone. */
  forget(id: ConnId): void {
    this.#members.delete(id);
    const queue = this.#waiting.get(id);
    if (queue === undefined) return;
    this.#waiting.delete(id);
    for (const item of queue) if (item instanceof RoomBatch) item.drop();
  }

  /**
   * Sends `outbound`, behind what waits for the disk for each recipient;
   * `direct` skips that queue (for replies routed before anything in it).
   */
  deliver(outbound: readonly Outbound[], direct = false): void {
    const channels = this.#channels;
    const waiting = this.#waiting;
    for (const { to: address, message, body } of outbound) {
      const to = recipients(this.#state, address);
      if (to.length === 0) continue;
      // File data yields to chat, and is freed as soon as every recipient's
      // channel has sealed it (a recipient that is gone never drops its hold,
      // which only leaves the bytes to the garbage collector). A chunk goes
      // on in a bulk frame: its header sealed per recipient, its body (sealed
      // by the sender with the file key) as it came.
      if (message.t === "file_chunk" && body !== undefined) {
        const header = this.#encodedOrNull(
          message,
          "",
          () => encodeHeader(message),
        );
        if (header === null) continue;
        // A body that came inside a batch is freed with it (recycle).
        const payload = this.bulkBodies.has(body) ? body : body.slice();
        const shared = new SharedBytes(header, to.length, payload);
        for (const id of to) {
          const channel = channels.get(id);
          if (channel === undefined) continue;
          const queue = !direct && waiting.size > 0
            ? waiting.get(id)
            : undefined;
          if (queue !== undefined) queue.push(shared);
          else channel.sendBulk(shared);
          this.#checkBacklog(id, channel);
        }
        continue;
      }
      // Encoded once per form, whatever the number of recipients, each when
      // first needed: compact for a live chat message to those who asked for
      // it (with its id and seq, in the form they read, to those that
      // acknowledge), JSON for the rest (in a busy room, often never). Every
      // client of today reads the varint form: making the plain compact form
      // first for each message too cost as much again (issue 21).
      const chat = message.t === "public" || message.t === "private" ||
        message.t === "group";
      // Undefined until asked for; null where the message has no such form.
      let compact: Uint8Array | null | undefined = chat ? undefined : null;
      let positioned: Uint8Array | null | undefined;
      let varints: Uint8Array | null | undefined;
      let json: Uint8Array | null | undefined;
      if (!chat) {
        json = this.#encodeJson(message, body);
        if (json === null) continue;
      }
      // The end of a file yields to chat as its chunks do (above).
      const shared = json != null && message.t === "file_end"
        ? new SharedBytes(json, to.length)
        : null;
      const queued = !direct && waiting.size > 0;
      // A public message to the room goes to the members in a room frame,
      // sealed once (the sender's too: it keeps their counters whole); the
      // others get it sealed for each as before.
      let inRoom = false;
      if (
        this.#members.size > 0 && message.t === "public" && isRoom(address)
      ) {
        varints = this.#encodeCompact(message, body, "varint");
        if (varints !== null) {
          this.#toRoom(varints);
          inRoom = true;
        }
      }
      // Held back from a connection still being sent the pages of what
      // waited at its sign-in (Session.ackCeiling): shown now, it would let
      // the client acknowledge its conversation past older messages of the
      // next page before that page reached it, in an ack the server takes
      // once the page is on its way (docs/PROTOCOL.md 5.9). It waits for the
      // client as those do (a client that acknowledges has it wait until it
      // does), and comes in a later page.
      const heldFromPaging = isLiveAcknowledged(message);
      for (const id of to) {
        const channel = channels.get(id);
        if (channel === undefined) continue;
        if (heldFromPaging && this.#state.session(id)?.ackCeiling != null) {
          continue;
        }
        if (channel.readsRoomFrames) {
          if (inRoom) continue;
          // Anything else for a member: no later message may join the open
          // batch, which this one would then overtake.
          this.#room?.close();
        }
        let bytes: Uint8Array | null = null;
        if (compact !== null && channel.readsCompactChat) {
          const position = channel.readsChatPositions;
          if (position === "varint") {
            if (varints === undefined) {
              varints = this.#encodeCompact(message, body, "varint");
            }
            bytes = varints;
          } else if (position === "fixed") {
            if (positioned === undefined) {
              positioned = this.#encodeCompact(message, body, "fixed");
            }
            bytes = positioned;
          }
          // Without a position, or one the message cannot carry compactly.
          if (bytes === null) {
            if (compact === undefined) {
              compact = this.#encodeCompact(message, body);
            }
            bytes = compact;
          }
        }
        if (bytes === null) {
          if (json === undefined) json = this.#encodeJson(message, body);
          bytes = json;
        }
        if (bytes === null) continue;
        const queue = queued ? waiting.get(id) : undefined;
        if (queue !== undefined) queue.push(bytes);
        else if (shared !== null) channel.sendBulk(shared);
        else channel.sendEncoded(bytes);
        this.#checkBacklog(id, channel);
      }
    }
  }

  /**
   * Adds an encoded public message to the open room batch, or to a new one
   * queued on every member's channel (behind what waits for the disk there,
   * as any message), with the new room key first when the last ran out.
   */
  #toRoom(encoded: Uint8Array): void {
    const room = this.#room!;
    const open = room.openBatch(encoded.byteLength);
    if (open !== null) {
      open.add(encoded);
      return;
    }
    const started = room.start();
    const batch = started.batch;
    // In it before it is queued: cutting off a member below sends that
    // member a goodbye, which closes the batch.
    batch.add(encoded);
    batch.hold();
    const waiting = this.#waiting;
    for (const [id, macKey] of this.#members) {
      const channel = this.#channels.get(id);
      if (channel === undefined) continue;
      // Each member's own: it carries the member's MAC key (rare: once
      // per ROOM_FRAMES_PER_KEY batches).
      const rekey = started.rekeyed
        ? this.#encodeJson(room.keyMessage(macKey))
        : null;
      batch.hold();
      const queue = waiting.size > 0 ? waiting.get(id) : undefined;
      if (queue !== undefined) {
        if (rekey !== null) queue.push(rekey);
        queue.push(batch);
      } else {
        if (rekey !== null) channel.sendEncoded(rekey);
        channel.sendShared(batch);
      }
      this.#checkBacklog(id, channel);
    }
    // Our own hold kept it from being freed while it was queued.
    batch.drop();
  }

  /** A client that does not read must not grow our memory without bound. */
  #checkBacklog(id: ConnId, channel: DeliveryChannel): void {
    const estimate = channel.backlogEstimate;
    if (
      estimate > this.#maxBacklogBytes &&
      channel.backlog > this.#maxBacklogBytes
    ) {
      this.#options.cutOff(id);
    } else {
      this.#options.grew(id, estimate);
    }
  }

  /**
   * Sends what a run from `id` produced. What goes back to `id` (the replies
   * that confirm its writes) waits until those writes are on disk (see
   * Store.durable); everyone else gets theirs now, so no one waits for the
   * disk but the sender. `frame` is the buffer the run's bodies may be
   * views of, freed once the run is routed: those held are copied.
   */
  deliverRun(id: ConnId, outbound: Outbound[], frame?: ArrayBufferLike): void {
    const durable = this.#options.durable();
    if (durable === null) return this.deliver(outbound);
    const state = this.#state;
    const now: Outbound[] = [];
    const held: Outbound[] = [];
    for (const out of outbound) {
      if (!reaches(state, out.to, id)) {
        now.push(out);
        continue;
      }
      const to = recipients(state, out.to);
      if (to.length > 1) {
        now.push({ ...out, to: to.filter((one) => one !== id) });
      }
      // A body that is a view of the received frame, which is freed once
      // the batch is routed (recycle), is copied to wait; one from the store
      // (history) is not.
      held.push({
        ...out,
        to: [id],
        ...(out.body?.buffer === frame && out.body !== undefined
          ? { body: out.body.slice() }
          : {}),
      });
    }
    this.deliver(now);
    if (held.length === 0) return;
    // Counted toward the sender's backlog until the disk lets them go
    // (the server stops routing a run that would take it past the limit).
    const heldBytes = this.#heldBytes;
    const bytes = held.reduce((n, out) => n + roughSize(out), 0);
    heldBytes.set(id, (heldBytes.get(id) ?? 0) + bytes);
    const release = () => {
      const left = (heldBytes.get(id) ?? bytes) - bytes;
      if (left > 0) heldBytes.set(id, left);
      else heldBytes.delete(id);
    };
    const queue = this.#waiting.get(id);
    if (queue === undefined && !held.some(isChat)) {
      // Replies only (the usual `ok` to a `say`): nothing newer for `id`
      // need wait for them, and nothing older waits (no queue), so they go
      // straight out once synced, past any queue made meanwhile.
      durable.then(() => {
        release();
        this.deliver(held, true);
      });
      return;
    }
    // Chat messages (the missed ones after a welcome, a history): what
    // comes for `id` from now on queues behind them, behind a gate.
    const gate: Gate = { open: false };
    if (queue === undefined) this.#waiting.set(id, [gate]);
    else queue.push(gate);
    this.deliver(held);
    durable.then(() => {
      release();
      this.#passGate(id, gate);
    });
  }

  #passGate(id: ConnId, gate: Gate): void {
    gate.open = true;
    const queue = this.#waiting.get(id);
    if (queue === undefined) return;
    const channel = this.#channels.get(id);
    let sent = 0;
    for (; sent < queue.length; sent++) {
      const item = queue[sent]!;
      if (item instanceof Uint8Array) channel?.sendEncoded(item);
      else if (item instanceof SharedBytes) channel?.sendBulk(item);
      else if (item instanceof RoomBatch) {
        if (channel === undefined) item.drop();
        else channel.sendShared(item);
      } else if (!item.open) break;
    }
    queue.splice(0, sent);
    if (queue.length === 0) this.#waiting.delete(id);
  }

  /**
   * `encode`'s result, or null (logged) if it throws: a bug, not the
   * recipients' fault, so their connections stay (and a failed compact form
   * falls back to JSON).
   */
  #encodedOrNull(
    message: ServerMessage | RoomKeyMessage,
    form: string,
    encode: () => Uint8Array | null,
  ): Uint8Array | null {
    try {
      return encode();
    } catch (error) {
      this.#options.log(
        `could not encode a '${message.t}' message${form}: ${messageOf(error)}`,
      );
      return null;
    }
  }

  #encodeCompact(
    message: ServerMessage,
    body?: Uint8Array,
    position: CompactPosition = "none",
  ): Uint8Array | null {
    return this.#encodedOrNull(
      message,
      " compactly",
      () => encodeCompactChat(message, body, position),
    );
  }

  #encodeJson(
    message: ServerMessage | RoomKeyMessage,
    body?: Uint8Array,
  ): Uint8Array | null {
    return this.#encodedOrNull(message, "", () => encodeMessage(message, body));
  }
}
