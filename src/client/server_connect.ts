/**
 * Reaching the session's server: the first of its addresses that answers,
 * and a check that it presents the key the user trusts (pinned, or
 * remembered in known_hosts, or asked about at first contact); and what to
 * tell the user when that fails.
 *
 * @module
 */

import {
  CutInHandshakeError,
  HandshakeTimeoutError,
  messageOf,
} from "../transport/secure_channel.ts";
import { ChatClient } from "./chat_client.ts";
import {
  changedKeyMessage,
  hostKeyOf,
  type KnownHosts,
} from "./known_hosts.ts";
import {
  type Asker,
  askFirstContact,
  type FirstContact,
  firstContactDeclined,
  firstContactRefusal,
} from "./first_contact.ts";
import { KeyMismatchError } from "../crypto/handshake.ts";
import { frameAead } from "../crypto/native_aead.ts";
import { nativeRoomCrypto } from "../crypto/native_room.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { FIRST_CONNECT_TRIES, reconnectDelay } from "./reconnect_status.ts";
import {
  openTerminalConnection,
  TlsHandshakeError,
} from "../transport/tcp_websocket.ts";
import { WebSocketUpgradeError } from "../transport/websocket_upgrade.ts";
import {
  cutInHandshakeText,
  notAnsweredInTimeText,
} from "./first_connect_lines.ts";
import { type RefusedUpgrade, upgradeRefusal } from "./upgrade_refusal.ts";

/** How the client knows it reached the right server. */
export type ServerTrust =
  /** The key the user gave (--pub, from `path`): anything else is refused. */
  | { kind: "pinned"; spki: Uint8Array; path: string }
  /**
   * The key remembered for that host (known_hosts); a host not known yet is
   * asked about, trusted or refused as `firstContact` says.
   */
  | { kind: "known-hosts"; hosts: KnownHosts; firstContact: FirstContact };

/**
 * Which of the session's addresses it is connected to (or was last), and
 * the server key it reached there: the key every other address of the
 * session must present (the nodes of one chat share it). `key` is null
 * until known.
 */
export interface ServerNode {
  index: number;
  key: string | null;
}

/** The server is not the one the user trusts, or the user did not trust it. */
export class ServerTrustError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServerTrustError";
  }
}

/**
 * The key remembered for one of `urls` (known hosts), which the others
 * must present too; null if none is known, or for a pinned key (checked in
 * the handshake).
 */
export function knownKey(
  urls: readonly string[],
  trust: ServerTrust,
): string | null {
  if (trust.kind !== "known-hosts") return null;
  for (const url of urls) {
    const key = trust.hosts.lookup(hostKeyOf(url));
    if (key !== null) return key;
  }
  return null;
}

/**
 * Connects to the first of `urls` that answers, in order, and records in
 * `node` which it was and its key. A key that is not the server's ends the
 * search: another address would not make it right.
 */
export async function connectFirst(
  urls: readonly string[],
  node: ServerNode,
  trust: ServerTrust,
  asker: Asker,
): Promise<ChatClient> {
  const failures: { url: string; error: unknown }[] = [];
  for (const [index, url] of urls.entries()) {
    try {
      const client = await connectTrusted(url, trust, asker, node);
      node.index = index;
      return client;
    } catch (error) {
      if (error instanceof ServerTrustError || urls.length === 1) throw error;
      failures.push({ url, error });
    }
  }
  throw new NoServerError(failures);
}

/**
 * The wait before trying again when `error` is a refusal that passes, as
 * the server says on the wire: a 503 with `Retry-After` whose reason says
 * to try again (its address's handshake rate, or too many connections
 * still starting: docs/PROTOCOL.md 1.1, README "Limits"), with that
 * reason and the address that gave it (`url` for a single one's). Null
 * for anything else (a full server, too many connections from the
 * address: waiting does not help); 1 to 30 s whatever a server asks.
 * With several addresses, none of which let the client in (NoServerError),
 * the one of them that asks for the shortest wait: another may be down
 * (its node killed), and the one that is up lets the client in once its
 * address's rate allows.
 */
function passingRefusal(
  error: unknown,
  url: string,
): { seconds: number; reason: string; url: string } | null {
  if (error instanceof NoServerError) {
    let soonest: { seconds: number; reason: string; url: string } | null = null;
    for (const failure of error.failures) {
      const refusal = passingRefusal(failure.error, failure.url);
      if (
        refusal !== null && (soonest?.seconds ?? Infinity) > refusal.seconds
      ) {
        soonest = refusal;
      }
    }
    return soonest;
  }
  if (
    !(error instanceof WebSocketUpgradeError) || error.status !== 503 ||
    error.retryAfter === null || error.reason === null ||
    !/try again/i.test(error.reason)
  ) return null;
  const seconds = Math.min(Math.max(error.retryAfter, 1), 30);
  return { seconds, reason: error.reason, url };
}

/**
 * Whether `error` (or, with several addresses, one of the failures among
 * them) is a handshake that did not finish for a reason that may pass: a
 * connection the server cut in it with no Close frame
 * (CutInHandshakeError: as the server cuts the oldest connection still in
 * its handshake of the address holding the most when another address
 * needs the room at its cap, docs/PROTOCOL.md 1.1, or a network that
 * dropped it on the way), or a server that did not answer it within the
 * deadline (HandshakeTimeoutError: its RSA work queued behind a whole
 * class's). What happened at which address, or null for anything else.
 */
function handshakeThatMayPass(
  error: unknown,
  url: string,
): { url: string; how: "cut" | "timeout"; error: Error } | null {
  if (error instanceof NoServerError) {
    for (const failure of error.failures) {
      const passing = handshakeThatMayPass(failure.error, failure.url);
      if (passing !== null) return passing;
    }
    return null;
  }
  if (error instanceof CutInHandshakeError) return { url, how: "cut", error };
  if (error instanceof HandshakeTimeoutError) {
    return { url, how: "timeout", error };
  }
  return null;
}

/** A wait of the first connection before its next try (firstConnectWait). */
export interface FirstConnectWait {
  ms: number;
  /** Why it waits, and how many more tries there are: said at the first wait. */
  text: string;
  /** Why the try failed, in a line's words (for a program's event). */
  reason: string;
}

/**
 * What the first connection waits before trying again after `error`, and
 * why, or null for a failure another try would not change (a wrong key, a
 * full server, a protocol version not spoken): said at once. A refusal
 * that passes waits as the server asks (passingRefusal); a handshake cut
 * or not answered in time, which says nothing, waits as the page does and
 * as a reconnection does (reconnectDelay).
 */
export function firstConnectWait(
  error: unknown,
  url: string,
  attempt: number,
  random: () => number = Math.random,
): FirstConnectWait | null {
  const tries = `up to ${FIRST_CONNECT_TRIES - 1} times`;
  const refusal = passingRefusal(error, url);
  if (refusal !== null) {
    return {
      ms: refusal.seconds * 1000,
      text:
        `The server at ${refusal.url} refused the connection for now (${refusal.reason}): trying again in ${refusal.seconds} s, ${tries}`,
      reason: explainConnectError(error, url),
    };
  }
  const passing = handshakeThatMayPass(error, url);
  if (passing === null) return null;
  return {
    ms: reconnectDelay(attempt, random),
    text: passing.how === "cut"
      ? `${cutInHandshakeText(passing.url)}: trying again, ${tries}`
      : `${
        notAnsweredInTimeText(passing.url, passing.error.message)
      }: trying again, ${tries}`,
    reason: explainConnectError(passing.error, passing.url),
  };
}

/**
 * One wait of the first connection: `attempt` (2, 3, ...) is the try it
 * waits for, at `retryAt` (epoch ms); `why` (firstConnectWait's text) at
 * the first wait only, null after; `reason`: why the last try failed.
 */
export interface FirstConnectPause {
  attempt: number;
  retryAt: number;
  seconds: number;
  why: string | null;
  reason: string;
}

/**
 * connectFirst, tried again while the server turns it away for a while
 * (firstConnectWait), up to FIRST_CONNECT_TRIES in all: a class starting
 * `chat connect` at the same second from one address meets its handshake
 * rate (30 at once, then 10 a second), and a class from many addresses
 * the server's cap of connections still starting, past which it cuts the
 * oldest handshake of the address holding the most, or a server busy with
 * them all answers late. `waiting` is told of every wait (why, at the
 * first).
 */
export async function connectFirstPatiently(
  urls: readonly string[],
  node: ServerNode,
  trust: ServerTrust,
  asker: Asker,
  waiting: (pause: FirstConnectPause) => void,
): Promise<ChatClient> {
  for (let attempt = 1;; attempt++) {
    try {
      return await connectFirst(urls, node, trust, asker);
    } catch (error) {
      // Several addresses fail as one NoServerError: a refusal that passes
      // among them is waited for as a single address's is.
      const wait = firstConnectWait(error, urls[0]!, attempt);
      if (wait === null || attempt >= FIRST_CONNECT_TRIES) throw error;
      waiting({
        attempt: attempt + 1,
        retryAt: Date.now() + wait.ms,
        seconds: Math.max(1, Math.round(wait.ms / 1000)),
        why: attempt === 1 ? sanitizeForTerminal(wait.text) : null,
        reason: wait.reason,
      });
      await new Promise((resolve) => setTimeout(resolve, wait.ms));
    }
  }
}

/** None of the session's addresses let the client in; the message says why, each. */
class NoServerError extends Error {
  readonly failures: readonly { url: string; error: unknown }[];

  constructor(failures: readonly { url: string; error: unknown }[]) {
    super(
      failures.map(({ url, error }) => explainConnectError(error, url)).join(
        "; ",
      ),
    );
    this.name = "NoServerError";
    this.failures = failures;
  }
}

/** Whether connecting will ask the user about the server's key. */
export function asksFirst(url: string, trust: ServerTrust): boolean {
  return trust.kind === "known-hosts" && trust.firstContact === "ask" &&
    trust.hosts.lookup(hostKeyOf(url)) === null;
}

/**
 * Connects and checks the server's key: against the pinned key (in the
 * handshake itself), or against the one remembered for this host. A host not
 * known yet is asked about, trusted or refused (see first_contact.ts). Nothing
 * but the handshake happens before the check.
 */
export async function connectTrusted(
  url: string,
  trust: ServerTrust,
  asker: Asker,
  node: ServerNode,
): Promise<ChatClient> {
  const client = await connectChecked(url, trust, asker, node.key);
  node.key = client.serverFingerprint;
  return client;
}

/**
 * connectTrusted's check. `sameAs`: the key another address of this
 * session presented (or is remembered with): a new address that presents
 * it is another node of the same server, remembered without asking.
 */
async function connectChecked(
  url: string,
  trust: ServerTrust,
  asker: Asker,
  sameAs: string | null,
): Promise<ChatClient> {
  let client: ChatClient;
  try {
    client = await ChatClient.connect(url, {
      ...(trust.kind === "pinned" ? { pinnedSpki: trust.spki } : {}),
      smallFrames: frameAead,
      roomCrypto: nativeRoomCrypto,
      openConnection: openTerminalConnection,
    });
  } catch (error) {
    if (error instanceof KeyMismatchError && trust.kind === "pinned") {
      throw new ServerTrustError(
        `Server key mismatch: expected ${error.expected} (from '${trust.path}'), ` +
          `the server presented ${error.presented}. Someone may be intercepting ` +
          `the connection, or '${trust.path}' is not this server's key. Refusing ` +
          `to connect; get the server's public key from its operator and pass it with --pub FILE`,
      );
    }
    throw error;
  }
  if (trust.kind === "pinned") return client;
  const { hosts } = trust;
  const host = hostKeyOf(url);
  const presented = client.serverFingerprint;
  const check = hosts.check(host, presented);
  switch (check.status) {
    case "known":
      return client;
    case "changed":
      client.abort();
      throw new ServerTrustError(
        changedKeyMessage(
          host,
          check.expected,
          presented,
          hosts.path,
          hosts.lineNumbers(host),
        ),
      );
    case "new":
      if (sameAs === null) break;
      if (presented !== sameAs) {
        client.abort();
        throw new ServerTrustError(
          `${host} presented the key ${presented}, not the key ${sameAs} of the server's other addresses: it is not a node of the same server. Refusing to connect to it`,
        );
      }
      await hosts.remember(host, presented);
      asker.print(
        `${host} presented the same key as the server's other addresses (${presented}); remembering it in ${hosts.path}.`,
      );
      return client;
    default: {
      const unreachable: never = check;
      return unreachable;
    }
  }
  switch (trust.firstContact) {
    case "refuse":
      client.abort();
      throw new ServerTrustError(firstContactRefusal(host, presented));
    case "ask":
      if (!await askFirstContact(asker, host, presented)) {
        client.abort();
        throw new ServerTrustError(firstContactDeclined(host));
      }
      await hosts.remember(host, presented);
      asker.print(
        `Permanently added '${host}' to the list of known servers (${hosts.path}).`,
      );
      // The server stops waiting for a name after a while: if it gave up
      // while the user read the fingerprint, connect again (now known). A
      // round trip tells, where the close may still be on its way.
      if (client.isOver || (await client.request({ t: "ping" })).t !== "pong") {
        client.abort();
        return await connectChecked(url, trust, asker, sameAs);
      }
      return client;
    case "trust":
      await hosts.remember(host, presented);
      asker.print(
        `First connection to ${host}: its key is ${presented}. Remembering it in ${hosts.path}; compare it with what the server printed.`,
      );
      return client;
    default: {
      const unreachable: never = trust.firstContact;
      return unreachable;
    }
  }
}

export function explainConnectError(error: unknown, url: string): string {
  // Already explained, address by address.
  if (error instanceof NoServerError) return sanitizeForTerminal(error.message);
  if (error instanceof ServerTrustError) return error.message;
  if (refusedWithStatus(error)) {
    return sanitizeForTerminal(upgradeRefusal(error, url));
  }
  if (error instanceof TlsHandshakeError) {
    return sanitizeForTerminal(tlsFailure(error, url));
  }
  // A failed handshake's message may quote what the server sent.
  return sanitizeForTerminal(describeConnectError(error, url));
}

/**
 * A wss:// address whose TLS failed. A certificate refused is most likely
 * the self-signed one `chat serve` makes for browsers (README, "Over
 * HTTPS"): the same port speaks ws://, where chat's own handshake checks
 * the server's key, so that is offered; trusting the certificate is the
 * other way. Nothing is tried without TLS unasked.
 */
function tlsFailure(error: TlsHandshakeError, url: string): string {
  if (!error.untrusted) return `Cannot connect to ${url}: ${error.message}`;
  const target = new URL(url);
  const plain = `ws://${target.hostname}:${target.port || "443"}`;
  return `Cannot connect to ${url}: ${error.message}. If it is the certificate 'chat serve' makes for browsers, connect to ${plain} instead (chat encrypts and checks the server's key on its own), or trust the certificate with DENO_CERT=FILE`;
}

/**
 * An HTTP answer to the upgrade with another status than 101 (a 101
 * without the upgrade's fields is a broken answer, said as such).
 */
function refusedWithStatus(error: unknown): error is RefusedUpgrade {
  return error instanceof WebSocketUpgradeError && error.status !== null &&
    error.status !== 101;
}

function describeConnectError(error: unknown, url: string): string {
  // Nothing listens on the port: Deno's ConnectionRefused, whatever words
  // the platform gives it.
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Cannot connect to ${url}: connection refused. Is 'chat serve' running there?`;
  }
  const reason = messageOf(error);
  return reason.startsWith("Cannot")
    ? reason
    : `Cannot connect to ${url}: ${reason}`;
}
