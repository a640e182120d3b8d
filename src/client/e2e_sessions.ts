// This module is browser compatible.

/**
 * 1:1 private messages end to end, as a client sends and opens them (issue
 * 17 items 1, 2, 4 and 5; docs/PROTOCOL.md 11.7-11.9): a ratchet session per
 * peer, started from the peer's published bundle (X3DH) on first use; trust
 * on first use of each peer's identity key, with a changed key announced and
 * everything to and from that peer held until the user accepts it; safety
 * numbers; and an archive of what was sent and opened, for `/history`.
 *
 * No Deno API here: persistence comes in as callbacks over the storage port
 * (text_slot.ts: files for the terminal, IndexedDB for the web page), so the
 * browser client reuses it.
 * Every operation runs alone (one at a time), so two messages never race for
 * one session.
 */

import { SenderTimeWarnings } from "./sender_time.ts";
import { equalBytes, fromBase64, toBase64, toHex } from "../crypto/bytes.ts";
import { identityFingerprint } from "../crypto/identity.ts";
import {
  decodeEnvelope,
  type E2eSession,
  encodeEnvelope,
  initiateSession,
  openEnvelope,
  sealEnvelope,
} from "../crypto/e2e_envelope.ts";
import { claimedSkippedId } from "../crypto/ratchet.ts";
import { safetyNumber } from "../crypto/safety_number.ts";
import { nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { envelopeDigest } from "./envelope_digest.ts";
import { asClause, type ChatClient, type Reply } from "./chat_client.ts";
import {
  added,
  cameLateLine,
  openedWithKept,
  type UnarrivedMessages,
} from "./unarrived.ts";
import { SealedRetries } from "./sealed_retries.ts";
import { answerWithin, stillPending } from "./answer_within.ts";
import {
  E2eKeyError,
  fetchBundle,
  type FetchedBundle,
  type Keyring,
  signedPrekeyFor,
} from "./e2e_keys.ts";
import type { E2eGroup } from "./group_sessions.ts";
import {
  type E2eLine,
  errorLine,
  noticeLine,
  warningLine,
} from "./e2e_lines.ts";
import {
  archive,
  archiveKey,
  type E2ePrivate,
  type E2eState,
  type HeldMessage,
  keepSession,
  type KeyChange as Change,
  limitSkippedKeys,
  MAX_PEER_SESSIONS,
  noteInit,
  peerKey,
  type PeerSession,
} from "./e2e_state.ts";
import {
  identityChangeWarning,
  type IdentityCheck,
  IdentityRefused,
} from "./known_identities.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** The plaintext's content types (docs/PROTOCOL.md 11.7). Stable. */
export const ContentType = { text: 1, secret: 2, timedText: 3 } as const;

/** The longest label of a secret, in UTF-8 bytes. */
export const MAX_SECRET_LABEL_BYTES = 64;

/** The largest secret (a file key is 32 bytes). */
export const MAX_SECRET_BYTES = 1024;

/**
 * The label of the secret that tells a sender its message could not be
 * opened (docs/PROTOCOL.md 11.7, "A message on a forgotten session").
 */
export const UNREADABLE_LABEL = "unreadable";

/** The first byte of an unreadable notice's secret: its layout. */
export const UNREADABLE_VERSION = 1;

// ---- End of protocol constants. ----

/**
 * Unreadable notices sent at most in {@link UNREADABLE_WINDOW_MS}, to all
 * peers together: a server can make up messages from many names, and each
 * notice fetches a bundle and starts a session.
 */
export const MAX_UNREADABLE_NOTICES = 10;

/** The window of {@link MAX_UNREADABLE_NOTICES}. */
export const UNREADABLE_WINDOW_MS = 60_000;

/** Earlier sessions kept per peer, tried when the current one fails. */
const MAX_PREVIOUS_SESSIONS = 3;

/** Messages from a peer whose key changed kept at most until `/trust`. */
export const MAX_HELD_MESSAGES = 100;

/**
 * Bytes of held messages kept at most, from all peers whose key changed
 * together: the state is read back whole at every start (e2e_state_file.ts
 * MAX_E2E_STATE_BYTES), and a server can send any number of them.
 */
export const MAX_HELD_BYTES = 8 * 1024 * 1024;

/**
 * Changed identity keys waiting for `/trust` kept at most, one per peer (the
 * newest change of each), from all peers together: each needs the host to
 * release a name, but a hostile host can release any number, and each is
 * kept in the state, read back whole at every start. Past it the one
 * waiting longest is forgotten, the user told.
 */
export const MAX_KEY_CHANGES = 1000;

/**
 * How long "they have no end-to-end keys" is believed before the server is
 * asked again: a peer's keys may come without a sign-in seen here (their
 * publishing failed and was retried, or their presence came while this
 * client was reconnecting).
 */
export const KEYLESS_KEPT_MS = 60_000;

/** A sign-in this recent may still be publishing its keys. */
export const KEYS_PUBLISH_GRACE_MS = 10_000;

/**
 * A message to someone this soon after their sign-in, who has no keys on
 * the server yet, asks again at this point before it goes in the clear.
 */
export const KEYS_PUBLISH_WAIT_MS = 2_000;

/** How often the server is asked meanwhile. */
const KEYS_PUBLISH_POLL_MS = 250;

export type { E2ePrivate };

/** The private message inside an opened `e2e_private`. */
export type PrivateMessage = Extract<ServerMessage, { t: "private" }>;

/** What became of an `e2e_private`. */
export type Opened =
  /**
   * Opened (or found in the archive): show it as this private message (its
   * `ts` the sender's time when it carried one), then `warnings` if any (its
   * sender's time and the server's differ, or it came after one its sender
   * sealed later: sender_time.ts).
   */
  | {
    kind: "message";
    message: PrivateMessage;
    text: string;
    warnings?: string[];
  }
  /**
   * A secret for another module (`sendSecret`), not shown as a message.
   * `taken`: called once that module has it in the state it saves (or will
   * never want it); until then the archive keeps its bytes, and a copy the
   * server sends again (the client killed before the module saved it) is
   * given again, not dropped as taken.
   */
  | {
    kind: "secret";
    from: string;
    label: string;
    secret: Uint8Array;
    taken: () => void;
  }
  /**
   * A group message held until `/trust` accepted its sender's key
   * (`holdGroup`): group_sessions.ts opens it now, its sender key having
   * come before it.
   */
  | { kind: "group"; message: E2eGroup; body: Uint8Array }
  /** Not shown: these lines say why (errors start with "ERROR: "). */
  | { kind: "refused"; lines: string[] };

/** The identity keys seen per name (known_identities.ts). */
export interface IdentityBook {
  check(server: string, name: string, fingerprint: string): Promise<
    IdentityCheck
  >;
  accept(server: string, name: string, fingerprint: string): Promise<void>;
  /** The key remembered for `name`, or null. */
  known(server: string, name: string): string | null;
  /**
   * Another name remembered that reads like `name`, under another key than
   * `fingerprint` (KnownIdentities `lookalikeOf`), or null. Absent: none is looked for.
   */
  lookalikeOf?(server: string, name: string, fingerprint: string):
    | string
    | null;
}

/**
 * Said when a name first seen with its key reads like `known`, a name this
 * client knows by another key: an honest server binds no look-alike of a
 * name to another key (PROTOCOL 8), so the host let it in.
 */
export function lookalikeWarning(name: string, known: string): string {
  return `WARNING: ${name} looks like ${known}, whom this client knows by another identity key: a server gives nobody a name that reads like another key's, so the host of this one may be posing as ${known}. Check with ${known} before taking ${name} for them (/verify ${name})`;
}

export interface E2eSessionsOptions {
  keyring: Keyring;
  saveKeyring: (keyring: Keyring) => Promise<void>;
  identities: IdentityBook;
  state: E2eState;
  saveState: (state: E2eState) => Promise<void>;
  /** Lines to show the user at once. */
  notify: (lines: E2eLine[]) => void;
  /**
   * Whether the user /ignored `name`: what their messages cause (one that
   * does not open, their notice that one of ours did not) is not said, and
   * they are not told that theirs did not open. Absent: nobody is.
   */
  ignored?: (name: string) => boolean;
  /**
   * Told of the messages a chain skipped and of those that came after all
   * (unarrived.ts). Absent: nobody is.
   */
  unarrived?: UnarrivedMessages;
}

/** A held message sent once its recipient's new key was accepted. */
export interface Sent {
  to: string;
  text: string;
  /** Its client id: a retry on the next connection sends the same envelope. */
  cid: string;
  /** The server's answer, or a pending reply (answer_within.ts). */
  reply: Reply;
}

/** A verification state as `/list` shows it. */
export type Verification = "verified" | "unverified" | "changed";

export class E2eSessions {
  readonly #o: E2eSessionsOptions;
  #queue: Promise<unknown> = Promise.resolve();
  /** Envelopes already sealed, by cid: a retry sends the same bytes. */
  readonly #sealed = new SealedRetries<
    { envelope: Uint8Array; fingerprint: string }
  >();
  /**
   * Peers that had published no keys when asked, by peer key, and until
   * when that answer is trusted: their messages go as plain `msg` without
   * asking again until then, or until they sign in anew (clients publish at
   * sign-in: `signedIn`).
   */
  /** Who was told their message's time and the server's differ. */
  readonly #senderTimes = new SenderTimeWarnings();
  readonly #keyless = new Map<string, number>();
  /** The notices about forgotten people shown in this session. */
  readonly #noticed = new Set<string>();
  /**
   * When peers signed in, for {@link KEYS_PUBLISH_GRACE_MS}: a client
   * publishes its keys just after it signs in, so "no keys" from the server
   * then may be stale a moment later, and is not remembered.
   */
  readonly #signedInAt = new Map<string, number>();
  // These times (#keyless, #signedInAt, #toldAt) are on the monotonic clock:
  // by a wall clock set forward the wait for a peer's keys ended at once and
  // the message went in the clear; set back, "no keys" was trusted for as
  // long.
  /** Peers an unreadable notice is on its way to, by peer key. */
  readonly #telling = new Set<string>();
  /** When the recent unreadable notices were sent, oldest first. */
  #toldAt: number[] = [];

  constructor(options: E2eSessionsOptions) {
    this.#o = options;
  }

  /** Runs `fn` after every operation before it. */
  #alone<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Sends `text` to `to` end to end, or as a plain `msg` when `to` has
   * published no keys (the user is told the host can read it). A message to
   * someone whose key changed is held until `/trust`: the reply is an error
   * saying so.
   */
  sendText(
    client: ChatClient,
    to: string,
    text: string,
    cid: string,
  ): Promise<Reply> {
    return this.#alone(() =>
      this.#send(client, to, { kind: "text", text }, cid, false)
    );
  }

  /**
   * Sends a small `secret` (a file key, say) to `to` over the end-to-end
   * channel, for the module that handles `label` on their side (`Opened`
   * kind "secret"). Never in the clear: to someone without keys, or whose
   * key changed and is not accepted, the reply is an error and nothing is
   * sent. Resolves with the server's `ok` (the message's position) or an
   * error.
   */
  sendSecret(
    client: ChatClient,
    to: string,
    label: string,
    secret: Uint8Array,
    cid: string,
  ): Promise<Reply> {
    const labelBytes = new TextEncoder().encode(label).length;
    if (
      labelBytes === 0 || labelBytes > MAX_SECRET_LABEL_BYTES ||
      secret.length > MAX_SECRET_BYTES
    ) {
      return Promise.resolve(errorReply(
        "bad_request",
        `ERROR: A secret's label is 1 to ${MAX_SECRET_LABEL_BYTES} bytes and the secret at most ${MAX_SECRET_BYTES}`,
      ));
    }
    return this.#alone(() =>
      this.#send(
        client,
        to,
        { kind: "secret", label, secret: secret.slice() },
        cid,
        false,
      )
    );
  }

  /**
   * `#sendOnce`, and once more with a fresh bundle when the server says the
   * recipient's key is not the one our session is with (their name went to
   * a new key): the fetch then finds the change, and holds the message.
   */
  async #send(
    client: ChatClient,
    to: string,
    payload: Payload,
    cid: string,
    released: boolean,
  ): Promise<Reply> {
    const reply = await this.#sendOnce(client, to, payload, cid, released);
    // Only the server's answer sends it again: this client's own refusal
    // for a change not accepted (the message held, or a secret refused)
    // has the same code, and a second try held the message twice, sent
    // twice after /trust.
    if (
      reply.t !== "error" || reply.code !== "identity" || ownRefusals.has(reply)
    ) return reply;
    const key = peerKey(client.serverFingerprint, nameKey(to));
    if (!this.#o.state.sessions.delete(key)) return reply;
    await this.#o.saveState(this.#o.state);
    return await this.#sendOnce(client, to, payload, cid, released);
  }

  async #sendOnce(
    client: ChatClient,
    to: string,
    payload: Payload,
    cid: string,
    released: boolean,
  ): Promise<Reply> {
    const server = client.serverFingerprint;
    const key = peerKey(server, nameKey(to));
    const line = JSON.stringify([
      nameKey(to),
      payload.kind,
      payload.kind === "text"
        ? payload.text
        : [payload.label, toHex(payload.secret)],
    ]);
    const conflict = this.#sealed.refusal(cid, line);
    if (conflict !== null) return conflict;
    let sealed = this.#sealed.get(cid);
    if (sealed === undefined) {
      const change = this.#o.state.changes.get(key);
      if (change !== undefined && !released) {
        if (payload.kind === "secret") return secretRefused(change.name);
        change.outgoing.push({ text: payload.text, cid });
        await this.#o.saveState(this.#o.state);
        return heldReply(change.name);
      }
      const peer = await this.#peerFor(client, to, key);
      if (peer.kind === "plain") {
        // Someone whose key we know has had keys: a server that now says
        // they have none (it restarted, or it wants to read along) does
        // not get the text in the clear.
        if (this.#o.identities.known(server, to) !== null) {
          this.#keyless.delete(key);
          return errorReply(
            "no_keys",
            `ERROR: Not sent: ${to} has used end-to-end keys before, but the server has none for them now (it restarted, or is hiding them). Try again once ${to} has signed in`,
          );
        }
        if (payload.kind === "secret") {
          return errorReply(
            "no_keys",
            `ERROR: ${to} has not published end-to-end keys: a secret is never sent in the clear`,
          );
        }
        // Only about a message that went: a name nobody has (a typo) gets
        // the server's error alone, not a warning about its keys first.
        const answer = client.msg(to, payload.text, cid).then((reply) => {
          if (reply.t !== "error") {
            this.#o.notify([
              noticeLine(
                `${to} has not published end-to-end keys: this message is not end-to-end encrypted, and the host of the server can read it`,
              ),
            ]);
          }
          return reply;
        });
        return await answerWithin(answer) ?? stillPending(to, answer);
      }
      if (peer.kind === "refused") return peer.reply;
      if (peer.kind === "held") {
        if (payload.kind === "secret") return secretRefused(peer.change.name);
        peer.change.outgoing.push({ text: payload.text, cid });
        await this.#o.saveState(this.#o.state);
        return heldReply(peer.change.name);
      }
      const names = { from: nameKey(client.name ?? ""), to: nameKey(to) };
      const out = await sealEnvelope(
        peer.session.session,
        encodeContent(
          payload.kind === "text"
            // The sender's time, sealed with the text: the receiver shows
            // it, not the server's, and is told when they differ. Only to a
            // peer known to read type 3: an older client would show it as
            // an error, the text lost to them (PROTOCOL 11.7).
            ? {
              type: "text",
              ...names,
              text: payload.text,
              ...(peer.session.senderTime ? { sentAt: Date.now() } : {}),
            }
            : {
              type: "secret",
              ...names,
              label: payload.label,
              secret: payload.secret,
            },
        ),
      );
      keepSession(this.#o.state, key, {
        ...peer.session,
        session: out.session,
      });
      // Saved before it is sent: a message key must never be used twice.
      await this.#o.saveState(this.#o.state);
      sealed = {
        envelope: out.envelope,
        fingerprint: await identityFingerprint(peer.session.identity),
      };
      this.#sealed.keep(cid, line, sealed);
    }
    const answer = client.request(
      { t: "e2e_msg", to, fingerprint: sealed.fingerprint, cid },
      sealed.envelope,
    );
    const reply = await answerWithin(answer);
    if (reply === null) {
      // The queue goes on, and the line stays pending: an answer that
      // comes later is still taken (the message archived) and is the
      // line's, and the envelope is kept meanwhile for a retry.
      const kept = sealed;
      return stillPending(
        to,
        answer.then((late) =>
          this.#alone(() =>
            this.#answered(client, to, payload, cid, kept, late)
          )
        ).catch((error) =>
          // Not archived (the state could not be saved): said, not thrown.
          errorReply("internal", `ERROR: ${describe(error)}`)
        ),
      );
    }
    return await this.#answered(client, to, payload, cid, sealed, reply);
  }

  /** The server's answer to a sealed message: archived if it went. */
  async #answered(
    client: ChatClient,
    to: string,
    payload: Payload,
    cid: string,
    sealed: { envelope: Uint8Array; fingerprint: string },
    reply: Reply,
  ): Promise<Reply> {
    this.#sealed.answered(cid, reply);
    if (reply.t === "ok" && reply.id !== undefined) {
      archive(this.#o.state, {
        server: client.serverFingerprint,
        id: reply.id,
        from: client.name ?? "",
        to,
        ts: Date.now(),
        ...(payload.kind === "text"
          ? { text: payload.text }
          : { text: "", label: payload.label }),
        digest: await envelopeDigest(sealed.envelope),
      });
      await this.#o.saveState(this.#o.state);
    }
    return reply;
  }

  /**
   * The identity check of known_identities.ts; what it says about people
   * forgotten to make room is shown, each line once a session.
   */
  async #check(
    server: string,
    name: string,
    fingerprint: string,
  ): Promise<IdentityCheck> {
    const identities = this.#o.identities;
    // Looked for before the name is remembered, which would find it alone.
    const lookalike = identities.known(server, name) === null
      ? identities.lookalikeOf?.(server, name, fingerprint) ?? null
      : null;
    const check = await identities.check(server, name, fingerprint);
    if (check.kind === "first") {
      const lines = [
        ...(check.notices ?? []).map(noticeLine),
        ...(lookalike === null
          ? []
          : [warningLine(lookalikeWarning(name, lookalike))]),
      ];
      const fresh = lines.filter((line) => !this.#noticed.has(line.text));
      for (const line of fresh) this.#noticed.add(line.text);
      if (fresh.length > 0) this.#o.notify(fresh);
    }
    return check;
  }

  /**
   * {@link #check} for a send: one that throws (no room in the list for the
   * name, which a host inventing members of a group gets to; the list
   * unreadable or locked) refuses that line, and no other, rather than
   * rejecting the send, which nothing above catches.
   */
  async #checkToSend(
    server: string,
    name: string,
    fingerprint: string,
  ): Promise<IdentityCheck | { kind: "refused"; reply: Reply }> {
    try {
      return await this.#check(server, name, fingerprint);
    } catch (error) {
      return {
        kind: "refused",
        // Not `identity`, the server's answer for a name bound to another
        // key, on which #send drops the session and fetches keys again.
        reply: errorReply(
          "internal",
          `ERROR: Not sent: ${asClause(describe(error))}`,
        ),
      };
    }
  }

  /** The session to send to `to` with: ours, or a new one from their bundle. */
  async #peerFor(
    client: ChatClient,
    to: string,
    key: string,
  ): Promise<
    | { kind: "session"; session: PeerSession }
    | { kind: "plain" }
    | { kind: "held"; change: Change }
    | { kind: "refused"; reply: Reply }
  > {
    const server = client.serverFingerprint;
    const current = this.#o.state.sessions.get(key);
    if (current !== undefined) {
      const fingerprint = await identityFingerprint(current.identity);
      const check = await this.#checkToSend(server, to, fingerprint);
      if (check.kind === "refused") return check;
      if (check.kind !== "changed") {
        return { kind: "session", session: current };
      }
    }
    if ((this.#keyless.get(key) ?? 0) > performance.now()) {
      return { kind: "plain" };
    }
    this.#keyless.delete(key);
    let fetched;
    try {
      fetched = await this.#fetchBundle(client, to, key);
    } catch (error) {
      // An answer that came as the connection ended is not acted on: the
      // line is not sent on this connection either way.
      if (
        error instanceof E2eKeyError && error.code === "no_keys" &&
        !client.isOver
      ) {
        this.#rememberKeyless(key);
        return { kind: "plain" };
      }
      if (client.isOver) {
        // The connection ended before the answer: a request on it now gets
        // the reply that says so, which lets the session send the line again
        // on the next connection (with the same cid).
        return {
          kind: "refused",
          reply: await client.request({ t: "ping" }),
        };
      }
      return {
        kind: "refused",
        reply: errorReply(
          error instanceof E2eKeyError && error.code !== null
            ? error.code
            : "identity",
          `ERROR: Not sent: ${asClause(describe(error))}`,
        ),
      };
    }
    const check = await this.#checkToSend(
      server,
      fetched.name,
      fetched.fingerprint,
    );
    if (check.kind === "refused") return check;
    if (check.kind === "changed") {
      return {
        kind: "held",
        change: await this.#announce(
          key,
          fetched.name,
          fetched.fingerprint,
          check.previous,
        ),
      };
    }
    const own = this.#o.keyring;
    const session = await initiateSession({
      identity: own.identity.publicRaw,
      dh: own.bundle.dh,
      dhPair: own.secrets.dh,
    }, fetched.bundle);
    return {
      kind: "session",
      session: {
        identity: fetched.bundle.identity,
        // What their bundle announced: type 3 only if they read it.
        ...(fetched.bundle.senderTime ? { senderTime: true as const } : {}),
        session,
        previous: [],
      },
    };
  }

  /** Records a changed key (saved) and says so, loudly, once. */
  async #announce(
    key: string,
    name: string,
    fingerprint: string,
    previous: string,
  ): Promise<Change> {
    const known = this.#o.state.changes.get(key);
    if (known !== undefined && known.fingerprint === fingerprint) return known;
    const change: Change = {
      name,
      fingerprint,
      previous,
      outgoing: known?.outgoing ?? [],
      incoming: known?.incoming ?? [],
    };
    // The newest last: a peer whose key changed again moves to the end.
    this.#o.state.changes.delete(key);
    this.#o.state.changes.set(key, change);
    const forgotten = forgetOldestChanges(this.#o.state);
    await this.#o.saveState(this.#o.state);
    const [headline, ...details] = identityChangeWarning(
      name,
      previous,
      fingerprint,
    );
    this.#o.notify([
      warningLine(headline!),
      ...[
        ...details,
        `Check with ${name} (/verify ${name} shows your safety number with the new key), then accept it with /trust ${name}`,
      ].map(noticeLine),
      // Messages dropped: an error, as its "ERROR: " says, in the block.
      ...forgotten.map((change) => errorLine(forgottenLine(change))),
    ]);
    return change;
  }

  /** A new connection: who has keys is asked again. */
  connected(): void {
    this.#keyless.clear();
  }

  /** `name` signed in (a `presence`): they may have published keys now. */
  signedIn(server: string, name: string): void {
    const key = peerKey(server, nameKey(name));
    this.#keyless.delete(key);
    const now = performance.now();
    this.#signedInAt.delete(key);
    this.#signedInAt.set(key, now);
    // Oldest first (insertion order): only recent ones are needed.
    for (const [old, at] of this.#signedInAt) {
      if (now - at <= KEYS_PUBLISH_GRACE_MS) break;
      this.#signedInAt.delete(old);
    }
  }

  /**
   * The bundle of `to`; for someone who signed in moments ago and has
   * published none yet, asked again until {@link KEYS_PUBLISH_WAIT_MS} after
   * their sign-in: their client publishes just after it signs in, and a
   * greeting sent at once would otherwise go in the clear.
   *
   * @throws {E2eKeyError} as fetchBundle
   */
  async #fetchBundle(
    client: ChatClient,
    to: string,
    key: string,
  ): Promise<FetchedBundle> {
    // Never seen signing in: no wait (0 would be the process's start on
    // the monotonic clock, a wait in a process's first seconds).
    const signedIn = this.#signedInAt.get(key);
    const until = signedIn === undefined
      ? -Infinity
      : signedIn + KEYS_PUBLISH_WAIT_MS;
    for (;;) {
      try {
        return await fetchBundle(client, to);
      } catch (error) {
        const left = until - performance.now();
        if (
          !(error instanceof E2eKeyError && error.code === "no_keys") ||
          left <= 0 || client.isOver
        ) throw error;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(left, KEYS_PUBLISH_POLL_MS))
        );
      }
    }
  }

  /**
   * Remembers that `key` has no keys, unless they signed in moments ago
   * (or while we asked): their keys may be on their way, and a remembered
   * "none" would send every later message in the clear.
   */
  #rememberKeyless(key: string): void {
    const now = performance.now();
    const signedIn = this.#signedInAt.get(key);
    if (signedIn !== undefined && now - signedIn <= KEYS_PUBLISH_GRACE_MS) {
      return;
    }
    this.#keyless.set(key, now + KEYLESS_KEPT_MS);
  }

  /**
   * Opens an `e2e_private` from the server `server` for the user `self`.
   * Never throws: what cannot be opened is refused with a reason.
   */
  open(
    client: ChatClient,
    message: E2ePrivate,
    body: Uint8Array,
  ): Promise<Opened> {
    const copy = body.slice();
    return this.#alone(() => this.#open(client, message, copy, false));
  }

  /**
   * Forgets the bytes of the secret archived as `id` on `server` (Opened
   * `taken`): its module has it now, in the state saved next (its own
   * save, which keeps it).
   */
  #taken(server: string, id: number): () => void {
    return () => {
      const archived = this.#o.state.archive.get(archiveKey(server, id));
      if (archived !== undefined) delete archived.secret;
    };
  }

  async #open(
    client: ChatClient,
    message: E2ePrivate,
    body: Uint8Array,
    released: boolean,
  ): Promise<Opened> {
    const server = client.serverFingerprint;
    const from = message.from;
    // One said not to have arrived (unarrived.ts), come after all.
    let cameLate = false;
    const shown = (text: string, sentAt?: number): Opened => {
      const warnings = [
        ...(sentAt === undefined ? [] : [
          this.#senderTimes.after(from, sentAt, message.ts),
          this.#senderTimes.order(from, sentAt),
        ]),
        cameLate ? cameLateLine({ from, group: null }) : null,
      ].filter((line) => line !== null);
      return {
        kind: "message",
        message: {
          ...privateOf(message),
          ...(sentAt === undefined ? {} : { ts: sentAt }),
        },
        text,
        ...(warnings.length === 0 ? {} : { warnings }),
      };
    };
    const digest = await envelopeDigest(body);
    if (message.id !== undefined) {
      const archived = this.#o.state.archive.get(
        archiveKey(server, message.id),
      );
      // Opened before (sent again, or asked for with /history): its keys
      // are gone, the archive has it. Only for the same sender, recipient
      // and bytes: the id is the server's word, and a server must not get
      // an archived text shown as someone else's (one that does not match
      // is opened below, and fails).
      if (
        archived !== undefined &&
        nameKey(archived.from) === nameKey(from) &&
        nameKey(archived.to) === nameKey(message.to ?? client.name ?? "") &&
        (archived.digest === undefined || archived.digest === digest)
      ) {
        // A secret went to its module the first time: not again. A text
        // was shown already: again only as history, at its first time, so
        // that a server replaying it cannot pass it off as a new message.
        // A note to oneself was shown as it was sent ("Private message to
        // ..."): the copy delivered to us is not shown again (it came as
        // "[history ...] Private message from" oneself, before the line of
        // its sending); /history still shows it.
        const ownNote = message.history !== true &&
          message.to === undefined &&
          nameKey(from) === nameKey(client.name ?? "");
        if (archived.label === undefined && !ownNote) {
          return {
            kind: "message",
            message: { ...privateOf(message), ts: archived.ts, history: true },
            text: archived.text,
          };
        }
        // Its module had not kept it when this client was stopped: again.
        if (archived.label !== undefined && archived.secret !== undefined) {
          return {
            kind: "secret",
            from,
            label: archived.label,
            secret: fromBase64(archived.secret),
            taken: this.#taken(server, message.id),
          };
        }
        return { kind: "refused", lines: [] };
      }
    }
    if (message.to !== undefined) {
      return refused(
        `ERROR: Your end-to-end message to ${message.to} of ${
          isoTime(message.ts)
        } is not in this client's archive, so it cannot be shown`,
      );
    }
    const key = peerKey(server, nameKey(from));
    const change = this.#o.state.changes.get(key);
    if (change !== undefined && !released) {
      return await this.#hold(change, message, body);
    }
    // No session with them at all: whatever they sent cannot open here,
    // and they go on with theirs until told (`#tellUnreadable`).
    const noSession = !this.#o.state.sessions.has(key);
    try {
      const envelope = decodeEnvelope(body);
      const current = this.#o.state.sessions.get(key);
      const peerIdentity = envelope.init?.identity ?? current?.identity;
      if (peerIdentity === undefined) {
        // Sessions are kept with MAX_PEER_SESSIONS peers, the least recently
        // used forgotten: theirs goes on with ours until we start a new one.
        throw new Error(forgotten(from));
      }
      if (
        await identityFingerprint(peerIdentity) !== message.fingerprint
      ) {
        throw new Error(
          "it is sealed by another identity key than the one the server names",
        );
      }
      // Sessions agreed with another key than the one now trusted are not
      // used: the init of the new key starts a new one. Earlier sessions
      // with the same key are tried too: when both sides started one at
      // once, each answers on the other's, and the first reply settles it
      // (as Signal keeps its previous session states).
      const candidates = current !== undefined &&
          await identityFingerprint(current.identity) === message.fingerprint
        ? [current.session, ...current.previous]
        : [];
      // Opened on a copy of our one-time keys: nothing changes until the
      // message has passed every check below.
      // A first message may name the signed prekey before the last
      // rotation (its bundle was fetched before): that one answers it.
      const signed = envelope.init === null
        ? this.#o.keyring.secrets.signed
        : signedPrekeyFor(this.#o.keyring, envelope.init.signedId);
      if (signed === null) {
        throw new Error(
          `it was started with our signed prekey ${envelope.init?.signedId}, which is gone`,
        );
      }
      const secrets = {
        ...this.#o.keyring.secrets,
        signed,
        oneTime: new Map(this.#o.keyring.secrets.oneTime),
      };
      const oneTimeBefore = [...secrets.oneTime.keys()];
      const own = { identity: this.#o.keyring.identity.publicRaw, secrets };
      // The init of a session we hold (current or earlier) belongs to that
      // session: its later messages carry it until we answer. It is never
      // a new agreement, or a server could replay a first message made
      // without a one-time key (it can always say none are left) to show it
      // again once a newer session took over (libsignal checks the base key
      // against its previous states too).
      const init = envelope.init;
      const ours = init !== null &&
        candidates.some((c) => equalBytes(c.ephemeral, init.ephemeral));
      if (
        init !== null && !ours &&
        this.#o.state.seenInits.get(key)?.includes(toHex(init.ephemeral))
      ) {
        throw new Error("it is a first message opened before (a replay)");
      }
      const opening = ours
        ? encodeEnvelope({ init: null, message: envelope.message })
        : body;
      let out: Awaited<ReturnType<typeof openEnvelope>> | null = null;
      let used: E2eSession | null = null;
      let failure: unknown = null;
      for (const candidate of candidates) {
        try {
          out = await openEnvelope(own, peerIdentity, candidate, opening);
          // The same agreement, moved on; or a new one from the init, with
          // the candidate kept.
          if (equalBytes(out.session.ephemeral, candidate.ephemeral)) {
            used = candidate;
          }
          break;
        } catch (error) {
          failure ??= error;
        }
      }
      if (out === null) {
        // Each candidate already tried the init, if any, as a new agreement.
        if (failure !== null) throw failure;
        out = await openEnvelope(own, peerIdentity, null, body);
      }
      const content = decodeContent(out.plaintext);
      // The names inside are the sender's own: a server cannot hand one
      // user's message over as another's, even one it bound to the same key.
      if (
        content.from !== nameKey(from) ||
        content.to !== nameKey(client.name ?? "")
      ) {
        throw new Error(
          `it was written by ${content.from} for ${content.to}, not by ${from} for you`,
        );
      }

      // Only a message that opened teaches us a key for a name. Checked for
      // held messages too (`released`): /trust accepted one key, and a
      // server may have slipped in messages under another.
      const check = await this.#check(
        server,
        from,
        message.fingerprint,
      );
      if (check.kind === "changed") {
        return await this.#hold(
          await this.#announce(key, from, message.fingerprint, check.previous),
          message,
          body,
        );
      }
      // Only the one-time key this message spent leaves the keyring: keys
      // published while it was being opened (publishPrekeys runs beside
      // it, at every sign-in) were not in the copy, and putting the copy
      // back would lose their private halves while the server hands them
      // out (seen in CI: "The one-time prekey 0 is unknown").
      const live = this.#o.keyring.secrets.oneTime;
      const spent = oneTimeBefore.filter((id) => !secrets.oneTime.has(id));
      for (const id of spent) live.delete(id);
      const usedOneTime = spent.length > 0;
      // They read type 3 if they sent one, or announced it before (their
      // bundle, or an earlier message) under this same key.
      const senderTime =
        (content.type === "text" && content.sentAt !== undefined) ||
        (candidates.length > 0 && current?.senderTime === true);
      // The keys this message skipped are messages of theirs not come
      // (yet); the one it used, one that had not come before it.
      if (this.#o.unarrived !== undefined) {
        const before = used?.ratchet.skipped ?? new Map();
        const after = out.session.ratchet.skipped;
        for (const id of openedWithKept(before, after)) {
          if (this.#o.unarrived.arrived(`${key} ${id}`)) cameLate = true;
        }
        this.#o.unarrived.skipped(
          { from, group: null },
          added(before, after).map((id) => `${key} ${id}`),
        );
      }
      keepSession(this.#o.state, key, {
        identity: peerIdentity,
        ...(senderTime ? { senderTime: true as const } : {}),
        session: out.session,
        previous: candidates.filter((c) => c !== used).slice(
          0,
          MAX_PREVIOUS_SESSIONS,
        ),
      });
      // What this message made us keep of the keys it skipped, within
      // what all the sessions keep together.
      limitSkippedKeys(this.#o.state);
      if (init !== null) noteInit(this.#o.state, key, toHex(init.ephemeral));
      if (message.id !== undefined) {
        archive(this.#o.state, {
          server,
          id: message.id,
          from,
          to: client.name ?? "",
          // The time shown: the sender's, when the message carried it.
          ts: content.type === "text" && content.sentAt !== undefined
            ? content.sentAt
            : message.ts,
          ...(content.type === "text"
            ? { text: content.text }
            : content.label === UNREADABLE_LABEL
            ? { text: "", label: content.label }
            : {
              text: "",
              label: content.label,
              secret: toBase64(content.secret),
            }),
          digest,
        });
      }
      // Saved before it is shown (and so acknowledged).
      await this.#o.saveState(this.#o.state);
      if (usedOneTime) await this.#o.saveKeyring(this.#o.keyring);
      if (content.type === "secret" && content.label === UNREADABLE_LABEL) {
        const line = this.#unreadableLine(client, from, content.secret);
        return this.#o.ignored?.(from) ? unsaid() : refused(line);
      }
      return content.type === "text" ? shown(content.text, content.sentAt) : {
        kind: "secret",
        from,
        label: content.label,
        secret: content.secret,
        taken: message.id === undefined
          ? () => {}
          : this.#taken(server, message.id),
      };
    } catch (error) {
      // It came: a later message that skips its place does not say it has
      // not arrived as well (its error below says it came).
      this.#cameUnopened(key, body);
      // Someone ignored sending what does not open (garbage, say, in a
      // loop) put an ERROR line on the screen each time, and had a notice
      // sent back for it: neither, as for what they say.
      if (this.#o.ignored?.(from)) return unsaid();
      // A name refused a place in the list (a server inventing people)
      // is not told: nothing is spent on it.
      const told = noSession && message.id !== undefined &&
        !(error instanceof IdentityRefused) &&
        this.#tellUnreadable(client, from, message.id, message.ts);
      const reason = asClause(describe(error));
      const what = told
        ? `: ${from} is told which one, and their next message starts a new session`
        : reason === forgotten(from)
        ? `: /msg ${from} to start a new one, and ask them to send it again`
        : "";
      return refused(
        `ERROR: A private message from ${from} could not be opened, and is not shown: ${reason}${what}`,
      );
    }
  }

  /**
   * A message of the peer `key` came and did not open: its place on their
   * chain, as its header claims it, is not one that never came
   * (unarrived.ts). A host that forges one to hide a message it held back
   * still has this error said.
   */
  #cameUnopened(key: string, body: Uint8Array): void {
    const unarrived = this.#o.unarrived;
    if (unarrived === undefined) return;
    let id: string;
    try {
      id = claimedSkippedId(decodeEnvelope(body).message);
    } catch {
      return; // Malformed: it claims no place.
    }
    unarrived.unopened(`${key} ${id}`);
  }

  /**
   * Tells `from`, end to end, that their message `id` (of `ts`) could not
   * be opened: the notice goes after what is being done now, on the session
   * this client has with them by then or a new one from their bundle, which
   * their client takes as the one to send on (docs/PROTOCOL.md 11.7). At most
   * one on its way per peer, and {@link MAX_UNREADABLE_NOTICES} per
   * {@link UNREADABLE_WINDOW_MS} in all. Whether one goes.
   */
  #tellUnreadable(
    client: ChatClient,
    from: string,
    id: number,
    ts: number,
  ): boolean {
    const key = peerKey(client.serverFingerprint, nameKey(from));
    if (nameKey(from) === nameKey(client.name ?? "")) return false;
    if (this.#telling.has(key)) return true;
    const now = performance.now();
    this.#toldAt = this.#toldAt.filter((at) => now - at < UNREADABLE_WINDOW_MS);
    if (this.#toldAt.length >= MAX_UNREADABLE_NOTICES) return false;
    this.#toldAt.push(now);
    this.#telling.add(key);
    void this.#alone(async () => {
      try {
        const reply = await this.#send(
          client,
          from,
          {
            kind: "secret",
            label: UNREADABLE_LABEL,
            secret: encodeUnreadable(id, ts),
          },
          toHex(crypto.getRandomValues(new Uint8Array(16))),
          false,
        );
        if (reply.t === "error") throw new Error(reply.text);
      } finally {
        this.#telling.delete(key);
      }
    }).catch((error) => {
      // Not told (no keys of theirs, their key changed, the state could not
      // be saved, the connection ended): the reader, who read that they
      // are, is told what to do instead.
      this.#o.notify([
        errorLine(
          `ERROR: ${from} could not be told that their message of ${
            clockTime(ts)
          } could not be opened: ${
            asClause(describe(error))
          }; /msg ${from} to start a new one, and ask them to send it again`,
        ),
      ]);
    });
    return true;
  }

  /**
   * What an unreadable notice from `from` says to its sender: which of
   * their messages, by the archive when it holds that message as sent by
   * this user to `from`; otherwise only the server's time, as a claim.
   */
  #unreadableLine(
    client: ChatClient,
    from: string,
    secret: Uint8Array,
  ): string {
    const notice = decodeUnreadable(secret);
    if (notice === null) {
      return `ERROR: ${from} sent a notice that a message could not be read, which this client cannot decode`;
    }
    const archived = this.#o.state.archive.get(
      archiveKey(client.serverFingerprint, notice.id),
    );
    const next =
      `: their client no longer had your end-to-end session. Your next message to ${from} goes on a new one`;
    if (
      archived !== undefined &&
      nameKey(archived.from) === nameKey(client.name ?? "") &&
      nameKey(archived.to) === nameKey(from)
    ) {
      const what = archived.label === undefined
        ? `your message of ${clockTime(archived.ts)} ("${
          excerpt(archived.text)
        }")`
        : `the end-to-end key you sent at ${clockTime(archived.ts)}`;
      return `ERROR: ${from} could not read ${what}${next}: send it again`;
    }
    return `ERROR: ${from} could not read a message said to be yours, of ${
      clockTime(notice.ts)
    } by the server's clock (this client has no copy of it)${next}`;
  }

  /** Keeps `message` (saved) until the user accepts `change`, if there is room. */
  async #hold(
    change: Change,
    message: E2ePrivate | E2eGroup,
    body: Uint8Array,
  ): Promise<Opened> {
    const from = message.from;
    const what = message.t === "e2e_group"
      ? `A group message from ${from} in ${message.group}`
      : `A private message from ${from}`;
    // The same message again (the server sends what was not acknowledged
    // again, after a restart, and /history shows it again) is held once:
    // held twice, /trust showed it twice, the second time from the archive
    // as history. The delivery ledger that drops repeats by id does not see
    // these: it lives in memory, lets history that was asked for through,
    // and what /trust releases comes from here, not from the server.
    if (isHeldAlready(change, message, body)) {
      return { kind: "refused", lines: [] };
    }
    // Whoever sends them (the server can send any number), they are kept in
    // the state, which is read back whole at every start.
    if (change.incoming.length >= MAX_HELD_MESSAGES) {
      return refused(
        `ERROR: Too many messages from ${from} wait for /trust ${from} already (${MAX_HELD_MESSAGES}): ${what} is dropped`,
      );
    }
    if (heldBytes(this.#o.state) + body.length > MAX_HELD_BYTES) {
      return refused(
        `ERROR: Too many bytes of messages wait for /trust already (${MAX_HELD_BYTES}): ${what} is dropped`,
      );
    }
    change.incoming.push({ message, body: body.slice() });
    await this.#o.saveState(this.#o.state);
    return refused(
      `${what} waits until you accept their new key (/trust ${from})`,
    );
  }

  /**
   * Keeps a group message that waits for its sender key with the key change
   * of its sender, if one waits for `/trust`: the key came end to end from
   * their new identity key, so it is held with that change (`#hold`), and
   * the message opens after it once the key is accepted (`trust` gives it
   * back as kind "group"). The lines that say it waits (or was dropped,
   * past the limits); null, with nothing kept, when no change of theirs
   * waits.
   *
   * @throws {Error} if the state cannot be saved
   */
  holdGroup(
    client: ChatClient,
    message: E2eGroup,
    body: Uint8Array,
  ): Promise<string[] | null> {
    return this.#alone(async () => {
      const key = peerKey(client.serverFingerprint, nameKey(message.from));
      const change = this.#o.state.changes.get(key);
      if (change === undefined) return null;
      const held = await this.#hold(change, message, body);
      return held.kind === "refused" ? held.lines : [];
    });
  }

  /**
   * `/trust NAME`: accepts the changed key of `name`, then sends what was
   * held for them and opens what came from them meanwhile.
   */
  trust(
    client: ChatClient,
    name: string,
  ): Promise<{ lines: string[]; sent: Sent[]; opened: Opened[] }> {
    return this.#alone(async () => {
      const server = client.serverFingerprint;
      const key = peerKey(server, nameKey(name));
      const change = this.#o.state.changes.get(key);
      if (change === undefined) {
        // "Has not changed" would say a key is known: for a name never
        // seen (a typo, say) there is none to compare.
        const known = this.#o.identities.known(server, name) !== null;
        return {
          lines: [
            known
              ? `ERROR: ${name}'s identity key has not changed: there is nothing to accept`
              : `ERROR: No identity key is known for ${name}, so there is nothing to accept (/trust accepts a key that changed, after the warning that says so)`,
          ],
          sent: [],
          opened: [],
        };
      }
      await this.#o.identities.accept(server, change.name, change.fingerprint);
      this.#o.state.changes.delete(key);
      // The old session and verification were for the old key (a
      // verification of the new one, made before accepting it, stays).
      this.#o.state.sessions.delete(key);
      if (this.#o.state.verified.get(key) !== change.fingerprint) {
        this.#o.state.verified.delete(key);
      }
      await this.#o.saveState(this.#o.state);
      const sent: Sent[] = [];
      for (const held of change.outgoing) {
        sent.push({
          to: change.name,
          text: held.text,
          cid: held.cid,
          reply: await this.#send(
            client,
            change.name,
            { kind: "text", text: held.text },
            held.cid,
            true,
          ),
        });
      }
      const opened: Opened[] = [];
      for (const held of change.incoming) {
        opened.push(await this.#released(client, held));
      }
      return {
        lines: [
          `${change.name}'s new identity key ${change.fingerprint} is accepted${
            change.outgoing.length + change.incoming.length === 0
              ? ""
              : `; ${change.outgoing.length} held message(s) sent, ${change.incoming.length} opened`
          }. /verify ${change.name} to compare safety numbers`,
        ],
        sent,
        opened,
      };
    });
  }

  /** A held message, now that its sender's key is accepted. */
  #released(client: ChatClient, held: HeldMessage): Promise<Opened> {
    const { message, body } = held;
    if (message.t === "e2e_group") {
      return Promise.resolve({ kind: "group", message, body });
    }
    return this.#open(client, message, body, true);
  }

  /**
   * `/verify NAME [NUMBER]`: shows the safety number of this user (`self`)
   * and `name`, or compares it with `pasted` (60 digits) and marks `name`
   * verified when they match. `spelled`: the name as the server last spelled
   * it (`/verify bob` for Bob), said where no reply spells it anew.
   */
  verify(
    client: ChatClient,
    name: string,
    pasted: string | null,
    spelled: string = name,
  ): Promise<string[]> {
    return this.#alone(async () => {
      const server = client.serverFingerprint;
      const self = client.name ?? "";
      const key = peerKey(server, nameKey(name));
      // A changed key not accepted yet: its safety number is what to
      // compare before accepting it (the warning says to check first).
      const change = this.#o.state.changes.get(key);
      let identity: Uint8Array | undefined = change === undefined
        ? this.#o.state.sessions.get(key)?.identity
        : undefined;
      let shownName = nameKey(spelled) === nameKey(name) ? spelled : name;
      if (change !== undefined) {
        const pending = await this.#pendingKey(client, change);
        if (pending === null) {
          return [
            `ERROR: ${change.name}'s identity key has changed and is not accepted yet: /trust ${change.name} first`,
          ];
        }
        identity = pending;
        shownName = change.name;
      } else if (identity === undefined) {
        try {
          const fetched = await fetchBundle(client, name);
          const check = await this.#check(
            server,
            fetched.name,
            fetched.fingerprint,
          );
          if (check.kind === "changed") {
            await this.#announce(
              key,
              fetched.name,
              fetched.fingerprint,
              check.previous,
            );
            return [`ERROR: ${fetched.name}'s identity key has changed`];
          }
          identity = fetched.bundle.identity;
          shownName = fetched.name;
        } catch (error) {
          return [
            `ERROR: No safety number with ${shownName}: ${
              asClause(describe(error))
            }`,
          ];
        }
      }
      const number = await safetyNumber(
        {
          identityKey: this.#o.keyring.identity.publicRaw,
          nameKey: nameKey(self),
        },
        { identityKey: identity, nameKey: nameKey(name) },
      );
      const fingerprint = await identityFingerprint(identity);
      if (pasted === null && change !== undefined) {
        const groups = number.split(" ");
        return [
          `Safety number with ${shownName}'s new key, not accepted yet (the same on both sides; compare it with theirs, then /verify ${shownName} <number>):`,
          `  ${groups.slice(0, 6).join(" ")}`,
          `  ${groups.slice(6).join(" ")}`,
          this.#o.state.verified.get(key) === fingerprint
            ? `${shownName}'s new key is verified; accept it with /trust ${shownName}`
            : `${shownName}'s new key is not verified. Accept it with /trust ${shownName} once the numbers match`,
        ];
      }
      if (pasted === null) {
        const groups = number.split(" ");
        return [
          `Safety number with ${shownName} (the same on both sides; compare it with theirs, then /verify ${shownName} <number>):`,
          `  ${groups.slice(0, 6).join(" ")}`,
          `  ${groups.slice(6).join(" ")}`,
          this.#o.state.verified.get(key) === fingerprint
            ? `${shownName} is verified.`
            : `${shownName} is not verified.`,
        ];
      }
      if (pasted !== number.replaceAll(" ", "")) {
        return [
          `ERROR: The safety numbers differ: ${shownName} is NOT verified. Someone may be between you, or one of you has a new key`,
        ];
      }
      this.#o.state.verified.set(key, fingerprint);
      await this.#o.saveState(this.#o.state);
      return [
        `The safety numbers match: ${shownName} (key ${fingerprint}) is marked verified${
          change === undefined
            ? ""
            : `; accept the new key with /trust ${shownName}`
        }`,
      ];
    });
  }

  /**
   * The identity key of a change not accepted yet, as the server hands it
   * out now; null when it hands out another (or none).
   */
  async #pendingKey(
    client: ChatClient,
    change: Change,
  ): Promise<Uint8Array | null> {
    try {
      const fetched = await fetchBundle(client, change.name);
      return fetched.fingerprint === change.fingerprint
        ? fetched.bundle.identity
        : null;
    } catch {
      return null;
    }
  }

  /**
   * Whether `name`'s key on `server` is verified: `changed` when the key
   * verified is not `fingerprint`, the one the server names now; null when
   * no key is known.
   */
  verification(
    server: string,
    name: string,
    fingerprint: string | undefined,
  ): Verification | null {
    const verified = this.#o.state.verified.get(peerKey(server, nameKey(name)));
    if (verified === undefined) {
      return fingerprint === undefined ? null : "unverified";
    }
    return fingerprint === undefined || fingerprint === verified
      ? "verified"
      : "changed";
  }
}

/** What is sent: a text, or a secret for another module. */
type Payload =
  | { kind: "text"; text: string }
  | { kind: "secret"; label: string; secret: Uint8Array };

/** What an envelope holds: who wrote it, for whom (name keys), and what. */
export type Content =
  | {
    type: "text";
    from: string;
    to: string;
    text: string;
    /**
     * The sender's clock when it sealed the text (epoch ms): sent as type
     * 3; absent in type 1, which older clients send.
     */
    sentAt?: number;
  }
  | {
    type: "secret";
    from: string;
    to: string;
    label: string;
    secret: Uint8Array;
  };

/**
 * The plaintext of a message (docs/PROTOCOL.md 11.7):
 * `u8 type || u8 n || from (n bytes) || u8 m || to (m bytes) || rest`, with
 * rest the UTF-8 text (type 1), `u8 l || label (l bytes) || secret`
 * (type 2), or `u64be sender's time (epoch ms) || UTF-8 text` (type 3).
 */
export function encodeContent(content: Content): Uint8Array {
  const encoder = new TextEncoder();
  const from = encoder.encode(content.from);
  const to = encoder.encode(content.to);
  if (from.length > 255 || to.length > 255) {
    throw new RangeError("A name key is at most 255 bytes");
  }
  let rest: Uint8Array;
  if (content.type === "text" && content.sentAt !== undefined) {
    if (!Number.isSafeInteger(content.sentAt) || content.sentAt < 0) {
      throw new RangeError("A sender's time is a whole number of ms from 0");
    }
    const text = encoder.encode(content.text);
    rest = new Uint8Array(8 + text.length);
    new DataView(rest.buffer).setBigUint64(0, BigInt(content.sentAt));
    rest.set(text, 8);
  } else if (content.type === "text") rest = encoder.encode(content.text);
  else {
    const label = encoder.encode(content.label);
    rest = new Uint8Array(1 + label.length + content.secret.length);
    rest[0] = label.length;
    rest.set(label, 1);
    rest.set(content.secret, 1 + label.length);
  }
  const out = new Uint8Array(3 + from.length + to.length + rest.length);
  out[0] = content.type === "text" && content.sentAt !== undefined
    ? ContentType.timedText
    : ContentType[content.type];
  out[1] = from.length;
  out.set(from, 2);
  out[2 + from.length] = to.length;
  out.set(to, 3 + from.length);
  out.set(rest, 3 + from.length + to.length);
  return out;
}

/**
 * A plaintext's content.
 *
 * @throws {Error} if it is malformed or of a type this client does not know
 */
export function decodeContent(plaintext: Uint8Array): Content {
  const type = plaintext[0];
  if (
    type !== ContentType.text && type !== ContentType.secret &&
    type !== ContentType.timedText
  ) {
    throw new Error(
      `it holds content of type ${type}, which this client cannot show`,
    );
  }
  const decoder = new TextDecoder();
  const n = plaintext[1];
  const m = n === undefined ? undefined : plaintext[2 + n];
  if (n === undefined || m === undefined || 3 + n + m > plaintext.length) {
    throw new Error("its content is malformed");
  }
  const from = decoder.decode(plaintext.subarray(2, 2 + n));
  const to = decoder.decode(plaintext.subarray(3 + n, 3 + n + m));
  const rest = plaintext.subarray(3 + n + m);
  if (type === ContentType.text) {
    return { type: "text", from, to, text: decoder.decode(rest) };
  }
  if (type === ContentType.timedText) {
    if (rest.length < 8) throw new Error("its sender's time is malformed");
    const sentAt = new DataView(rest.buffer, rest.byteOffset, 8)
      .getBigUint64(0);
    // Past 2^53 it is no time a clock gives: refused, not rounded.
    if (sentAt > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Error("its sender's time is out of range");
    }
    return {
      type: "text",
      from,
      to,
      text: decoder.decode(rest.subarray(8)),
      sentAt: Number(sentAt),
    };
  }
  const l = rest[0];
  if (l === undefined || l === 0 || 1 + l > rest.length) {
    throw new Error("its secret is malformed");
  }
  return {
    type: "secret",
    from,
    to,
    label: decoder.decode(rest.subarray(1, 1 + l)),
    secret: rest.slice(1 + l),
  };
}

/**
 * The secret of an unreadable notice (docs/PROTOCOL.md 11.7):
 * `u8 version (1) || u64be server id || u64be ts`, 17 bytes.
 */
export function encodeUnreadable(id: number, ts: number): Uint8Array {
  const out = new Uint8Array(17);
  const view = new DataView(out.buffer);
  view.setUint8(0, UNREADABLE_VERSION);
  view.setBigUint64(1, BigInt(id));
  view.setBigUint64(9, BigInt(ts));
  return out;
}

/** An unreadable notice's message id and time, or null if malformed. */
export function decodeUnreadable(
  secret: Uint8Array,
): { id: number; ts: number } | null {
  if (secret.length !== 17 || secret[0] !== UNREADABLE_VERSION) return null;
  const view = new DataView(secret.buffer, secret.byteOffset, 17);
  const id = view.getBigUint64(1);
  const ts = view.getBigUint64(9);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (id > max || ts > max) return null;
  return { id: Number(id), ts: Number(ts) };
}

/** Why a message from `from` cannot open when no session with them is left. */
function forgotten(from: string): string {
  return `this client forgot its session with ${from} (it keeps those with the ${MAX_PEER_SESSIONS} people it wrote with most recently) or never had one`;
}

/** Local `HH:MM`, with the date before it when not today. */
function clockTime(ts: number): string {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return `time ${ts}`;
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  const today = new Date();
  return date.toDateString() === today.toDateString()
    ? time
    : `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${
      pad(date.getDate())
    } ${time}`;
}

const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The start of a text, on one line, for naming the message it is: its
 * first 40 graphemes, cut between two, never inside an emoji joined with
 * ZWJ, a flag or a letter and its accents (a piece would show as another
 * emoji, or as a stray joiner made visible).
 */
export function excerpt(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  let end = 0;
  let count = 0;
  for (const { segment } of GRAPHEMES.segment(line)) {
    if (count === 40) return `${line.slice(0, end)}...`;
    end += segment.length;
    count++;
  }
  return line;
}

/** A server's time as ISO 8601; any safe integer may come, not every one is a date. */
function isoTime(ts: number): string {
  const date = new Date(ts);
  return Number.isNaN(date.getTime()) ? `time ${ts}` : date.toISOString();
}

/**
 * The refusals this client makes itself for a change not accepted, with the
 * server's code for a key that is not the one named (`#send` tells them
 * apart).
 */
const ownRefusals = new WeakSet<Reply>();

function secretRefused(name: string): Reply {
  return ownRefusal(
    "identity",
    `ERROR: Not sent: ${name}'s identity key has changed and is not accepted (/trust ${name})`,
  );
}

/**
 * Whether `change` holds this message already: the same kind, server id and
 * sealed bytes (a different body under an id is held too, and refused when
 * opened, so that a server cannot keep one from being shown by sending a
 * fake under its id first).
 */
function isHeldAlready(
  change: Change,
  message: E2ePrivate | E2eGroup,
  body: Uint8Array,
): boolean {
  if (message.id === undefined) return false;
  return change.incoming.some((held) =>
    held.message.t === message.t && held.message.id === message.id &&
    equalBytes(held.body, body)
  );
}

/**
 * Forgets the changes waiting longest past {@link MAX_KEY_CHANGES}; returns
 * them. Their keys stay unaccepted (known_identities.ts keeps the old one),
 * so the peer's next message, or the next one to them, announces it again.
 */
function forgetOldestChanges(state: E2eState): Change[] {
  const forgotten: Change[] = [];
  for (const [key, change] of state.changes) {
    if (state.changes.size <= MAX_KEY_CHANGES) break;
    state.changes.delete(key);
    forgotten.push(change);
  }
  return forgotten;
}

function forgottenLine(change: Change): string {
  const held = [
    change.incoming.length > 0
      ? `${change.incoming.length} message(s) from ${change.name} waiting for it are dropped`
      : "",
    change.outgoing.length > 0
      ? `${change.outgoing.length} of yours to ${change.name} are not sent`
      : "",
  ].filter((part) => part !== "").join(", and ");
  return `ERROR: Too many changed identity keys wait for /trust (${MAX_KEY_CHANGES}): the oldest, ${change.name}'s, is forgotten${
    held === "" ? "" : `: ${held}`
  }. It is announced again at their next message, or your next one to them`;
}

/** Bytes of the messages held for `/trust`, from every peer. */
function heldBytes(state: E2eState): number {
  let bytes = 0;
  for (const change of state.changes.values()) {
    for (const held of change.incoming) bytes += held.body.length;
  }
  return bytes;
}

function privateOf(message: E2ePrivate): PrivateMessage {
  const { fingerprint: _, t: __, ...rest } = message;
  return { t: "private", ...rest };
}

function heldReply(name: string): Reply {
  return ownRefusal(
    "identity",
    `ERROR: Not sent yet: ${name}'s identity key has changed. The message is held until you accept the new key with /trust ${name}`,
  );
}

function ownRefusal(code: "identity", text: string): Reply {
  const reply = errorReply(code, text);
  ownRefusals.add(reply);
  return reply;
}

function errorReply(
  code: Extract<Reply, { t: "error" }>["code"],
  text: string,
): Reply {
  return { t: "error", re: null, code, text };
}

/** Refused, and nothing said: it came from someone ignored. */
function unsaid(): Opened {
  return { kind: "refused", lines: [] };
}

function refused(line: string): Opened {
  return { kind: "refused", lines: [line] };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
