/**
 * The web page's receiver (WebFiles) against a host working with a member of
 * a group (docs/PROTOCOL.md 11.10, "Group files: the sender signs the end"),
 * with the real key handling of file_key_share.ts (`receiveFileKey`,
 * `FileKeyInbox`) as web/main.ts wires it. Found in review of c90b2bf.
 */
import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import {
  encodeFileSecret,
  FileKeyInbox,
  fileSecretLabel,
  type KeyLine,
  newFileKeyId,
  receiveFileKey,
  shareFileKey,
} from "../../src/client/file_key_share.ts";
import { randomBytes } from "../../src/crypto/bytes.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import { newFileSigner } from "../../src/crypto/file_signature.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import { sha256Hex, WebFiles } from "../../src/web/web_files.ts";
import {
  answerSignIn,
  startHostileServer,
} from "../_helpers/hostile_server.ts";

type Done = Extract<ClientMessage, { t: "file_done" }>;

async function nextAnswer(channel: SecureChannel): Promise<ClientMessage> {
  const kinds = ["file_accept", "file_decline", "file_done", "file_cancel"];
  for (;;) {
    const batch = await channel.receive();
    if (batch === null) throw new Error("closed before the answer");
    for (const { header } of batch) {
      const message = header as ClientMessage;
      if (kinds.includes(message.t)) return message;
    }
  }
}

async function fixture() {
  const server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const inbox = new FileKeyInbox();
  const received: string[] = [];
  const failed: string[] = [];
  const files = new WebFiles(client, {
    ask: (_offer, answer) => answer(true),
    declined: (offer, why) => failed.push(`${offer.name}: declined: ${why}`),
    progress() {},
    received: (offer) =>
      void received.push(
        `${offer.name} from ${offer.from}${
          offer.group === undefined ? "" : ` in ${offer.group}`
        }`,
      ),
    failed: (offer, reason) => failed.push(`${offer.name}: ${reason}`),
    cancelled() {},
  }, {
    share: null,
    // As web/main.ts: sophia is known to use end-to-end keys.
    take: (offer) =>
      receiveFileKey(offer, { inbox, usesE2e: () => true, waitMs: 1000 }),
  });
  client.onMessage((incoming) => files.receive(incoming));
  return {
    channel: await server.session,
    inbox,
    received,
    failed,
    async [Symbol.asyncDispose]() {
      await client.quit();
      await server[Symbol.asyncDispose]();
    },
  };
}

/**
 * Sophia's group file secret (version 2) in the page's inbox, and an offer
 * the host labelled `group` (or none), its chunk sealed with `chunkKey`
 * (Sophia's K unless Mallory's content), its end signed as `sign` says.
 */
async function run(
  f: Awaited<ReturnType<typeof fixture>>,
  xfer: number,
  group: string | undefined,
  contents: Uint8Array<ArrayBuffer>,
  endFor: Uint8Array<ArrayBuffer>,
  signed: boolean,
): Promise<Done> {
  const key = newFileKey();
  const keyId = newFileKeyId();
  const signer = await newFileSigner();
  f.inbox.deliver(
    "sophia",
    fileSecretLabel(keyId),
    encodeFileSecret(key, `f${xfer}.bin`, contents.length, {
      group: "team",
      verifyKey: signer.verifyKey,
    }),
  );
  f.channel.send({
    t: "file_offer",
    xfer,
    from: "sophia",
    ...(group === undefined ? {} : { group }),
    name: "(end-to-end)",
    size: contents.length,
    timeout: 90_000,
    key_id: keyId,
  });
  assert.equal((await nextAnswer(f.channel)).t, "file_accept");
  const cipher = await FileCipher.create(key, xfer, contents.length);
  f.channel.send(
    { t: "file_chunk", xfer, offset: 0 },
    await cipher.seal({ index: 0, offset: 0 }, contents),
    true,
  );
  const sha256 = await cipher.keyedDigest(await sha256Hex(endFor));
  f.channel.send(
    {
      t: "file_end",
      xfer,
      sha256,
      ...(signed ? { sig: await signer.sign(sha256) } : {}),
    },
    undefined,
    true,
  );
  return await nextAnswer(f.channel) as Done;
}

Deno.test("WebFiles refuses, before accepting it, a group file the host relabelled as one-to-one or as another group's", async () => {
  await using f = await fixture();
  const signer = await newFileSigner();
  for (const [xfer, group] of [[1, undefined], [2, "everyone"]] as const) {
    const keyId = newFileKeyId();
    f.inbox.deliver(
      "sophia",
      fileSecretLabel(keyId),
      encodeFileSecret(newFileKey(), "salaries.xlsx", 2000, {
        group: "team",
        verifyKey: signer.verifyKey,
      }),
    );
    f.channel.send({
      t: "file_offer",
      xfer,
      from: "sophia",
      ...(group === undefined ? {} : { group }),
      name: "(end-to-end)",
      size: 2000,
      timeout: 90_000,
      key_id: keyId,
    });
    const answer = await nextAnswer(f.channel);
    assert.equal(answer.t, "file_cancel", JSON.stringify(answer));
    assert.match(
      (answer as { reason: string }).reason,
      /is for a file to group team \(the server may have relabelled it\)/,
    );
  }
  assert.deepEqual(f.received, []);
});

// PROTOCOL 11.10: the signature is checked at file_end first, then the keyed
// SHA-256, as the terminal does: the same hostile end (Mallory's chunk,
// Sophia's digest, `sig` stripped) fails for the same reason on both.
Deno.test("WebFiles checks the signature before the checksum, as PROTOCOL 11.10 and the terminal do", async () => {
  await using f = await fixture();
  const sophias = randomBytes(2000);
  const mallorys = randomBytes(2000);
  const done = await run(f, 1, "team", mallorys, sophias, false);
  assert.equal(done.ok, false);
  assert.match(done.reason, /^the file is not signed by sophia/);
});

Deno.test("WebFiles says whom a group file's key and name went to, the server's members reply naming one of its own, even when the offer is then refused", async () => {
  const server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const files = new WebFiles(client, {
    ask: () => {},
    declined() {},
    progress() {},
    received() {},
    failed() {},
    cancelled() {},
  }, {
    // As web/main.ts, the sealing left out: what goes to whom is
    // file_key_share.ts's, after the server's `members` reply.
    share: (target, key, name, size) =>
      shareFileKey(
        {
          sendSecret: (_client, to) => {
            secretsTo.push(to);
            return Promise.resolve({ t: "ok", re: 0, text: "" });
          },
          usesE2e: () => true,
          notify() {},
        },
        client,
        target,
        key,
        name,
        size,
      ),
    take: () => ({ error: "not taken here" }),
  });
  client.onMessage((incoming) => files.receive(incoming));
  const secretsTo: string[] = [];
  const channel = await server.session;
  // Signed in as sophia, a member of crew (the client offers no file to a
  // group the server's list says it is not in).
  void answerSignIn(channel, { name: "sophia" }, (message) => {
    if (message.t === "members") {
      const names = ["alice", "mallory", "sophia"];
      channel.send({
        t: "members",
        re: message.id,
        groups: [{ group: "crew", members: names, online: names }],
      });
    } else if (message.t === "file_offer") {
      channel.send({
        t: "error",
        re: message.id,
        code: "limit",
        text: "ERROR: Too many file offers; wait a little",
      });
    }
  });
  assert.equal((await client.register("sophia")).t, "welcome");
  try {
    const lines: KeyLine[] = [];
    const outcome = await files.send(
      { group: "crew" },
      new File(["the plan"], "plan.txt"),
      {
        keyLines: (said) => lines.push(...said),
        offered() {},
        answered() {},
        progress() {},
      },
    );
    assert.equal(outcome.kind, "refused");
    assert.deepEqual(secretsTo, ["alice", "mallory"]);
    assert.deepEqual(lines, [{
      kind: "notice",
      text:
        "The key of plan.txt went end to end to alice and mallory, the members of crew online the server lists",
    }]);
  } finally {
    await client.quit();
    await server[Symbol.asyncDispose]();
  }
});
