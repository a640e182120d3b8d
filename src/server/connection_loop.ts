/**
 * One connection served from its handshake to its end: each frame read is
 * judged by the rate limit, cut into runs (run_budget.ts), routed in units
 * of work (run_routing.ts) and delivered (delivery.ts), in its order.
 */

import { frameAead } from "../crypto/native_aead.ts";
import { parseClientMessage } from "../protocol/parse_client_message.ts";
import type { ClientMessage } from "../protocol/messages.ts";
import { CloseCode } from "../transport/connection.ts";
import {
  acceptChannel,
  ChannelError,
  messageOf,
  type SecureChannel,
} from "../transport/secure_channel.ts";
import { aliveWhile } from "./alive_while.ts";
import { dismiss, endServed, NOT_READING } from "./connection_end.ts";
import type { CoreParts } from "./core_parts.ts";
import { routeSharedE2eKeys } from "./e2e_keys.ts";
import { claimGroupName, needsGroupClaim } from "./group_name_claim.ts";
import { IdentityGate } from "./identity_gate.ts";
import { ackWeight, MessageRate } from "./message_rate.ts";
import { namesInReply, namesWeight } from "./reply_weight.ts";
import type { Outbound } from "./outbound.ts";
import { pacedByOthers } from "./paced_by_others.ts";
import { reaches, recipients } from "./recipients.ts";
import { connect } from "./router.ts";
import { KEY_RELEASED, keyReleased } from "./released_keys.ts";
import { RunBudget } from "./run_budget.ts";
import { failedRun, routeRun, settle } from "./run_routing.ts";
import type { Routed, Step } from "./run_step.ts";
import { describe } from "./served_connections.ts";
import { signIn } from "./sign_in.ts";
import type { FileAnswer } from "./transfers.ts";
import type { EdgeConnection } from "./ws_edge.ts";

/** Serves `conn`, of address group `group`, from its handshake to its end. */
export async function serveConnection(
  core: CoreParts,
  conn: EdgeConnection,
  group: string,
): Promise<void> {
  const {
    limits,
    state,
    connections,
    gauge,
    turns,
    delivery,
    turnBatch,
    shared,
    cluster,
    link,
    bridge,
    refusals,
    log,
  } = core;
  const channels = connections.channels;
  let channel: SecureChannel;
  try {
    channel = await acceptChannel(conn, {
      privateKey: core.privateKey,
      publicSpki: core.publicSpki,
      timeoutMs: limits.handshakeTimeoutMs,
      limitDecrypt: (decrypt) => core.decrypts.run(decrypt),
      queued: gauge,
      smallFrames: frameAead,
    });
    conn.handshakeDone();
  } catch (error) {
    refusals.log(
      `handshake:${group}`,
      `handshake with ${conn.remoteAddress} failed: ${messageOf(error)}`,
    );
    return;
  }
  if (core.stopping) {
    channel.close(CloseCode.goingAway, "server is shutting down");
    return;
  }
  const id = connections.newId();
  channels.set(id, channel);
  connections.groups.set(id, group);
  core.addressBacklogs.add(id, group);
  connect(state, id);
  core.registrationDeadlines.add(id, limits.registerTimeoutMs);
  const gate = new IdentityGate(
    core.identities,
    channel.transcriptHash,
    (name) => state.groupNameLike(name),
  );
  let said: "goodbye" | null = null;
  connections.lastHeard.set(id, Date.now());
  const rate = new MessageRate(
    limits,
    core.addresses.messages,
    group,
    Date.now(),
    core.addresses.history,
  );
  const budget = new RunBudget(limits.maxQueuedBytes);
  // The next frame, asked for and not come yet (while acks are held).
  let incoming: ReturnType<SecureChannel["receive"]> | null = null;
  // A run's wait for the cluster's log ends when the peer closes: the log
  // keeps a line however long NATS is away, and a loop that waited on would
  // never end the connection (the user listed online, the session held,
  // until NATS came back). The line still goes to the log.
  const peerGone = new PeerGone(channel.closed);
  // Every wait for NATS (the log taking a run's messages, the prekeys
  // bucket, a group name's claim) reads nothing more from this connection
  // and sends nothing: the client hears `alive` meanwhile (5.7), or it
  // gives up on a server it has not heard from in 60 s. One helper for all.
  const keptAlive = <T>(wait: Promise<T>): Promise<T> =>
    aliveWhile(wait, () => {
      if (channels.has(id)) {
        core.deliver([{ to: [id], message: { t: "alive" } }]);
      }
    });
  try {
    for (;;) {
      // Held back while recipients' queues are over the bound (the edge
      // has stopped reading the socket too).
      if (gauge.held) await gauge.flowing();
      const turn = turns.check();
      if (turn !== null) await turn;
      incoming ??= channel.receive();
      // Acks held over the rate go with the next ack let through; a client
      // may send none (its last ack was the one held: that of a page of what
      // waited, which holds back the next page and every live message,
      // PROTOCOL 5.3), so they go on their own once the rate allows.
      const heldDue = connections.heldAckCount(id) > 0 &&
        state.session(id) !== undefined &&
        await heldAcksDue(incoming, rate);
      const batch = heldDue ? [] : await incoming;
      if (!heldDue) incoming = null;
      // Null when the peer closed, or when we dismissed it.
      if (batch === null || !channels.has(id)) break;
      if (!heldDue) connections.lastHeard.set(id, Date.now());
      let quit = false;
      // Messages to route, and direct replies kept in their order among them.
      let steps: Step[] = [];
      // Routed once long enough (run_budget.ts); reset by flush.
      budget.reset();
      const frame = batch[0]?.body.buffer;
      const deliverRouted = ({ out, full }: Routed) => {
        if (!full) return core.deliverRun(id, out, frame);
        // Others still get what the routed part sent them.
        core.deliverRun(
          id,
          out.flatMap((one) => {
            if (!reaches(state, one.to, id)) return [one];
            const others = recipients(state, one.to)
              .filter((to) => to !== id);
            return others.length === 0 ? [] : [{ ...one, to: others }];
          }),
          frame,
        );
        dismiss(core, id, channel, NOT_READING);
      };
      // Synchronous on one node: nothing may come between a run's commit
      // and its delivery (another run's messages would overtake this
      // one's), and not even a microtask between two runs of one frame,
      // or Delivery would send each recipient a smaller batch per run (a
      // 4 x 2048 fan-out cost 2-4x the server CPU per delivery with an
      // await here). A cluster node waits for the log (a promise).
      //
      // The frame's last run (`last`) is held to the end of the turn on one
      // node (turnBatch), to be committed with the other connections' runs
      // of the turn: the connection reads on once it is delivered. Earlier
      // runs of a long frame go at once, as the run budget cut them, and
      // so does a file chunk (a bulk frame: a chunk writes nothing, and a
      // transfer would get one chunk per turn).
      const bulkFrame = batch[0]?.outside === true;
      const flush = (last = true): Promise<void> | undefined => {
        if (steps.length === 0) return;
        const run = steps;
        steps = [];
        budget.reset();
        if (turnBatch !== null && last && !bulkFrame) {
          return turnBatch.add({
            live: () => channels.has(id),
            route: () => routeRun(core, id, run),
            failed: () => failedRun(id, run),
            deliver: deliverRouted,
          });
        }
        const routed = routeRun(core, id, run);
        if (shared === null) {
          deliverRouted(routed);
          return;
        }
        // Not after the wait: the log's records are applied meanwhile.
        link!.shareGroupChanges();
        return keptAlive(
          peerGone.orSooner(
            settle(shared, run, routed).then((settled) => {
              // Dismissed while the log took the run's messages.
              if (channels.has(id)) deliverRouted(settled);
            }),
          ),
        );
      };
      if (batch[0]?.outside === true) delivery.bulkBodies.add(batch[0].body);
      for (const { header, body } of batch) {
        if (budget.full) {
          const settling = flush(false);
          if (settling !== undefined) await settling;
          if (gauge.held) await gauge.flowing();
          const turn = turns.check();
          if (turn !== null) await turn;
        }
        // Dismissed by one of this batch's own effects: read no further.
        if (!channels.has(id)) break;
        let message: ClientMessage | null = null;
        let malformed = "";
        try {
          message = parseClientMessage(header);
        } catch (error) {
          malformed = messageOf(error);
        }
        if (message?.t === "bye") {
          quit = true;
          break;
        }
        // A message that could not be parsed is counted too: each costs a
        // parse and a reply, and a frame holds a hundred thousand.
        const verdict = rate.judge(
          message?.t ?? null,
          Date.now(),
          message !== null &&
            pacedByOthers(state, bridge, id, message, body.byteLength),
          message === null
            ? 1
            : message.t === "ack"
            ? ackWeight(message.cursors.length + connections.heldAckCount(id))
            : namesWeight(namesInReply(state, id, message)),
        );
        if (verdict === "pass" && message === null) {
          steps.push({
            reply: {
              t: "error",
              re: requestIdOf(header),
              code: "bad_request",
              text: `ERROR: Bad request: ${malformed}`,
            },
          });
          budget.add(0, 1);
          continue;
        }
        if (verdict !== "pass") {
          if (verdict === "hold" && message?.t === "ack") {
            connections.heldAcksOf(id).hold(message.cursors);
            continue;
          }
          if (verdict === "flood") {
            const settling = flush();
            if (settling !== undefined) await settling;
            dismiss(core, id, channel, "too many messages too fast");
            break;
          }
          refusals.log(
            `flood:${group}`,
            `slowing down ${describe(state, id, channel)}`,
          );
          steps.push({
            reply: {
              t: "error",
              re: requestIdOf(header),
              code: "slow_down",
              text: "ERROR: slow down",
            },
          });
          budget.add(0, 1);
          continue;
        }
        // Only a parsed message passes (the malformed one was answered).
        if (message === null) continue;
        if (
          (message.t === "register" || message.t === "prove") &&
          state.nameOf(id) === null
        ) {
          // The proof needs async crypto: a transaction must not span it.
          const settling = flush();
          if (settling !== undefined) await settling;
          // Dismissed by what the flush queued, or while the proof ran: a
          // registration now would leave a session no one serves.
          if (!channels.has(id)) break;
          const live = await signIn(
            core,
            conn,
            id,
            channel,
            group,
            gate,
            message,
            body,
          );
          if (!live) break;
          continue;
        }
        // A cluster holds prekeys for all its nodes: asking it takes a
        // round trip, which a transaction must not span.
        const session = state.session(id);
        // Keys published by a key whose name was released would be handed
        // out as the next owner's: its session ends here, nothing stored.
        if (
          cluster === undefined && session !== undefined &&
          message.t === "e2e_keys" && keyReleased(state.store, session)
        ) {
          const settling = flush();
          if (settling !== undefined) await settling;
          dismiss(core, id, channel, KEY_RELEASED);
          break;
        }
        if (
          cluster !== undefined && session !== undefined &&
          (message.t === "e2e_keys" || message.t === "e2e_bundle")
        ) {
          // The replies to what came before wait for the log: this one,
          // after a round trip of its own, would often come first.
          const settling = flush();
          if (settling !== undefined) await settling;
          if (!channels.has(id)) break;
          let out: Outbound[];
          try {
            // What one address takes together is counted here too, with
            // what it took on the other nodes (account_budgets.ts).
            out = await keptAlive(routeSharedE2eKeys(
              cluster.prekeys,
              session,
              message,
              body,
              (owner) =>
                state.budgets.takeOneTimeKey(
                  state.addressOf(id),
                  owner,
                  Date.now(),
                ),
            ));
          } catch (error) {
            log(`cluster: prekeys for ${session.name}: ${messageOf(error)}`);
            out = [{
              to: [id],
              message: {
                t: "error",
                re: message.id,
                code: "internal",
                text: "ERROR: The server could not reach its keys; try again",
              },
            }];
          }
          if (!channels.has(id)) break;
          core.deliverRun(id, out);
          continue;
        }
        // A new group's name is claimed across the cluster first: a round
        // trip, which a transaction must not span either.
        if (
          cluster !== undefined && session !== undefined &&
          needsGroupClaim(state, message)
        ) {
          const settling = flush();
          if (settling !== undefined) await settling;
          if (!channels.has(id)) break;
          const claim = await keptAlive(
            claimGroupName(cluster, session, message, log),
          );
          const live = channels.has(id);
          if (claim.kind === "refused") {
            if (live) core.deliverRun(id, claim.out);
          } else {
            let routed: Promise<void> | undefined;
            if (live) {
              steps.push({ message, body });
              // Routed now, synchronously in flush.
              routed = flush();
            }
            // No group came of the claim (a limit, or the connection gone
            // meanwhile): it is dropped, not left to block the name.
            if (claim.added && state.group(message.group) === undefined) {
              cluster.releaseGroupName(message.group).catch((error) =>
                log(
                  `cluster: cannot drop the claim of group name ${message.group}: ${
                    messageOf(error)
                  }`,
                )
              );
            }
            if (routed !== undefined) await routed;
          }
          if (!channels.has(id)) break;
          continue;
        }
        // About a file from another node: that node runs it, once the
        // log has what came before (the bus would overtake it, and the
        // node it goes to waits for the log up to where this one is).
        if (
          link !== null && session !== undefined &&
          bridge.size > 0 && isFileAnswer(message) &&
          bridge.fromLocal(message.xfer, id) !== undefined
        ) {
          const settling = flush();
          if (settling !== undefined) await settling;
          if (!channels.has(id)) break;
          link.answerElsewhere(id, session.name, message);
          continue;
        }
        // What was held goes first, with the first ack let through.
        if (message.t === "ack") steps.push(...connections.takeHeldAcks(id));
        steps.push({ message, body });
        // A public message is queued for everyone online.
        budget.add(
          body.byteLength,
          message.t === "say" ? state.onlineIds().length : 1,
        );
      }
      if (
        heldDue && rate.passHeld(
          Date.now(),
          ackWeight(connections.heldAckCount(id)),
        )
      ) steps.push(...connections.takeHeldAcks(id));
      const settling = flush();
      if (settling !== undefined) await settling;
      // Every body passed on was encoded (copied) for its recipients, or
      // copied to wait for the disk (deliverRun): the frame is dead. Not a
      // bulk frame's: its body waits in the recipients' queues, freed once
      // they have all sealed it (SharedBytes).
      if (batch[0]?.outside === true) {
        delivery.bulkBodies.delete(batch[0].body);
      } else channel.recycle(batch);
      if (quit) {
        said = "goodbye";
        await channel.drain();
        channel.close(CloseCode.normal, "bye");
        break;
      }
    }
  } catch (error) {
    const code = error instanceof ChannelError
      ? error.closeCode
      : CloseCode.protocolError;
    refusals.log(
      `protocol:${group}`,
      `closing ${describe(state, id, channel)}: ${messageOf(error)}`,
    );
    channel.close(code, "protocol error");
  } finally {
    endServed(core, id, conn, channel, group, said);
  }
}

/**
 * Ends a connection loop's waits once its peer has closed: one listener on
 * the channel's end for the connection's life, not one per wait (a reaction
 * per run would pile up on a promise that settles only at the end).
 */
class PeerGone {
  #gone = false;
  readonly #waiting = new Set<() => void>();

  constructor(closed: Promise<unknown>) {
    closed.then(() => {
      this.#gone = true;
      for (const wake of this.#waiting) wake();
    });
  }

  /**
   * Resolves (or rejects) as `work` does, or resolves as soon as the peer
   * has closed; `work` goes on, what it comes to is no one's.
   */
  orSooner(work: Promise<void>): Promise<void> {
    let wake = () => {};
    return new Promise<void>((resolve, reject) => {
      wake = resolve;
      this.#waiting.add(wake);
      if (this.#gone) resolve();
      work.then(resolve, reject);
    }).finally(() => this.#waiting.delete(wake));
  }
}

/**
 * The least wait before held acks are tried on their own: one token's time
 * at the default rate (20 a second).
 */
const HELD_ACKS_RETRY_MS = 50;

/**
 * Whether the rate has a token for a connection's held acks before its next
 * frame comes (`incoming`, which stays its to read). Not sooner than a
 * token's time: the address's shared bucket may still be empty then.
 */
async function heldAcksDue(
  incoming: Promise<unknown>,
  rate: MessageRate,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const due = new Promise<true>((resolve) => {
    timer = setTimeout(
      () => resolve(true),
      Math.max(HELD_ACKS_RETRY_MS, rate.msUntilToken(Date.now())),
    );
  });
  try {
    // A frame that fails is thrown where it is awaited, not here.
    return await Promise.race([incoming.then(() => false, () => false), due]);
  } finally {
    clearTimeout(timer);
  }
}

function requestIdOf(header: unknown): number | null {
  if (typeof header === "object" && header !== null && "id" in header) {
    const id = (header as { id: unknown }).id;
    if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) {
      return id;
    }
  }
  return null;
}

function isFileAnswer(message: { t: string }): message is FileAnswer {
  return message.t === "file_accept" || message.t === "file_decline" ||
    message.t === "file_ack" || message.t === "file_done" ||
    message.t === "file_cancel";
}
