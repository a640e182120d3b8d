/**
 * What the hostile end-to-end tests share (tests/e2e/hostile_e2e_test.ts,
 * hostile_group_e2e_test.ts, hostile_file_keys_test.ts): a real `chat
 * connect` signed in as bob by a server written here from the protocol
 * (docs/PROTOCOL.md 5.3, 11.2), not ours, which takes the keys bob
 * publishes; and Alice, a peer written from the protocol (11.3-11.7) who
 * starts a session with that bundle and hands the test what she seals, for
 * the server to deliver as it likes.
 */

import { join } from "node:path";
import { createKeyring } from "../../src/client/e2e_keys.ts";
import { type Content, encodeContent } from "../../src/client/e2e_sessions.ts";
import { randomBytes, toBase64 } from "../../src/crypto/bytes.ts";
import {
  type E2eSession,
  initiateSession,
  sealEnvelope,
} from "../../src/crypto/e2e_envelope.ts";
import {
  IDENTITY_PROOF_VERSION,
  identityFingerprint,
} from "../../src/crypto/identity.ts";
import {
  decodeBundle,
  encodeBundle,
  type PrekeyBundle,
} from "../../src/crypto/prekeys.ts";
import { parseClientMessage } from "../../src/protocol/parse_client_message.ts";
import type {
  ClientMessage,
  ServerMessage,
} from "../../src/protocol/messages.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import { testIdentity, testKeys } from "./chat.ts";
import { type HostileServer, startHostileServer } from "./hostile_server.ts";
import { ChatProcess } from "./process.ts";

/**
 * The members a hostile server lists for a group asked about: names, or
 * names under another group's name; null: it keeps no list of that group;
 * "unanswered": it never answers the request (a stalled server).
 */
export type MembersOf = (
  group: string,
) => string[] | { group: string; names: string[] } | null | "unanswered";

/** A hostile server with bob signed in, his keys taken, and Alice ready. */
export interface HostileE2e {
  /** `chat connect` as bob. */
  bob: ChatProcess;
  /** The server's end of bob's connection. */
  channel: SecureChannel;
  /** The bundle bob published, with its first one-time key only. */
  bundle: PrekeyBundle;
  alice: HostileAlice;
  /** bob's folder (config, downloads), removed at the end. */
  dir: string;
  /** The server, for bob's reconnections (`sessionAt`). */
  server: HostileServer;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a hostile server and `chat connect --user bob` (with the arguments
 * `args` gives for bob's folder) against it, signs bob in and waits for his published keys. `onOther` gets every
 * client message the server does not answer itself (file messages, say).
 * `tty`: bob's input and output are a terminal (an interactive session).
 * `refusePublish`: every key publish is refused (`limit`), so that bob's
 * client holds keys the server says nothing of; `"one_time"`: only those
 * carrying one-time keys are, the first (empty) one taken, so that the
 * server holds bob's bundle all the same.
 */
export async function startHostileE2e(
  prefix: string,
  args: (dir: string) => string[] = () => [],
  onOther: (message: ClientMessage, body: Uint8Array) => void = () => {},
  members?: MembersOf,
  { tty = false, refusePublish = false }: {
    tty?: boolean;
    refusePublish?: boolean | "one_time";
  } = {},
): Promise<HostileE2e> {
  const server = await startHostileServer();
  const dir = await Deno.makeTempDir({ prefix });
  let bob: ChatProcess | null = null;
  const dispose = async () => {
    if (bob !== null) {
      bob.kill("SIGKILL");
      await bob.finish();
    }
    await server[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const pub = join(dir, "server.pub");
    await Deno.writeTextFile(pub, (await testKeys()).publicPem);
    bob = new ChatProcess([
      "connect",
      server.url.replace("ws://", ""),
      "--pub",
      pub,
      "--user",
      "bob",
      ...args(dir),
    ], { env: { XDG_CONFIG_HOME: join(dir, "config") }, tty });
    const channel = await server.session;
    const bundle = await serveSignIn(channel, onOther, members, {
      refusePublish,
    });
    const alice = await HostileAlice.create(bundle);
    return {
      bob,
      channel,
      bundle,
      alice,
      dir,
      server,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * Plays the server's part of sign-in and key publishing for bob; resolves
 * with the bundle the client published (with its first one-time key), the
 * bundle it tried to publish when `refusePublish` refuses each.
 */
export function serveSignIn(
  channel: SecureChannel,
  onOther: (message: ClientMessage, body: Uint8Array) => void,
  members?: MembersOf,
  { refusePublish = false }: { refusePublish?: boolean | "one_time" } = {},
): Promise<PrekeyBundle> {
  const published = Promise.withResolvers<PrekeyBundle>();
  (async () => {
    for (;;) {
      const batch = await channel.receive();
      if (batch === null) return;
      for (const { header, body } of batch) {
        const message = parseClientMessage(header);
        const answer = (reply: ServerMessage) => channel.send(reply);
        switch (message.t) {
          case "register":
            answer({
              t: "challenge",
              re: message.id,
              nonce: toBase64(randomBytes(32)),
              proof: IDENTITY_PROOF_VERSION,
            });
            break;
          case "prove":
            answer({
              t: "welcome",
              re: message.id,
              name: "bob",
              text: "SUCCESS: Username registered.",
              acks: true,
              cids: true,
            });
            break;
          case "e2e_keys": {
            const bundle = decodeBundle(
              JSON.parse(new TextDecoder().decode(body)),
            );
            const refused = refusePublish === "one_time"
              ? bundle.oneTime.length > 0
              : refusePublish;
            answer(
              refused
                ? {
                  t: "error",
                  re: message.id,
                  code: "limit",
                  text: "ERROR: This test server takes no keys",
                }
                : {
                  t: "e2e_keys",
                  re: message.id,
                  one_time: bundle.oneTime.length,
                },
            );
            if (bundle.oneTime.length > 0) {
              published.resolve({ ...bundle, oneTime: [bundle.oneTime[0]!] });
            } else if (refusePublish === true) {
              // Refused at the first (empty) one: no more come.
              published.resolve(bundle);
            }
            break;
          }
          case "list":
            answer({ t: "users", re: message.id, users: [] });
            break;
          case "groups":
            // No groups kept here: the list says it left them out, and a
            // client takes the sender keys it judges by it as it would from
            // a server that cannot say.
            answer({ t: "groups", re: message.id, groups: [], more: 1 });
            break;
          case "members": {
            // The members of a group `members` gives, all online, under
            // the name it gives (the group asked about unless it says).
            const listed = message.group === undefined
              ? null
              : members?.(message.group) ?? null;
            if (listed === "unanswered") break;
            if (listed !== null && message.group !== undefined) {
              const { group, names } = Array.isArray(listed)
                ? { group: message.group, names: listed }
                : listed;
              answer({
                t: "members",
                re: message.id,
                groups: [{ group, members: names, online: names }],
              });
              break;
            }
            answer({
              t: "error",
              re: message.id,
              code: "internal",
              text: "ERROR: this test server keeps no member lists",
            });
            break;
          }
          case "ping":
            answer({ t: "pong", re: message.id });
            break;
          case "bye":
            channel.close();
            return;
          default:
            onOther(message, body);
            break;
        }
      }
    }
  })().catch(published.reject);
  return published.promise;
}

/**
 * The server's answer to bob's e2e_bundle request (`message`): `peer`'s
 * bundle and fingerprint, under the name bob asked about.
 */
export function answerBundle(
  channel: SecureChannel,
  message: { id: number; name: string },
  peer: HostileAlice,
): void {
  channel.send(
    {
      t: "e2e_bundle",
      re: message.id,
      name: message.name,
      fingerprint: peer.fingerprint,
    },
    new TextEncoder().encode(JSON.stringify(encodeBundle(peer.bundle))),
  );
}

/**
 * Alice, from the protocol: X3DH with bob's bundle (11.3), then the ratchet;
 * she numbers what the server delivers from her (`id` and `seq`, one
 * counter for every conversation).
 */
export class HostileAlice {
  readonly fingerprint: string;
  /** Her own bundle, as she would publish it (with every one-time key). */
  readonly bundle: PrekeyBundle;
  #session: E2eSession;
  #id = 0;

  private constructor(
    fingerprint: string,
    bundle: PrekeyBundle,
    session: E2eSession,
  ) {
    this.fingerprint = fingerprint;
    this.bundle = bundle;
    this.#session = session;
  }

  /** An Alice whose identity key is new, with a session to `bundle`. */
  static async create(bundle: PrekeyBundle): Promise<HostileAlice> {
    const keyring = await createKeyring(await testIdentity());
    const session = await initiateSession({
      identity: keyring.identity.publicRaw,
      dh: keyring.bundle.dh,
      dhPair: keyring.secrets.dh,
    }, bundle);
    return new HostileAlice(
      await identityFingerprint(keyring.identity.publicRaw),
      keyring.bundle,
      session,
    );
  }

  /** Seals `content` on her session with bob: the next envelope. */
  async seal(content: Content): Promise<Uint8Array> {
    const out = await sealEnvelope(this.#session, encodeContent(content));
    this.#session = out.session;
    return out.envelope;
  }

  /** Seals a text from alice to bob. */
  sealText(text: string): Promise<Uint8Array> {
    return this.seal({ type: "text", from: "alice", to: "bob", text });
  }

  /** The id (and seq) of the next message delivered. */
  nextId(): number {
    return ++this.#id;
  }

  /** Numbers from `other` on, so that two peers' ids never meet. */
  skipTo(other: number): void {
    this.#id = Math.max(this.#id, other);
  }

  /**
   * Delivers `envelope` to bob as an `e2e_private` from `from`, with the
   * server's time `ts` (now unless the server re-dates it).
   */
  deliver(
    channel: SecureChannel,
    envelope: Uint8Array,
    from = "alice",
    ts = Date.now(),
  ): void {
    const id = this.nextId();
    channel.send({
      t: "e2e_private",
      from,
      fingerprint: this.fingerprint,
      ts,
      id,
      seq: id,
    }, envelope);
  }
}
