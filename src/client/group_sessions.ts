// This module is browser compatible.

/**
 * Group messages end to end, as a client sends and opens them (issue 17 item
 * 3; docs/PROTOCOL.md 11.11): a sending chain of our own per group
 * (crypto/sender_key.ts), its state sent to each other member as a secret
 * over the 1:1 end-to-end channel (e2e_sessions.ts `sendSecret`), and the
 * chains other members sent us, to open theirs.
 *
 * Before each message the members are asked for: one who is no longer a
 * member, or whose identity key is no longer the one our chain was sealed
 * for (a new key, accepted with `/trust`), makes a new chain (rotation: they
 * were never given it, so they cannot read what follows, even with the
 * server's help); one who has not been given our chain, under the key we
 * know them by now, gets it at its current iteration (a new member cannot
 * read what came before). A member without end-to-end keys makes the message
 * go as plain `gsay`, and the user is told the host can read it, as for
 * `/msg`.
 *
 * No Deno API: the state comes in as a value with a save callback.
 */

import {
  added,
  cameLateLine,
  openedWithKept,
  type UnarrivedMessages,
} from "./unarrived.ts";
import { equalBytes, fromBase64, toBase64, toHex } from "../crypto/bytes.ts";
import {
  chainIdOf,
  decodeSenderKey,
  encodeSenderKey,
  iterationOf,
  newSenderChain,
  openGroupMessage,
  type OwnChain,
  type ReceivedChain,
  sealGroupMessage,
} from "../crypto/sender_key.ts";
import { isValidName, nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { type ChatClient, newClientId, type Reply } from "./chat_client.ts";
import { SealedRetries } from "./sealed_retries.ts";
import { withPatience } from "./with_patience.ts";
import {
  answerWithin,
  notAnswered,
  pendingOf,
  SEND_WAIT_MS,
  stillPending,
} from "./answer_within.ts";
import { envelopeDigest } from "./envelope_digest.ts";
import {
  type E2eLine,
  errorLine,
  noticeLine,
  warningLine,
} from "./e2e_lines.ts";
import { keepAtMost } from "./kept_keys.ts";
import {
  keylessLeftOutLine,
  KeylessTold,
  sendsInTheClear,
} from "./keyless_members.ts";
import {
  type GroupsBySkeleton,
  groupsBySkeleton,
  lookalikeGroupIn,
  LookalikeGroupWarnings,
} from "./lookalike_groups.ts";
import {
  MAX_NEW_NAMED,
  membersOf,
  namesList,
  otherGroupText,
} from "./members_reply.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** A sender key's secret is labelled this, then the group's name key. */
export const SENDER_KEY_LABEL_PREFIX = "sender key ";

/** The plaintext's content type for a text (11.11). */
export const GROUP_TEXT = 1;

// ---- End of protocol constants. ----

/** How long a group message waits for its chain's sender key to arrive. */
export const GROUP_KEY_WAIT_MS = 10_000;

/** Chains kept per sender and group (newest first), for late messages. */
const MAX_CHAINS_PER_SENDER = 4;

/**
 * Messages kept waiting for their sender keys, at most, all senders and
 * groups together. Past it, the sender with the most waiting gives way
 * (`#makeRoom`): a member's flood on chains nobody was given must not get
 * another member's message refused; nor must 200 members with one each,
 * made up by the host, get the message of someone whose key is known
 * refused (one of theirs gives way then).
 */
export const MAX_GROUP_WAITING = 200;

/** Why a message that waited for its sender key is not shown. */
const KEY_NEVER_CAME =
  "its sender key never came (it was sent before you could read the group, or the server withheld the key)";

/** Opened group messages kept for `/history`, the oldest dropped first. */
export const MAX_GROUP_ARCHIVED = 5000;

/**
 * Characters of archived group text kept at most, the oldest dropped first:
 * with the private archive's (MAX_ARCHIVED_CHARS), a peer sending the
 * longest texts of characters JSON escapes six-fold must not grow the state
 * file past what is read back (e2e_state_file.ts), which would leave the
 * next start without its keys.
 */
export const MAX_GROUP_ARCHIVED_CHARS = 2_000_000;

/** An `e2e_group` notice. */
export type E2eGroup = Extract<ServerMessage, { t: "e2e_group" }>;

/** The group message inside an opened `e2e_group`. */
export type GroupMessage = Extract<ServerMessage, { t: "group" }>;

/** A group message this client sent or opened. */
export interface ArchivedGroupMessage {
  server: string;
  id: number;
  group: string;
  from: string;
  ts: number;
  text: string;
  /**
   * SHA-256 of the sealed message (envelopeDigest): the id is the server's
   * word, so the archive answers only for the same bytes. Absent in states
   * saved before it was kept.
   */
  digest?: string;
}

/** A member our chain was given to, and the identity key it was sealed for. */
export interface GivenTo {
  /** Their name key. */
  name: string;
  /**
   * The fingerprint of their identity key it was sealed for; null in states
   * saved before it was kept (who knows which key took it).
   */
  key: string | null;
}

/** What a client keeps of its groups end to end. */
export interface GroupState {
  /** Our chain per `server group-key`, and who has been given it. */
  own: Map<string, { chain: OwnChain; sentTo: GivenTo[] }>;
  /** Chains received per `server group-key sender-key`, newest first. */
  received: Map<string, ReceivedChain[]>;
  /** By `server id`, oldest first. */
  archive: Map<string, ArchivedGroupMessage>;
}

export function emptyGroupState(): GroupState {
  return { own: new Map(), received: new Map(), archive: new Map() };
}

/** What became of an `e2e_group`. */
export type GroupOpened =
  /** `warnings`: lines said after it (it came late: unarrived.ts). */
  | {
    kind: "message";
    message: GroupMessage;
    text: string;
    warnings?: string[];
  }
  /** Not shown: these lines say why (errors start with "ERROR: "). */
  | { kind: "refused"; lines: string[] }
  /**
   * Its sender key has not come yet: `late` gets the outcome, and `settled`
   * resolves once it has (so that the message is acknowledged only then).
   */
  | { kind: "waiting"; settled: Promise<void> };

export interface GroupSessionsOptions {
  state: GroupState;
  /**
   * Told of the messages a chain skipped and of those that came after all
   * (unarrived.ts). Absent: nobody is.
   */
  unarrived?: UnarrivedMessages;
  save: () => Promise<void>;
  /** e2e_sessions.ts `sendSecret`, bound to its E2eSessions. */
  sendSecret: (
    client: ChatClient,
    to: string,
    label: string,
    secret: Uint8Array,
    cid: string,
  ) => Promise<Reply>;
  /**
   * The fingerprint of the identity key remembered (and accepted) for `name`
   * on `server`, or null if they are not known to use end-to-end keys
   * (E2eSessions' IdentityBook `known`).
   */
  knownKey: (server: string, name: string) => string | null;
  /** Lines to show at once. */
  notify: (lines: E2eLine[]) => void;
  /**
   * Whether the user /ignored `name`: their group messages that do not open
   * and their sender keys that are not kept are refused with nothing said,
   * as their private ones are (E2eSessionsOptions `ignored`). Absent:
   * nobody is.
   */
  ignored?: (name: string) => boolean;
  /**
   * A message that waited for its sender key, opened or given up on. A
   * promise it returns settles once it is shown (its line written, in its
   * turn): only then does the "waiting" outcome's `settled` resolve, and so
   * the message may be acknowledged.
   */
  late: (opened: GroupOpened, from: string) => unknown;
  /** How long a message waits for its sender key (GROUP_KEY_WAIT_MS). */
  waitMs?: number;
  /**
   * Keeps a message that waits for its sender key until the user decides on
   * its sender's new identity key, if one waits for `/trust` (e2e_sessions.ts
   * `holdGroup`): the key came from that new key, and is held with it, so
   * the message is opened once the key is accepted, not refused when the
   * wait is up. The lines to show (it waits, or was dropped past the
   * limits); null, with nothing kept, when no change of theirs waits.
   * Without it such a message is refused as any other whose key never came.
   */
  holdUntilTrusted?: (
    client: ChatClient,
    message: E2eGroup,
    body: Uint8Array,
  ) => Promise<string[] | null>;
  /**
   * Settles once the end-to-end messages received so far are dealt with
   * (opened, and their keys delivered): read when a group message arrives,
   * its wait for its sender key starts then. Without it the wait starts at
   * once.
   */
  before?: (from: string) => Promise<unknown>;
}

/** How a message is shown, for those of its sender after it (`open`). */
interface Tail {
  /** Through `late`, not as the outcome `open` gives. */
  late: boolean;
  /** Resolves once `late` has been given it. */
  done: Promise<void>;
}

interface Waiting {
  client: ChatClient;
  message: E2eGroup;
  body: Uint8Array;
  /** Set once the wait starts (`before`). */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves `settled` of its "waiting" outcome. */
  done: () => void;
}

export class GroupSessions {
  readonly #o: GroupSessionsOptions;
  #queue: Promise<unknown> = Promise.resolve();
  /** Sealed messages by cid: a retry sends the same bytes. */
  readonly #sealed = new SealedRetries<Sealed>();
  readonly #waiting: Waiting[] = [];
  /** The last `groups` asked for to judge sender keys (#notInGroup). */
  #groupsAsked: GroupsAsked | null = null;
  /**
   * Per sender and group (receivedKey), how the last message that came is
   * shown: late, or at once (`open`).
   */
  readonly #lateTails = new Map<string, Promise<Tail>>();
  /** When the last request to judge a sender key went (#spaced). */
  #lastAsked: { client: ChatClient; at: number } | null = null;
  /**
   * Members this client saw leave a group (a `membership` notice) and saw
   * no join of since, by `server group-key member-key`, oldest first, to
   * the member's name as the notice spelled it: a `members` reply that
   * still lists one disagrees with what this client saw (#leftButListed).
   */
  readonly #seenLeaving = new Map<string, string>();
  /**
   * The groups of the state by skeleton (lookalikeGroupOf), built when
   * first asked and again once a chain of a group not held before is kept
   * (a group forgotten since stays in it until then: it was known).
   */
  #bySkeleton: GroupsBySkeleton | null = null;
  /** The look-alike group names warned of this session (lookalikeWarning). */
  readonly #lookalikes = new LookalikeGroupWarnings();
  /** The keyless members said left out of a group this session. */
  readonly #keylessTold = new KeylessTold();

  constructor(options: GroupSessionsOptions) {
    this.#o = options;
  }

  /**
   * Takes a `membership` notice the server sent on `client` (5.5): who left
   * a group, and was not seen joining it again since, is checked against
   * the next member list of that group this client sends by. Kept in
   * memory only, at most {@link MAX_LEAVES_SEEN}, the oldest forgotten
   * first: the server sends notices of any group and name it likes.
   */
  membership(
    client: ChatClient,
    notice: { group: string; name: string; joined: boolean },
  ): void {
    const key = `${client.serverFingerprint} ${nameKey(notice.group)} ${
      nameKey(notice.name)
    }`;
    this.#seenLeaving.delete(key);
    if (notice.joined || !isValidName(notice.name)) return;
    this.#seenLeaving.set(key, notice.name);
    for (const oldest of this.#seenLeaving.keys()) {
      if (this.#seenLeaving.size <= MAX_LEAVES_SEEN) break;
      this.#seenLeaving.delete(oldest);
    }
  }

  /**
   * The warnings for the members of `group` that the server's list
   * (`listed`, complete when `whole`) still names though this client saw
   * them leave it and no join since: the rotation when a member leaves
   * (#send) follows the list, so a host that keeps a departed member listed
   * keeps them reading, and it must not be silent. Each is said once: the
   * list is the client's word from then on, and so is one that agrees.
   */
  #leftButListed(
    server: string,
    group: string,
    listed: readonly string[],
    whole: boolean,
  ): string[] {
    const prefix = `${server} ${nameKey(group)} `;
    const named = new Set(listed.map(nameKey));
    const warnings: string[] = [];
    for (const [key, name] of [...this.#seenLeaving]) {
      if (!key.startsWith(prefix)) continue;
      const member = key.slice(prefix.length);
      if (named.has(member)) {
        warnings.push(
          `WARNING: The server lists ${name} as a member of ${group}, though this client saw ${name} leave it and has seen no join since: ${name} can read your messages there. If ${name} did not join again (while you were away), the host is keeping them in`,
        );
        this.#seenLeaving.delete(key);
      } else if (whole) this.#seenLeaving.delete(key);
    }
    return warnings;
  }

  /**
   * A group this client holds a chain of on `server` (its own, or a
   * member's) whose name reads like `group` but is another (its name key),
   * or null (lookalike_groups.ts): the host alone says which groups there
   * are, and may make up one to pass for a group the user knows.
   */
  lookalikeGroupOf(server: string, group: string): string | null {
    this.#bySkeleton ??= groupsBySkeleton([
      ...this.#o.state.own.keys(),
      ...this.#o.state.received.keys(),
    ]);
    return lookalikeGroupIn(this.#bySkeleton, server, group);
  }

  /**
   * The warning to say before a line of `group` on `server`, received or
   * sent, when its name reads like another group this client holds a chain
   * of (lookalikeGroupOf), or null: none does, or this pair was warned of
   * in this session already.
   */
  lookalikeWarning(server: string, group: string): string | null {
    return this.#lookalikes.before(
      group,
      (name) => this.lookalikeGroupOf(server, name),
    );
  }

  /**
   * The members (name keys) our chain for `group` on `server` is given to,
   * each named to the user when it was (givenToLine); null when we have no
   * chain there.
   */
  chainGivenTo(server: string, group: string): ReadonlySet<string> | null {
    const own = this.#o.state.own.get(`${server} ${nameKey(group)}`);
    return own === undefined ? null : new Set(own.sentTo.map((m) => m.name));
  }

  #alone<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Sends `text` to `group` end to end, or as a plain `gsay` when a member
   * has published no end-to-end keys (the user is told the host can read it).
   */
  send(
    client: ChatClient,
    group: string,
    text: string,
    cid: string,
  ): Promise<Reply> {
    return this.#alone(async () => {
      for (let tries = 1;; tries++) {
        const reply = await this.#send(client, group, text, cid, tries > 1);
        // Someone joined or left between the members listed and the
        // message: asked again, the chain given to whoever joined (the
        // refused one was never stored).
        if (
          reply.t !== "error" || reply.code !== "members_changed" ||
          tries >= MEMBERS_CHANGED_TRIES
        ) return reply;
      }
    });
  }

  async #send(
    client: ChatClient,
    group: string,
    text: string,
    cid: string,
    membersChanged = false,
  ): Promise<Reply> {
    const server = client.serverFingerprint;
    const self = nameKey(client.name ?? "");
    const line = JSON.stringify([nameKey(group), text]);
    const conflict = this.#sealed.refusal(cid, line);
    if (conflict !== null) return conflict;
    let sealed = this.#sealed.get(cid);
    // Refused as the members changed: kept (sealed_retries.ts), and sent
    // again as these bytes if our chain goes on (only joined), given to
    // those who joined as it was before it; sealed anew, it took the next
    // key, and the others saw this one's skipped, a message said not to
    // have arrived (unarrived.ts) though nothing was held back.
    const refused = membersChanged ? sealed : undefined;
    if (sealed === undefined || refused !== undefined) {
      const reply = await answerWithin(
        client.request({ t: "members", group }),
        MEMBERS_WAIT_MS,
      );
      if (reply === null) {
        return notAnswered(
          `ERROR: Not sent: the server did not list the members of ${group} within ${
            MEMBERS_WAIT_MS / 1000
          } seconds`,
        );
      }
      if (reply.t !== "members") return reply;
      const listed = membersOf(reply, group);
      if ("none" in listed) return reply;
      if ("other" in listed) {
        return {
          t: "error",
          re: null,
          code: "internal",
          text: `ERROR: Not sent: ${otherGroupText(listed.other, group)}`,
        };
      }
      const { entry } = listed;
      // Not in the group, by the server's whole list: it would refuse the
      // message, so no chain goes to the members first (and it is not
      // counted as the sender's last message, as those secrets were).
      if (
        entry.more === undefined &&
        !entry.members.some((m) => nameKey(m) === self)
      ) {
        // Our chain there is of no use: a new one is made if we join again.
        if (this.#o.state.own.delete(`${server} ${nameKey(entry.group)}`)) {
          await this.#o.save();
        }
        return {
          t: "error",
          re: null,
          code: "not_member",
          text:
            `ERROR: You are not a member of group '${entry.group}'. Join it with /join ${entry.group}`,
        };
      }
      const members = entry.members.filter((m) => nameKey(m) !== self);
      const keys = new Set(members.map(nameKey));
      const where = `${server} ${nameKey(entry.group)}`;
      // Said before the message goes, whatever becomes of it.
      const departed = this.#leftButListed(
        server,
        entry.group,
        members,
        entry.more === undefined,
      );
      if (departed.length > 0) this.#o.notify(departed.map(warningLine));
      // Before the first line to a group named like one known: the host may
      // have made it up for the user to take it for the other.
      const lookalike = this.lookalikeWarning(server, entry.group);
      if (lookalike !== null) this.#o.notify([warningLine(lookalike)]);
      let own = this.#o.state.own.get(where);
      // Who had our chain before this message (before any rotation): the
      // others given it now are said by name, as the server alone says who
      // is a member, and a host that adds one of its own (without the
      // membership notice that would show the join) reads what follows.
      const hadIt = new Set((own?.sentTo ?? []).map((m) => m.name));
      // Someone left since our chain was given out, or now has another
      // identity key than the one it was sealed for: a new chain, which the
      // one who left, or the old key, never gets. (A new key is given it
      // only once accepted: until then `knownKey` is the old one.)
      if (
        own === undefined ||
        own.sentTo.some((m) =>
          !keys.has(m.name) || this.#o.knownKey(server, m.name) !== m.key
        )
      ) {
        own = { chain: await newSenderChain(), sentTo: [] };
      }
      if (!this.#o.state.own.has(where)) this.#bySkeleton = null;
      keepOwnChain(this.#o.state.own, where, own);
      const keyless: string[] = [];
      const warnings: string[] = [];
      const newlyGiven: string[] = [];
      for (const member of members) {
        if (own.sentTo.some((m) => m.name === nameKey(member))) continue;
        // Refused with slow_down (a secret per member, all at once), sent
        // again after the server's pause as the envelope already sealed
        // (sealed_retries.ts): left for the next message, it was sealed
        // anew, the refused one's key skipped in their chain with us (said
        // to them as a message not arrived, unarrived.ts), and this
        // message, sent again as sealed, came before they had our chain.
        const secretCid = newClientId();
        const given = await withPatience(() =>
          this.#o.sendSecret(
            client,
            member,
            SENDER_KEY_LABEL_PREFIX + nameKey(entry.group),
            encodeSenderKey(
              refused !== undefined &&
                equalBytes(refused.before.chainId, own.chain.chainId)
                ? refused.before
                : own.chain,
            ),
            secretCid,
          )
        );
        if (given.t === "ok") {
          // Sealed for the key remembered for them, which a sent secret
          // has just been checked against.
          own.sentTo.push({
            name: nameKey(member),
            key: this.#o.knownKey(server, member),
          });
          if (!hadIt.has(nameKey(member))) newlyGiven.push(member);
        } else if (pendingOf(given) !== undefined) {
          // Sealed for them and handed to the server, which has not said
          // whether it went: they may read what follows (a host that holds
          // a member's keys need only not answer), so they are named. Not
          // counted as given: the next message sends it again.
          if (!hadIt.has(nameKey(member))) newlyGiven.push(member);
          warnings.push(
            `WARNING: The server has not said within ${
              SEND_WAIT_MS / 1000
            } seconds whether ${member} got your key for ${entry.group}: if it did, ${member} reads your messages there (it goes again with your next one)`,
          );
        } else if (
          given.t === "error" && given.code === "no_keys" &&
          this.#o.knownKey(server, member) === null
        ) {
          keyless.push(member);
        } else {
          warnings.push(
            `WARNING: ${member} cannot read your messages in ${entry.group} yet: ${
              "text" in given ? given.text.replace(/^ERROR: /, "") : given.t
            }`,
          );
        }
      }
      await this.#o.save();
      if (newlyGiven.length > 0) {
        this.#o.notify([
          noticeLine(givenToLine(entry.group, newlyGiven, hadIt.size > 0)),
        ]);
      }
      if (client.isOver) {
        // The connection ended on the way: a request on it now gets the
        // reply that says so, and the whole message (members, chains and
        // all) is sent again, with the same cid, on the next connection.
        return await client.request({ t: "ping" });
      }
      if (sendsInTheClear(members.length, keyless.length)) {
        // No other member has keys (old clients only): the group is written
        // to in the clear, as before, and said so at every line.
        this.#o.notify([
          warningLine(
            `WARNING: ${keyless.join(", ")} ha${
              keyless.length === 1 ? "s" : "ve"
            } not published end-to-end keys: this message to ${entry.group} is not end-to-end encrypted, and the host of the server can read it`,
          ),
        ]);
        const answer = client.gsay(group, text, cid);
        return await answerWithin(answer) ?? stillPending(entry.group, answer);
      }
      // Members with keys get it end to end; the keyless ones (perhaps
      // made up by the host to read the group) are left out, said once each.
      for (const member of keyless) {
        if (
          this.#keylessTold.add(server, nameKey(entry.group), nameKey(member))
        ) {
          warnings.push(keylessLeftOutLine(member, entry.group));
        }
      }
      // The server lists at most MAX_LIST_ITEMS members: those left out
      // were not given our chain.
      if (entry.more !== undefined) {
        warnings.push(
          `WARNING: The server listed only some members of ${entry.group}: ${entry.more} of them cannot read your messages`,
        );
      }
      if (warnings.length > 0) this.#o.notify(warnings.map(warningLine));
      // The whole list only: members left out were not given the chain
      // anyway (said above).
      const tag = entry.more === undefined && entry.tag !== undefined
        ? { tag: entry.tag }
        : {};
      if (
        refused !== undefined &&
        equalBytes(refused.before.chainId, own.chain.chainId)
      ) {
        const { tag: _, ...rest } = refused;
        sealed = { ...rest, ...tag };
        this.#sealed.keep(cid, line, sealed);
        return await this.#sendSealed(server, client, text, cid, sealed);
      }
      const before = own.chain;
      const out = await sealGroupMessage(
        own.chain,
        encodeGroupContent({
          from: self,
          group: nameKey(entry.group),
          text,
        }),
      );
      own.chain = out.chain;
      // Saved before it is sent: a message key must never be used twice.
      await this.#o.save();
      sealed = { group: entry.group, body: out.message, before, ...tag };
      this.#sealed.keep(cid, line, sealed);
    }
    return await this.#sendSealed(server, client, text, cid, sealed);
  }

  /** Sends a sealed group message, archived if it went. */
  async #sendSealed(
    server: string,
    client: ChatClient,
    text: string,
    cid: string,
    sealed: Sealed,
  ): Promise<Reply> {
    const answer = client.request(
      {
        t: "e2e_gsay",
        group: sealed.group,
        cid,
        ...(sealed.tag === undefined ? {} : { tag: sealed.tag }),
      },
      sealed.body,
    );
    const reply = await answerWithin(answer);
    if (reply === null) {
      // The queue goes on, and the line stays pending: an answer that
      // comes later is still taken (the message archived) and is the
      // line's, and the message is kept meanwhile for a retry.
      const kept = sealed;
      return stillPending(
        sealed.group,
        answer.then((late) =>
          this.#alone(() =>
            this.#answered(server, client, text, cid, kept, late)
          )
        ).catch((error): Reply => ({
          // Not archived (the state could not be saved): said, not thrown.
          t: "error",
          re: null,
          code: "internal",
          text: `ERROR: ${
            error instanceof Error ? error.message : String(error)
          }`,
        })),
      );
    }
    return await this.#answered(server, client, text, cid, sealed, reply);
  }

  /** The server's answer to a sealed group message: archived if it went. */
  async #answered(
    server: string,
    client: ChatClient,
    text: string,
    cid: string,
    sealed: Sealed,
    reply: Reply,
  ): Promise<Reply> {
    this.#sealed.answered(cid, reply);
    if (reply.t === "ok" && reply.id !== undefined) {
      this.#archive({
        server,
        id: reply.id,
        group: sealed.group,
        from: client.name ?? "",
        ts: Date.now(),
        text,
        digest: await envelopeDigest(sealed.body),
      });
      await this.#o.save();
    }
    return reply;
  }

  /**
   * Takes a secret opened from `from` if it is a sender key (its label);
   * null, with nothing kept, if it is for something else. Messages that
   * waited for it are opened and go to `late`. The promise settles once
   * the key is kept (saved, or its save failed and said so) or refused:
   * only then may the message that brought it be acknowledged, or a client
   * killed meanwhile has neither the key nor the message that brings it
   * again, and never reads that member's messages in the group.
   * `taken` (e2e_sessions.ts Opened) is called once the key is in the
   * state, right before that state is saved, or once it is refused: the
   * archive of the message that brought it then forgets its bytes in the
   * same save, and not before (a save between the two, of another message,
   * would have left the key neither kept nor to be given again).
   */
  deliverKey(
    client: ChatClient,
    from: string,
    label: string,
    secret: Uint8Array,
    taken: () => void = () => {},
  ): Promise<void> | null {
    if (!label.startsWith(SENDER_KEY_LABEL_PREFIX)) return null;
    const group = label.slice(SENDER_KEY_LABEL_PREFIX.length);
    let chain: ReceivedChain;
    try {
      chain = decodeSenderKey(secret.slice());
    } catch {
      taken();
      this.#tell(from, [
        errorLine(`ERROR: ${from} sent a malformed sender key for ${group}`),
      ]);
      return Promise.resolve();
    }
    const where = receivedKey(client.serverFingerprint, group, from);
    const chainId = toHex(chain.chainId);
    const arrived = performance.now();
    // The messages already waiting for this key stop waiting now: their
    // timers must not refuse them while the key waits its turn or is saved.
    const waited = this.#takeWaiting(where, chainId);
    const kept = this.#alone(async () => {
      const received = this.#o.state.received;
      const chains = received.get(where) ?? [];
      // A chain already held keeps its place (and its skipped keys).
      const held = chains.some((c) => toHex(c.chainId) === chainId);
      const outsider = held
        ? null
        : await this.#notInGroup(client, group, arrived);
      if (outsider !== null || held) taken();
      if (outsider !== null) {
        this.#tell(from, [
          errorLine(
            `ERROR: ${from} sent a sender key for ${group}, which is not kept: ${outsider}`,
          ),
        ]);
      } else if (!held) {
        taken();
        chains.unshift(chain);
        chains.length = Math.min(chains.length, MAX_CHAINS_PER_SENDER);
        if (!received.has(where)) {
          dropOldestGroupsOf(received, client.serverFingerprint, from);
          this.#bySkeleton = null;
        }
        keepChains(received, where, chains);
        try {
          await this.#o.save();
        } catch (error) {
          // The chain is held in memory: its messages open all the same
          // (each taken one must settle, or it is never acknowledged).
          this.#o.notify([
            errorLine(
              `ERROR: ${from}'s sender key for ${group} could not be saved: ${
                error instanceof Error ? error.message : String(error)
              }`,
            ),
          ]);
        }
      }
      // With those that began waiting while this waited its turn.
      for (const w of [...waited, ...this.#takeWaiting(where, chainId)]) {
        let outcome: GroupOpened;
        try {
          outcome = await this.#open(w.client, w.message, w.body, true);
        } catch (error) {
          outcome = this.#unopened(
            w.message,
            error instanceof Error ? error.message : String(error),
          );
        }
        this.#showLate(outcome, w.done, w.message.from);
      }
    });
    return kept.then(() => {}, () => {});
  }

  /**
   * {@link notInGroup} by a `groups` reply asked for after the key
   * `arrived`: one answers every key that came before it was asked, and
   * they are asked for at most every GROUPS_ASK_INTERVAL_MS. A request per
   * key spent the member's own message rate at the pace of a classmate's
   * accounts sending keys (three accounts' bursts, 120 keys, drew
   * `slow_down` for most of the checks, whose keys were then taken
   * unchecked, and the member's own messages met it too; 50 refusals in a
   * row cut a client off).
   */
  async #notInGroup(
    client: ChatClient,
    group: string,
    arrived: number,
  ): Promise<string | null> {
    if (!isValidName(group)) return `'${group}' is not a group name`;
    let asked = this.#groupsAsked;
    if (asked === null || asked.client !== client || asked.at < arrived) {
      await this.#spaced(client);
      asked = {
        client,
        at: performance.now(),
        reply: askServer(client, { t: "groups" }),
      };
      this.#groupsAsked = asked;
    }
    const groups = await asked.reply;
    if (!unlisted(groups, group)) return notInGroup(groups, group);
    // The list left it out (over MAX_LIST_ITEMS groups on the server): that
    // group alone is asked about, spaced as the lists are. Taken unchecked,
    // a key for any made-up name counted against the chains of the groups
    // we are in (MAX_RECEIVED_CHAINS_IN_ALL, the least recently used go).
    await this.#spaced(client);
    return notAMember(
      await askServer(client, { t: "members", group }),
      group,
      client.name ?? "",
    );
  }

  /**
   * Waits until GROUPS_ASK_INTERVAL_MS have passed since the last request
   * made to judge a sender key on `client`'s connection (`groups` or
   * `members`), and counts this one as the last.
   */
  async #spaced(client: ChatClient): Promise<void> {
    const last = this.#lastAsked;
    const since = last === null || last.client !== client
      ? Infinity
      : performance.now() - last.at;
    this.#lastAsked = {
      client,
      at: performance.now() + Math.max(0, GROUPS_ASK_INTERVAL_MS - since),
    };
    if (since < GROUPS_ASK_INTERVAL_MS) {
      await new Promise((r) => setTimeout(r, GROUPS_ASK_INTERVAL_MS - since));
    }
  }

  /**
   * Whether `entry`, still waiting, was taken off the waiting list to wait
   * for a decision on its sender's new identity key (`holdUntilTrusted`)
   * (or dropped past the limits of what is held), and so is settled.
   */
  async #heldUntilTrusted(entry: Waiting): Promise<boolean> {
    const hold = this.#o.holdUntilTrusted;
    if (hold === undefined || !this.#waiting.includes(entry)) return false;
    let lines: string[] | null;
    try {
      lines = await hold(entry.client, entry.message, entry.body);
    } catch (error) {
      lines = [
        `ERROR: A group message from ${entry.message.from} in ${entry.message.group} could not be kept until you decide on their new key, and is not shown: ${
          error instanceof Error ? error.message : String(error)
        }`,
      ];
    }
    if (lines === null) return false;
    const at = this.#waiting.indexOf(entry);
    // Its key came meanwhile (accepted just now): it was opened, and the
    // copy held opens again from the archive, as history.
    if (at < 0) return true;
    this.#waiting.splice(at, 1);
    clearTimeout(entry.timer);
    this.#showLate({ kind: "refused", lines }, entry.done, entry.message.from);
    return true;
  }

  /**
   * Whether a message of `from` may wait for its sender key: under
   * MAX_GROUP_WAITING, or once the oldest message of the sender with the
   * most waiting, if that is more than `from` has, is refused to make room.
   * Refusing the newcomer whenever the list was full let one member's 200
   * messages on made-up chains (the server's rate: 20 a second) get every
   * other member's genuine message refused while they waited, in any group.
   * With one each (200 members, made up by a host), that rule ties: then a
   * sender whose identity key is known here (`knownKey`: one who has
   * written to us end to end before) is preferred, and the oldest message
   * of a sender not known gives way to theirs.
   */
  #makeRoom(server: string, from: string): boolean {
    if (this.#waiting.length < MAX_GROUP_WAITING) return true;
    const senderOf = (w: Waiting) =>
      `${w.client.serverFingerprint} ${nameKey(w.message.from)}`;
    const counts = new Map<string, number>();
    for (const w of this.#waiting) {
      const sender = senderOf(w);
      counts.set(sender, (counts.get(sender) ?? 0) + 1);
    }
    let most: string | null = null;
    let mostCount = 0;
    for (const [sender, count] of counts) {
      if (count > mostCount) [most, mostCount] = [sender, count];
    }
    const own = counts.get(`${server} ${nameKey(from)}`) ?? 0;
    let at = -1;
    if (most !== null && mostCount > own + 1) {
      at = this.#waiting.findIndex((w) => senderOf(w) === most);
    } else if (own < mostCount && this.#o.knownKey(server, from) !== null) {
      // A tie (senders with one each, say), not one's own flood: someone
      // known is kept over the oldest of those not known, if any.
      at = this.#waiting.findIndex((w) =>
        this.#o.knownKey(w.client.serverFingerprint, w.message.from) === null
      );
    }
    // Otherwise one's own flood gives way to no one: the newcomer is refused.
    if (at < 0) return false;
    const [evicted] = this.#waiting.splice(at, 1);
    clearTimeout(evicted!.timer);
    this.#showLate(
      this.#unopened(evicted!.message, KEY_NEVER_CAME),
      evicted!.done,
      evicted!.message.from,
    );
    return true;
  }

  /**
   * Gives `opened` to `late`, and calls `done` (which lets the message be
   * acknowledged) once it is shown: not when handed over. A line handed to
   * a turn still busy (a group message opening behind a `groups` request,
   * a sender key's save) was acknowledged before it was written, and a
   * client killed meanwhile lost it for good, without a word. Not awaited
   * here: the turn may be waiting for this queue.
   */
  #showLate(opened: GroupOpened, done: () => void, from: string): void {
    let shown: unknown;
    try {
      shown = this.#o.late(opened, from);
    } catch (error) {
      done();
      throw error;
    }
    void Promise.resolve(shown).then(done, done);
  }

  /**
   * Takes the messages waiting for the chain `chainId` of `where` (server,
   * group, sender) off the waiting list, their timers stopped. Only that
   * chain's: one on the sender's next chain (started when someone left)
   * waits for its own key, which may be right behind; opened now it would
   * be refused for good.
   */
  #takeWaiting(where: string, chainId: string): Waiting[] {
    const taken: Waiting[] = [];
    for (let i = 0; i < this.#waiting.length;) {
      const w = this.#waiting[i]!;
      if (
        receivedKey(
            w.client.serverFingerprint,
            w.message.group,
            w.message.from,
          ) === where && chainIdOf(w.body) === chainId
      ) {
        this.#waiting.splice(i, 1);
        clearTimeout(w.timer);
        taken.push(w);
      } else i++;
    }
    return taken;
  }

  /** Opens an `e2e_group`. Never throws: what cannot be opened is refused. */
  open(
    client: ChatClient,
    message: E2eGroup,
    body: Uint8Array,
  ): Promise<GroupOpened> {
    const copy = body.slice();
    // Read now, at its arrival: by its turn in the queue, what came after
    // it would be counted too.
    const before = this.#o.before?.(message.from);
    const opening = this.#alone(() =>
      this.#open(client, message, copy, false, before)
    );
    // In its sender's order: while an earlier message of the same sender
    // and group is to be shown late (it waits for its sender key, or for
    // one before it), this one goes to `late` too, after it. Shown at once,
    // it would come before that one: the key, opened after the messages
    // that came meanwhile, opens those waiting for it only then.
    const where = receivedKey(
      client.serverFingerprint,
      message.group,
      message.from,
    );
    const ahead = this.#lateTails.get(where);
    const mine = Promise.withResolvers<Tail>();
    const tail = mine.promise;
    this.#lateTails.set(where, tail);
    // Forgotten once shown (or given up), unless a later one took its place.
    void tail.then(({ done }) => done).then(() => {
      if (this.#lateTails.get(where) === tail) this.#lateTails.delete(where);
    });
    const own = async (): Promise<GroupOpened> => {
      const outcome = await opening.catch((error) => {
        mine.resolve({ late: false, done: Promise.resolve() });
        throw error;
      });
      const behind = ahead !== undefined && (await ahead).late;
      if (outcome.kind === "waiting") {
        mine.resolve({ late: true, done: outcome.settled });
        return outcome;
      }
      if (!behind) {
        mine.resolve({ late: false, done: Promise.resolve() });
        return outcome;
      }
      const settled = Promise.withResolvers<void>();
      mine.resolve({ late: true, done: settled.promise });
      void (await ahead!).done.then(() =>
        this.#showLate(outcome, settled.resolve, message.from)
      );
      return { kind: "waiting", settled: settled.promise };
    };
    return own();
  }

  async #open(
    client: ChatClient,
    message: E2eGroup,
    body: Uint8Array,
    waited: boolean,
    before?: Promise<unknown>,
  ): Promise<GroupOpened> {
    const server = client.serverFingerprint;
    // One said not to have arrived (unarrived.ts), come after all.
    let cameLate = false;
    const shown = (text: string): GroupOpened => ({
      kind: "message",
      message: groupOf(message),
      text,
      ...(cameLate
        ? {
          warnings: [
            cameLateLine({ from: message.from, group: message.group }),
          ],
        }
        : {}),
    });
    const refused = (why: string) => this.#unopened(message, why);
    // Opened before (sent again, or asked for with /history): its key is
    // gone, the archive has it. Only for the same sender, group and bytes:
    // the id is the server's word, and a server must not get an archived
    // text shown as someone else's or in another group (one that does not
    // match is opened below, and fails). Shown as history, at its first
    // time, so that a replay cannot pass for a new message.
    const digest = await envelopeDigest(body);
    const archived = message.id === undefined
      ? undefined
      : this.#o.state.archive.get(`${server} ${message.id}`);
    if (
      archived !== undefined &&
      nameKey(archived.from) === nameKey(message.from) &&
      nameKey(archived.group) === nameKey(message.group) &&
      (archived.digest === undefined || archived.digest === digest)
    ) {
      return {
        kind: "message",
        message: { ...groupOf(message), ts: archived.ts, history: true },
        text: archived.text,
      };
    }
    const chainId = chainIdOf(body);
    if (chainId === null) return refused("it is malformed");
    const where = receivedKey(server, message.group, message.from);
    const chains = this.#o.state.received.get(where) ?? [];
    const index = chains.findIndex((c) => toHex(c.chainId) === chainId);
    if (index < 0) {
      if (waited || !this.#makeRoom(server, message.from)) {
        return refused(KEY_NEVER_CAME);
      }
      const waitMs = this.#o.waitMs ?? GROUP_KEY_WAIT_MS;
      const settled = Promise.withResolvers<void>();
      const entry: Waiting = {
        client,
        message,
        body,
        done: settled.resolve,
        timer: undefined,
      };
      this.#waiting.push(entry);
      const giveUp = async () => {
        if (await this.#heldUntilTrusted(entry)) return;
        const at = this.#waiting.indexOf(entry);
        if (at < 0) return;
        this.#waiting.splice(at, 1);
        this.#showLate(
          refused(
            `its sender key did not arrive within ${
              Math.round(waitMs / 1000)
            } s (it was sent before you could read the group, or the server withheld the key)`,
          ),
          entry.done,
          message.from,
        );
      };
      // The wait starts once what came before is dealt with: the key, sent
      // end to end before the message, may be queued there behind a
      // reconnect's backlog, and must not use the wait up. A key held
      // there with its sender's new identity key holds the message too.
      const startWait = async () => {
        if (await this.#heldUntilTrusted(entry)) return;
        if (this.#waiting.includes(entry)) {
          entry.timer = setTimeout(() => void giveUp(), waitMs);
        }
      };
      if (before === undefined) void startWait();
      else void before.then(startWait, startWait);
      return { kind: "waiting", settled: settled.promise };
    }
    try {
      const out = await openGroupMessage(chains[index]!, body);
      const content = decodeGroupContent(out.plaintext);
      // The names inside are the sender's own: a server cannot move a
      // message to another group or pass it off as another member's.
      if (
        content.from !== nameKey(message.from) ||
        content.group !== nameKey(message.group)
      ) {
        throw new Error(
          `it was written by ${content.from} for ${content.group}, not by ${message.from} for ${message.group}`,
        );
      }
      // The iterations this message skipped are messages of the member's
      // not come (yet); the one it used, one that had not come before it.
      const unarrived = this.#o.unarrived;
      if (unarrived !== undefined) {
        const chain = `${where} ${toHex(out.chain.chainId)}`;
        for (
          const i of openedWithKept(chains[index]!.skipped, out.chain.skipped)
        ) {
          if (unarrived.arrived(`${chain} ${i}`)) cameLate = true;
        }
        unarrived.skipped(
          { from: message.from, group: message.group },
          added(chains[index]!.skipped, out.chain.skipped).map((i) =>
            `${chain} ${i}`
          ),
        );
      }
      chains[index] = out.chain;
      // Used now: the last of all to be forgotten.
      keepChains(this.#o.state.received, where, chains);
      // The keys it skipped, within what all chains keep together.
      limitGroupSkippedKeys(this.#o.state);
      if (message.id !== undefined) {
        this.#archive({
          server,
          id: message.id,
          group: message.group,
          from: message.from,
          ts: message.ts,
          text: content.text,
          digest,
        });
      }
      // Saved before it is shown (and so acknowledged).
      await this.#o.save();
      return shown(content.text);
    } catch (error) {
      // It came: a later message that skips its iteration does not say it
      // has not arrived as well (the error says it came). The header's
      // word: a host that forges one still has this error said.
      const iteration = iterationOf(body);
      if (iteration !== null) {
        this.#o.unarrived?.unopened(`${where} ${chainId} ${iteration}`);
      }
      return refused(error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * `message` refused as not opened, for `why`; with nothing said when its
   * sender is ignored: one sending what does not open (garbage, in a loop)
   * put an ERROR line on the screen for each.
   */
  #unopened(message: E2eGroup, why: string): GroupOpened {
    if (this.#o.ignored?.(message.from)) return { kind: "refused", lines: [] };
    return {
      kind: "refused",
      lines: [
        `ERROR: A group message from ${message.from} in ${message.group} could not be opened, and is not shown: ${why}`,
      ],
    };
  }

  /** Says `lines` caused by what `from` sent, unless they are ignored. */
  #tell(from: string, lines: E2eLine[]): void {
    if (!this.#o.ignored?.(from)) this.#o.notify(lines);
  }

  #archive(message: ArchivedGroupMessage): void {
    archiveGroupMessage(this.#o.state, message);
  }
}

/**
 * Keys of skipped group messages kept in all the chains received together.
 * Each chain keeps up to MAX_GROUP_SKIPPED_KEYS (2000, about 60 bytes each
 * in the state), which its sender fills with two messages (1000 ahead, then
 * 1000 more), to every member of the group at once; a sender has up to 4
 * chains per group, and joining a group takes any account: a classmate's
 * accounts in a group grew every member's end-to-end state, rewritten at
 * each message, toward what a client reads back (e2e_state_file.ts).
 */
export const MAX_GROUP_SKIPPED_KEYS_IN_ALL = 10_000;

/**
 * Keeps at most {@link MAX_GROUP_SKIPPED_KEYS_IN_ALL} skipped keys in all
 * received chains: those holding the most are each lowered to the same
 * number, oldest keys first (kept_keys.ts).
 */
export function limitGroupSkippedKeys(state: GroupState): void {
  keepAtMost(
    [...state.received.values()].flatMap((chains) =>
      chains.map((chain) => chain.skipped)
    ),
    MAX_GROUP_SKIPPED_KEYS_IN_ALL,
  );
}

/**
 * Groups whose sender key one sender's chains are kept for at most (a user
 * is in at most 100 groups on the reference server): without it a peer
 * sending sender keys for endless made-up groups grew the state without
 * bound, and with it the file the next start must read back.
 */
export const MAX_GROUPS_PER_SENDER = 128;

/**
 * Chains received kept in all, from every sender in every group (about 250
 * bytes each in the state, without skipped keys): a sender key is taken
 * only for a group we are a member of (notInGroup), but any account can
 * send one, and a classmate's accounts each give up to
 * MAX_CHAINS_PER_SENDER per group we are in. Past
 * it the chains of the (group, sender) used least recently (a key taken or
 * a message opened) are forgotten first: that sender's later messages on
 * them are refused ("its sender key never came") until they make a new
 * chain (when a member leaves). 10,000 is 100 groups of 25 members with 4
 * chains each, all in use.
 */
export const MAX_RECEIVED_CHAINS_IN_ALL = 10_000;

/**
 * Keeps `chains` for `where` as the most recently used, and forgets the
 * least recently used (the map's order, saved so) past
 * {@link MAX_RECEIVED_CHAINS_IN_ALL} chains in all.
 */
function keepChains(
  received: Map<string, ReceivedChain[]>,
  where: string,
  chains: ReceivedChain[],
): void {
  received.delete(where);
  received.set(where, chains);
  let total = 0;
  for (const kept of received.values()) total += kept.length;
  for (const [key, oldest] of received) {
    if (total <= MAX_RECEIVED_CHAINS_IN_ALL || key === where) break;
    received.delete(key);
    total -= oldest.length;
  }
}

/**
 * Our own sending chains kept at most, one per group (each with who it was
 * given to: up to 200 members a `members` reply lists, about 75 bytes each
 * in the state, so some 2.3 MB at most). A user is in at most 100 groups of
 * the reference server, but joins and leaves any number over time; past it
 * the chain of the group we sent to least recently is forgotten: the next
 * message there makes a new one and gives it to the members again.
 */
export const MAX_OWN_CHAINS = 128;

/**
 * Keeps our chain `own` for `where` as the one sent with most recently, and
 * forgets the least recently used past {@link MAX_OWN_CHAINS}.
 */
function keepOwnChain(
  kept: GroupState["own"],
  where: string,
  own: { chain: OwnChain; sentTo: GivenTo[] },
): void {
  kept.delete(where);
  kept.set(where, own);
  for (const key of kept.keys()) {
    if (kept.size <= MAX_OWN_CHAINS) break;
    kept.delete(key);
  }
}

/** A group message sealed, kept by cid for a retry to send the same bytes. */
interface Sealed {
  group: string;
  body: Uint8Array;
  /** The members tag of the list its chain was given by (`e2e_gsay`). */
  tag?: string;
  /** Our chain before it was sealed: given to those who join meanwhile. */
  before: OwnChain;
}

/**
 * Times a message is sealed anew when the server refuses it because the
 * group's members changed since they were listed (`members_changed`):
 * then the error is the line's.
 */
const MEMBERS_CHANGED_TRIES = 5;

/** How long a sender key waits for the server's group list (askGroups). */
const MEMBERS_WAIT_MS = 5000;

/**
 * Departures seen (`membership` notices of a leave, with no join since)
 * kept at most: 100 groups of 100 members.
 */
export const MAX_LEAVES_SEEN = 10_000;

/** The least time between two `groups` asked for to judge sender keys. */
const GROUPS_ASK_INTERVAL_MS = 250;

/** A `groups` asked for (at `at`, performance.now()) to judge sender keys. */
interface GroupsAsked {
  client: ChatClient;
  at: number;
  reply: Promise<Reply | null>;
}

/**
 * The line that says whom our chain for `group` was just given to: every
 * member on a chain's first message (`since` false; past ten, counted), or
 * those who did not have our chain before (`since` true): each named, up to
 * {@link MAX_NEW_NAMED}, and past it counted as new.
 */
export function givenToLine(
  group: string,
  names: string[],
  since: boolean,
): string {
  if (!since) {
    return `Your messages to ${group} go end to end to ${
      namesList(names)
    }, the ${names.length === 1 ? "member" : "members"} the server lists`;
  }
  if (names.length > MAX_NEW_NAMED) {
    return `Your messages to ${group} now go end to end to ${names.length} members new since your last message there, whom the server lists: ${
      namesList(names, MAX_NEW_NAMED, "new ones")
    } (/members ${group} lists every member)`;
  }
  return `Your messages to ${group} now go end to end to ${
    namesList(names, MAX_NEW_NAMED)
  } too, whom the server lists as ${
    names.length === 1 ? "a member" : "members"
  } since your last message there`;
}

/**
 * The server's reply to `groups` or `members`, or null if it could not be
 * asked or did not answer within MEMBERS_WAIT_MS: a server that never
 * answers must not hold every group message behind it.
 */
async function askServer(
  client: ChatClient,
  request: { t: "groups" } | { t: "members"; group: string },
): Promise<Reply | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      client.request(request),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), MEMBERS_WAIT_MS);
      }),
    ]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether the server's group list (`reply`, askServer) left `group` out
 * (it lists at most MAX_LIST_ITEMS): only a `members` of it can say.
 */
function unlisted(reply: Reply | null, group: string): boolean {
  if (reply === null || reply.t !== "groups" || reply.more === undefined) {
    return false;
  }
  const key = nameKey(group);
  return !reply.groups.some((g) => nameKey(g.name) === key);
}

/**
 * Why a sender key for `group` is not taken, by the server's `members` of
 * it (`reply`, askServer), as {@link notInGroup}: there is no such group, or
 * `self` is not among its members. Null when it is taken: we are listed,
 * the list left members out, or the server could not say.
 */
function notAMember(
  reply: Reply | null,
  group: string,
  self: string,
): string | null {
  if (reply?.t === "error" && reply.code === "no_such_group") {
    return `there is no group ${group}`;
  }
  if (reply?.t !== "members") return null;
  const listed = membersOf(reply, group);
  if ("other" in listed) return otherGroupText(listed.other, group);
  if ("none" in listed) return null;
  const { entry } = listed;
  if (entry.more !== undefined) return null;
  if (entry.members.some((m) => nameKey(m) === nameKey(self))) return null;
  return `you are not a member of ${group}`;
}

/**
 * Why a sender key for `group` is not taken, by the server's group list
 * (`reply`, askServer): there is no such group, or we are not in it (a
 * sender key for a made-up group, or one we are not in, could only grow our
 * state). Null when it is taken: we are a member, the list marks none as
 * ours (a server before `joined`), or the server could not say (the chain
 * is kept then, within MAX_RECEIVED_CHAINS_IN_ALL). A group the list left
 * out (`more`, {@link unlisted}) is asked about alone.
 *
 * The sender need not be listed: a key is read when its 1:1 message is,
 * which may be after its sender left (a member who wrote and left at once,
 * a link or a reconnect that delivered it late, a cluster node whose member
 * list may lag the message), and what they sent while a member must open.
 * Anyone may join a group anyway, so requiring the sender to be listed kept
 * out nothing a joined account cannot bring: an outsider's keys are bounded
 * as a member's are (the groups we are in, MAX_CHAINS_PER_SENDER each).
 */
function notInGroup(reply: Reply | null, group: string): string | null {
  if (reply === null || reply.t !== "groups") return null;
  const key = nameKey(group);
  const entry = reply.groups.find((g) => nameKey(g.name) === key);
  if (entry === undefined) {
    return reply.more === undefined ? `there is no group ${group}` : null;
  }
  if (entry.joined === true) return null;
  if (!reply.groups.some((g) => g.joined === true)) return null;
  return `you are not a member of ${group}`;
}

/**
 * Makes room for one more group of `from`'s chains in `received`: drops the
 * oldest of theirs past {@link MAX_GROUPS_PER_SENDER}.
 */
function dropOldestGroupsOf(
  received: Map<string, ReceivedChain[]>,
  server: string,
  from: string,
): void {
  const suffix = ` ${nameKey(from)}`;
  const prefix = `${server} `;
  const theirs = [...received.keys()].filter((key) =>
    key.startsWith(prefix) && key.endsWith(suffix)
  );
  const excess = theirs.length - MAX_GROUPS_PER_SENDER + 1;
  for (let i = 0; i < excess; i++) received.delete(theirs[i]!);
}

/**
 * Archives `message`, dropping the oldest past {@link MAX_GROUP_ARCHIVED}
 * messages or {@link MAX_GROUP_ARCHIVED_CHARS} characters of text.
 */
export function archiveGroupMessage(
  state: GroupState,
  message: ArchivedGroupMessage,
): void {
  const archive = state.archive;
  archive.set(`${message.server} ${message.id}`, message);
  let chars = 0;
  for (const kept of archive.values()) chars += kept.text.length;
  for (const [key, oldest] of archive) {
    if (
      archive.size <= MAX_GROUP_ARCHIVED && chars <= MAX_GROUP_ARCHIVED_CHARS
    ) break;
    archive.delete(key);
    chars -= oldest.text.length;
  }
}

function receivedKey(server: string, group: string, from: string): string {
  return `${server} ${nameKey(group)} ${nameKey(from)}`;
}

function groupOf(message: E2eGroup): GroupMessage {
  const { fingerprint: _, t: __, ...rest } = message;
  return { t: "group", ...rest };
}

/** What a group message holds: who wrote it, for which group (name keys). */
export interface GroupContent {
  from: string;
  group: string;
  text: string;
}

/**
 * The plaintext of a group message (docs/PROTOCOL.md 11.11):
 * `u8 type (1) || u8 n || from (n bytes) || u8 m || group (m bytes) || text`.
 */
export function encodeGroupContent(content: GroupContent): Uint8Array {
  const encoder = new TextEncoder();
  const from = encoder.encode(content.from);
  const group = encoder.encode(content.group);
  if (from.length > 255 || group.length > 255) {
    throw new RangeError("A name key is at most 255 bytes");
  }
  const text = encoder.encode(content.text);
  const out = new Uint8Array(3 + from.length + group.length + text.length);
  out[0] = GROUP_TEXT;
  out[1] = from.length;
  out.set(from, 2);
  out[2 + from.length] = group.length;
  out.set(group, 3 + from.length);
  out.set(text, 3 + from.length + group.length);
  return out;
}

/**
 * A group message's content.
 *
 * @throws {Error} if it is malformed or of a type this client does not know
 */
export function decodeGroupContent(plaintext: Uint8Array): GroupContent {
  if (plaintext[0] !== GROUP_TEXT) {
    throw new Error(
      `it holds content of type ${plaintext[0]}, which this client cannot show`,
    );
  }
  const n = plaintext[1];
  const m = n === undefined ? undefined : plaintext[2 + n];
  if (n === undefined || m === undefined || 3 + n + m > plaintext.length) {
    throw new Error("its content is malformed");
  }
  const decoder = new TextDecoder();
  return {
    from: decoder.decode(plaintext.subarray(2, 2 + n)),
    group: decoder.decode(plaintext.subarray(3 + n, 3 + n + m)),
    text: decoder.decode(plaintext.subarray(3 + n + m)),
  };
}

/** The state as a JSON value (inside e2e_state.ts's, sealed at rest). */
export function encodeGroupState(state: GroupState): unknown {
  return {
    own: [...state.own].map(([key, { chain, sentTo }]) => ({
      key,
      id: toBase64(chain.chainId),
      iteration: chain.iteration,
      chainKey: toBase64(chain.chainKey),
      signingSeed: toBase64(chain.signingSeed),
      signingPublic: toBase64(chain.signingPublic),
      sentTo: sentTo.map((m) => [m.name, m.key]),
    })),
    received: [...state.received].map(([key, chains]) => ({
      key,
      chains: chains.map((c) => ({
        id: toBase64(c.chainId),
        iteration: c.iteration,
        chainKey: toBase64(c.chainKey),
        signingPublic: toBase64(c.signingPublic),
        skipped: [...c.skipped].map(([i, k]) => [i, toBase64(k)]),
      })),
    })),
    archive: [...state.archive.values()],
  };
}

/**
 * A state from its JSON value.
 *
 * @throws {Error} if it is malformed
 */
export function decodeGroupState(value: unknown): GroupState {
  const f = record(value);
  const state = emptyGroupState();
  for (const entry of list(f.own)) {
    const o = record(entry);
    state.own.set(text(o.key), {
      chain: {
        chainId: bytes(o.id, 16),
        iteration: int(o.iteration),
        chainKey: bytes(o.chainKey, 32),
        signingSeed: bytes(o.signingSeed, 32),
        signingPublic: bytes(o.signingPublic, 32),
      },
      sentTo: list(o.sentTo).map(givenTo),
    });
  }
  for (const entry of list(f.received)) {
    const r = record(entry);
    state.received.set(
      text(r.key),
      list(r.chains).map((c) => {
        const chain = record(c);
        return {
          chainId: bytes(chain.id, 16),
          iteration: int(chain.iteration),
          chainKey: bytes(chain.chainKey, 32),
          signingPublic: bytes(chain.signingPublic, 32),
          skipped: new Map(
            list(chain.skipped).map((s) => {
              const [i, k] = list(s);
              return [int(i), bytes(k, 32)];
            }),
          ),
        };
      }),
    );
  }
  for (const entry of list(f.archive)) {
    const a = record(entry);
    const message: ArchivedGroupMessage = {
      server: text(a.server),
      id: int(a.id),
      group: text(a.group),
      from: text(a.from),
      ts: int(a.ts),
      text: text(a.text),
      ...(a.digest === undefined ? {} : { digest: text(a.digest) }),
    };
    state.archive.set(`${message.server} ${message.id}`, message);
  }
  return state;
}

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("the group state is malformed");
  }
  return value as Record<string, unknown>;
}

/**
 * A member given our chain: `[name, key]`, or a bare name as states saved
 * before the key was kept have it (key null: the chain is renewed at the
 * next message, given again under the keys known then).
 */
function givenTo(value: unknown): GivenTo {
  if (typeof value === "string") return { name: value, key: null };
  const [name, key] = list(value);
  return { name: text(name), key: key === null ? null : text(key) };
}

function list(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error("the group state is malformed");
  return value;
}

function text(value: unknown): string {
  if (typeof value !== "string") {
    throw new Error("the group state is malformed");
  }
  return value;
}

function int(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new Error("the group state is malformed");
  }
  return value;
}

function bytes(value: unknown, length: number): Uint8Array<ArrayBuffer> {
  const decoded = fromBase64(text(value));
  if (decoded.length !== length) {
    throw new Error("the group state is malformed");
  }
  return decoded;
}
