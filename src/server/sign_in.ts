/**
 * A connection signs in: `register` and `prove` through the identity gate
 * (identity_gate.ts), then the registration routed and its welcome sent.
 * The proof needs async crypto, so the run before it is routed first (a
 * transaction must not span it).
 */

import { nameKey } from "../protocol/limits.ts";
import {
  TOO_MANY_NEW_NAMES,
  TOO_MANY_SIGN_INS,
} from "../protocol/sign_in_refusals.ts";
import type { ClientMessage } from "../protocol/messages.ts";
import { messageOf, type SecureChannel } from "../transport/secure_channel.ts";
import { lastingGroup } from "./address_group.ts";
import { dismiss } from "./connection_end.ts";
import type { CoreParts } from "./core_parts.ts";
import { type IdentityGate, unreachableElsewhere } from "./identity_gate.ts";
import { KEY_RELEASED } from "./released_keys.ts";
import { routeRun } from "./run_routing.ts";
import { LOG_WAIT_MS } from "./shared_log.ts";
import type { ConnId } from "./state.ts";
import type { EdgeConnection } from "./ws_edge.ts";

export { TOO_MANY_NEW_NAMES, TOO_MANY_SIGN_INS };

/**
 * Carries out `message` from `id`, not signed in yet. False when the
 * connection was dismissed meanwhile: then read no further.
 */
export async function signIn(
  core: CoreParts,
  conn: EdgeConnection,
  id: ConnId,
  channel: SecureChannel,
  group: string,
  gate: IdentityGate,
  message: Extract<ClientMessage, { t: "register" | "prove" }>,
  body: Uint8Array,
): Promise<boolean> {
  const { state, cluster, delivery, log } = core;
  const channels = core.connections.channels;
  const result = message.t === "register"
    ? await gate.begin(message)
    : await gate.prove(message);
  if (!channels.has(id)) return false;
  if (result.kind === "reply") {
    // Behind any reply of this connection still waiting for the
    // disk, as every reply is.
    core.deliverRun(id, [{ to: [id], message: result.message }]);
    return true;
  }
  // Everything the log held before this sign-in is applied here
  // first: what waits for them may have been sent on another node.
  if (cluster !== undefined) {
    await cluster.log.caughtUp(LOG_WAIT_MS).catch((error) =>
      log(
        `cluster: signing in without the newest of the log: ${
          messageOf(error)
        }`,
      )
    );
    if (!channels.has(id)) return false;
    // A name taken over after a release is cut below only once this node
    // has every message up to the cut: one applied later would still wait
    // for the name, and be handed to the new key.
    if (result.cut !== undefined) {
      const after = result.cut.after;
      const ready = await cluster.log.applied(after, LOG_WAIT_MS)
        .then(() => true, (error) => {
          // The user is told only that the server failed; the operator,
          // what to do when it lasts (an entry past the log's end stays so).
          log(
            `cluster: ${result.register.name} was not signed in: the names bucket binds it from log position ${after}, which this node has not applied: ${
              messageOf(error)
            }. If the message log was reset, release the name again (chat admin release ${result.register.name} --cluster)`,
          );
          return false;
        });
      if (!channels.has(id)) return false;
      if (!ready) {
        core.deliverRun(id, [{
          to: [id],
          message: unreachableElsewhere(message.id).message,
        }]);
        return true;
      }
    }
  }
  // From here to the registration nothing is awaited: what was
  // checked before an await may have changed during it. Another
  // key may have bound the name since the proof (two keys
  // claiming a free name at once), and the old session to take
  // over may have come while the log caught up.
  const taken = gate.recheck(result);
  if (taken !== null) {
    core.deliverRun(id, [{ to: [id], message: taken.message }]);
    return true;
  }
  // Tokens are looked at here and taken only once the registration has
  // passed (below): a register left unproven, or refused by the router (an
  // invalid name), must not spend its neighbours' ones.
  const addressLimitsFree = conn.loopback &&
    !core.limits.limitNewNamesFromLoopback;
  // Every sign-in tells everyone that someone came, and its end that they
  // left: an address signing in and out as fast as it could connect (10 a
  // second) printed 20 lines a second on every screen.
  const now = Date.now();
  const key = nameKey(result.register.name);
  const user = state.store.getUser(key);
  const known = user !== undefined;
  // On-link IPv6 peers are counted by their /64 here (address_group.ts):
  // new names are kept, and every sign-in is a line on everyone's screen.
  const namesGroup = lastingGroup(group);
  // The new-name rate first: its wait is minutes, the sign-ins' seconds,
  // and a new name told "a few seconds" would only be refused again.
  if (
    !addressLimitsFree && !known &&
    !core.addresses.newNames.peek(namesGroup, now)
  ) {
    core.deliverRun(id, [{
      to: [id],
      message: {
        t: "error",
        re: message.id,
        code: "limit",
        text: TOO_MANY_NEW_NAMES,
      },
    }]);
    return true;
  }
  // The same key signing in again (typically a reconnect the server
  // has not noticed the end of yet) takes over the old session (below).
  const stale = result.fingerprint === null
    ? undefined
    : state.sessionByName(result.register.name);
  // A known name, its key proven, coming back (a restart, a dropped
  // Wi-Fi) is one person, not a flood: a class behind one address all
  // comes back at once, past the burst, at every drop (comebacks.ts). Only
  // when the ordinary sign-ins cannot pay, which keeps the comebacks an
  // address may make at once for its drops.
  // From this address, or an on-link IPv6 peer's /64: a new temporary
  // address of it (comebacks.ts).
  const sameLastingGroup = (address: string | null) =>
    address !== null && lastingGroup(address) === namesGroup;
  const signInPays = addressLimitsFree ||
    core.addresses.signIns.peek(namesGroup, now);
  const comeback = !signInPays && known && result.fingerprint !== null &&
    core.addresses.signIns.rate > 0 &&
    core.addresses.comebacks.may(group, key, result.fingerprint, now, {
      // Still signed in from this address: this sign-in ends it.
      ...(stale !== undefined && sameLastingGroup(state.addressOf(stale.id))
        ? {
          live: { fingerprint: stale.fingerprint, since: stale.connectedAt },
        }
        : {}),
      lastSeen: user?.fingerprint === result.fingerprint ? user.lastSeen : null,
    });
  if (!signInPays && !comeback) {
    core.deliverRun(id, [{
      to: [id],
      message: {
        t: "error",
        re: message.id,
        code: "limit",
        text: TOO_MANY_SIGN_INS,
      },
    }]);
    return true;
  }
  const staleChannel = stale && channels.get(stale.id);
  if (stale && staleChannel) {
    // Another key's: the name was released from it (before the watch
    // noticed, released_keys.ts), and it did not sign in anywhere.
    if (
      stale.fingerprint !== null && stale.fingerprint !== result.fingerprint
    ) {
      dismiss(core, stale.id, staleChannel, KEY_RELEASED);
    } else {
      dismiss(
        core,
        stale.id,
        staleChannel,
        "you signed in from another place",
        "replaced",
      );
    }
  }
  // Taken over after a release (a cluster's names bucket says where): what
  // this node holds for the name up to there was the earlier key's. Its
  // groups only where this sign-in made the binding (Store.cutOldKeys):
  // the registration then takes the name out of them in the groups bucket
  // too, and every other node follows that.
  if (result.cut !== undefined) {
    state.store.cutOldKeys(
      nameKey(result.register.name),
      result.cut,
      Date.now(),
      result.cutGroups === true,
    );
  }
  // Another key's session under this name: the name was released while it
  // stayed signed in, so what it was sent or sent since was still the old
  // key's. Cut before the registration hands the new key what waits.
  if (
    stale && stale.fingerprint !== null &&
    stale.fingerprint !== result.fingerprint
  ) {
    state.store.endOldKey(stale.nameKey, Date.now());
  }
  const welcome = routeRun(core, id, [{ message: result.register, body }]).out;
  const name = state.nameOf(id);
  // Signed in: now the tokens looked at above are spent (nothing was
  // awaited since, so they are still there).
  // A new account's address group, kept: a store at its cap weighs the
  // accounts made from one address as one sender (sender_groups.ts), or
  // names made cheaply there each outweighed a friend. Loopback too: one
  // machine is one sender.
  if (name !== null && !known) state.store.noteRegisteredFrom(key, namesGroup);
  if (name !== null && !addressLimitsFree) {
    if (!known) core.addresses.newNames.take(namesGroup, now);
    core.addresses.comebacks.signedIn(group, key, now, comeback);
    if (!comeback) core.addresses.signIns.take(namesGroup, now);
  }
  // What its accounts take together is counted by address, as new names
  // are (loopback aside, unless configured).
  if (name !== null) state.setAddress(id, addressLimitsFree ? null : group);
  if (name !== null && result.register.compact === true) {
    channel.readsCompactChat = true;
    channel.readsChatPositions = result.register.acks !== true
      ? "none"
      : result.register.varint === true
      ? "varint"
      : "fixed";
    // Room frames carry the varint forms, ids and all.
    channel.readsRoomFrames = channel.readsChatPositions ===
        "varint" && result.register.room_frames === true;
  }
  if (name !== null && result.fingerprint !== null) {
    // Written before the welcome is sent, so that it waits for
    // this too (deliverRun): a welcome means the name is bound.
    gate.bindIfFree(name, result.fingerprint);
    // Shown with this user's file offers ("always from sophia").
    state.setFingerprint(id, result.fingerprint);
    log(
      `${name} registered from ${conn.remoteAddress} (${result.fingerprint})`,
    );
  }
  const session = state.session(id);
  if (session !== undefined) cluster?.joined(session);
  core.deliverRun(id, welcome);
  if (channel.readsRoomFrames) delivery.joinRoom(id);
  return true;
}
