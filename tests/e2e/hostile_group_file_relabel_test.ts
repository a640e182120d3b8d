/**
 * A real `chat connect` as bob against a hostile server (the host) working
 * with Mallory, a member of the group, who holds each group file's key K and
 * its verify key V (docs/PROTOCOL.md 11.10, "Group files: the sender signs
 * the end"): the file relabelled as private or as another group's, and a
 * forged prefix kept for resume. Written in review of c90b2bf; the server is
 * written here from the protocol (tests/_helpers/hostile_e2e.ts).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { randomBytes } from "../../src/crypto/bytes.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import {
  type FileSigner,
  newFileSigner,
} from "../../src/crypto/file_signature.ts";
import {
  encodeFileSecret,
  fileSecretLabel,
  newFileKeyId,
} from "../../src/client/file_key_share.ts";
import { PARTIAL_DIR } from "../../src/files/partials.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { type HostileE2e, startHostileE2e } from "../_helpers/hostile_e2e.ts";

type Done = Extract<ClientMessage, { t: "file_done" }>;
type Accept = Extract<ClientMessage, { t: "file_accept" }>;

/** bob's file messages, by transfer, in the order they came. */
class Answers {
  #seen = new Map<number, ClientMessage[]>();
  #waiters: (() => void)[] = [];

  take(message: ClientMessage): void {
    if (!("xfer" in message)) return;
    const list = this.#seen.get(message.xfer) ?? [];
    list.push(message);
    this.#seen.set(message.xfer, list);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** The first message of type `t` bob sent about `xfer`. */
  async of<T extends ClientMessage["t"]>(
    xfer: number,
    t: T,
  ): Promise<Extract<ClientMessage, { t: T }>> {
    for (;;) {
      const found = this.#seen.get(xfer)?.find((m) => m.t === t);
      if (found !== undefined) return found as Extract<ClientMessage, { t: T }>;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

/** Alice's group file key (version 2 secret, with V) sent to bob end to end. */
async function sendGroupKey(run: HostileE2e, name: string, size: number) {
  const key = newFileKey();
  const keyId = newFileKeyId();
  const signer = await newFileSigner();
  run.alice.deliver(
    run.channel,
    await run.alice.seal({
      type: "secret",
      from: "alice",
      to: "bob",
      label: fileSecretLabel(keyId),
      secret: encodeFileSecret(key, name, size, {
        group: "team",
        verifyKey: signer.verifyKey,
      }),
    }),
  );
  return { key, keyId, signer };
}

function offer(
  run: HostileE2e,
  xfer: number,
  size: number,
  keyId: string,
  group: string | undefined,
) {
  run.channel.send({
    t: "file_offer",
    xfer,
    from: "alice",
    ...(group === undefined ? {} : { group }),
    name: "(end-to-end)",
    size,
    fingerprint: run.alice.fingerprint,
    timeout: 90_000,
    key_id: keyId,
  });
}

/** `part` sealed under `key` as chunk `index` of `xfer` at `offset`. */
async function chunk(
  run: HostileE2e,
  xfer: number,
  key: Uint8Array,
  size: number,
  index: number,
  offset: number,
  part: Uint8Array<ArrayBuffer>,
) {
  const cipher = await FileCipher.create(key, xfer, size);
  run.channel.send(
    { t: "file_chunk", xfer, offset },
    await cipher.seal({ index, offset }, part),
    true,
  );
}

/** `file_end` for `whole` under `key`, signed by `signer`. */
async function end(
  run: HostileE2e,
  xfer: number,
  key: Uint8Array,
  whole: Uint8Array<ArrayBuffer>,
  signer: FileSigner,
) {
  const cipher = await FileCipher.create(key, xfer, whole.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", whole));
  const sha256 = await cipher.keyedDigest(digest.toHex());
  run.channel.send(
    { t: "file_end", xfer, sha256, sig: await signer.sign(sha256) },
    undefined,
    true,
  );
}

// The secret names the group it went to: the host cannot show Alice's file
// to `team` as a private file from her, or as sent to another group.
Deno.test("a group file the host relabelled as one-to-one, or as sent to another group, is refused before it is accepted", async () => {
  const answers = new Answers();
  await using run = await startHostileE2e(
    "chat-relabel-",
    (dir) => ["--downloads", join(dir, "downloads"), "--accept-files", "all"],
    (message) => answers.take(message),
  );
  for (const [xfer, group] of [[1, undefined], [2, "everyone"]] as const) {
    const sent = await sendGroupKey(run, "salaries.xlsx", 3000);
    offer(run, xfer, 3000, sent.keyId, group);
    const refused = await answers.of(xfer, "file_done");
    assert.equal(refused.ok, false);
    // What goes to the sender is cut at a word to the server's 100
    // characters (reason_for_sender.ts); this host passes it uncut. Bob's
    // own line says it whole.
    assert.match(refused.reason, /is for a file to group team\b/);
    assert.ok(refused.reason.length <= 100, refused.reason);
  }
  await run.bob.waitForStderr(
    /is for a file to group team \(the server may have relabelled it\)/,
  );
  assert.doesNotMatch(run.bob.stdout, /salaries\.xlsx/);
});

// A prefix Mallory sealed under a group
// file's key is kept as the partial of Alice's file when the host breaks the
// transfer before `file_end` (resumable), and claimed at Alice's next offer;
// even when the host makes Alice believe the claim (Mallory knows the new K
// too), the whole-file keyed SHA-256 Alice signs refuses it.
Deno.test("a forged prefix kept for resume never reaches a saved group file", async () => {
  const answers = new Answers();
  await using run = await startHostileE2e(
    "chat-review-resume-",
    (dir) => ["--downloads", join(dir, "downloads"), "--accept-files", "all"],
    (message) => answers.take(message),
  );
  const downloads = join(run.dir, "downloads");
  const size = 3000;
  const held = 1200;
  const genuine = randomBytes(size);
  const mallorys = randomBytes(held);

  // 1: Alice's group offer; Mallory's bytes under its key, then the host
  // breaks it as if Alice had disconnected.
  const first = await sendGroupKey(run, "report.pdf", size);
  offer(run, 1, size, first.keyId, "team");
  await answers.of(1, "file_accept");
  await chunk(run, 1, first.key, size, 0, 0, mallorys);
  run.channel.send({
    t: "file_cancel",
    xfer: 1,
    reason: "alice disconnected",
    resumable: true,
  });
  await run.bob.waitForStderr(
    /File report\.pdf from alice was not received: alice disconnected/,
  );

  // 2: Alice offers it again; bob claims the forged prefix (another try if
  // the first transfer had not let go of its partial yet).
  let xfer = 2;
  let second!: Awaited<ReturnType<typeof sendGroupKey>>;
  let claim!: Accept;
  for (;; xfer++) {
    assert.ok(xfer < 8, "bob never claimed his partial");
    second = await sendGroupKey(run, "report.pdf", size);
    offer(run, xfer, size, second.keyId, "team");
    claim = await answers.of(xfer, "file_accept");
    if (claim.offset !== undefined) break;
    run.channel.send({
      t: "file_cancel",
      xfer,
      reason: "try again",
      resumable: true,
    });
    await run.bob.waitForStderr(/was not received: try again/);
  }
  assert.equal(claim.offset, held, "the forged prefix is held and claimed");
  const part = [...Deno.readDirSync(join(downloads, PARTIAL_DIR))]
    .find((e) => e.name.endsWith(".part"))!;
  assert.deepEqual(
    await Deno.readFile(join(downloads, PARTIAL_DIR, part.name)),
    mallorys,
    "the partial holds Mallory's bytes, listed as alice's",
  );

  // The host tells Alice the claim holds: she goes on from `held`, and ends
  // with the keyed SHA-256 of her whole file, signed.
  await chunk(
    run,
    xfer,
    second.key,
    size,
    0,
    held,
    genuine.slice(held),
  );
  await end(run, xfer, second.key, genuine, second.signer);
  const done = await answers.of(xfer, "file_done") as Done;
  assert.equal(done.ok, false);
  assert.match(done.reason, /checksum mismatch/);
  await run.bob.write("/quit\n");
  await run.bob.finish();
  const saved = [...Deno.readDirSync(downloads)].map((e) => e.name)
    .filter((name) => !name.startsWith("."));
  assert.deepEqual(saved, [], "nothing saved");
  const left = (() => {
    try {
      return [...Deno.readDirSync(join(downloads, PARTIAL_DIR))].length;
    } catch {
      return 0;
    }
  })();
  assert.equal(left, 0, "the forged partial is gone");
});
