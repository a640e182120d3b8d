/**
 * The `history` exchanges of docs/PROTOCOL.md 5.4 are the exact bytes a
 * real `chat serve` writes: read from the document itself, sent by a raw
 * client, and compared header for header (the times are the server's
 * clock, so each `ts` is taken from another copy of the same message). The
 * messages of an answer carry `req`, the request's id, before `history`
 * (not `re`, which marks the reply: the `ok` after them); what waited for
 * the user (5.9) carries none; a `private` the requester sent carries `to`
 * last. The `welcome` of 5.3 is checked too: it says `"reqs":true`, that
 * every answer names its request. On a cluster the node a client is on
 * answers the same way for messages sent on another node.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  generateIdentity,
  importIdentityPem,
} from "../../src/crypto/identity.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  encodeMessage,
  MESSAGE_OVERHEAD,
} from "../../src/protocol/message_framing.ts";
import { countingDecoder } from "../../bench/_counting_decoder.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const PROTOCOL = await Deno.readTextFile(
  new URL("../../docs/PROTOCOL.md", import.meta.url),
);
const NATS = await natsForTest("history_vectors_test");
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One line of a documented exchange: sent (`>`) or received (`<`). */
interface VectorLine {
  sent: boolean;
  header: string;
  body: string;
}

/** The exchange in the first fenced block after `marker` in PROTOCOL.md. */
function vectorAfter(marker: string): VectorLine[] {
  const at = PROTOCOL.indexOf(marker);
  assert.ok(at >= 0, `PROTOCOL.md no longer says: ${marker}`);
  const start = PROTOCOL.indexOf("```\n", at) + 4;
  const end = PROTOCOL.indexOf("```", start);
  return PROTOCOL.slice(start, end).trimEnd().split("\n").map((line) => {
    const match = /^([<>]) (\{.*\})(?: {2}body: (.*))?$/.exec(line);
    assert.ok(match !== null, `Not a vector line: ${line}`);
    return { sent: match[1] === ">", header: match[2]!, body: match[3] ?? "" };
  });
}

/** The `welcome` of PROTOCOL.md 5.3's example, as written there. */
function welcomeVector(): string {
  const marker = "**`welcome`**, server reply to `prove`:";
  const at = PROTOCOL.indexOf(marker);
  assert.ok(at >= 0, `PROTOCOL.md no longer says: ${marker}`);
  const start = PROTOCOL.indexOf("```\n", at) + 4;
  return PROTOCOL.slice(start, PROTOCOL.indexOf("\n", start));
}

/** Every JSON message header `raw` opened from frame `from` on, with its body. */
function headersFrom(
  raw: RawClient,
  from: number,
): { header: string; body: string; bytes: Uint8Array }[] {
  const out: { header: string; body: string; bytes: Uint8Array }[] = [];
  for (const batch of raw.batches.slice(from)) {
    const view = new DataView(batch.buffer, batch.byteOffset);
    for (let at = 0; at < batch.byteLength;) {
      // Compact messages (4.1) start with a non-zero byte: none expected.
      assert.equal(batch[at], 0, "only JSON headers here");
      const headerLength = view.getUint32(at);
      const bodyLength = view.getUint32(at + 4);
      const header = at + MESSAGE_OVERHEAD;
      const body = header + headerLength;
      out.push({
        header: decoder.decode(batch.subarray(header, body)),
        body: decoder.decode(batch.subarray(body, body + bodyLength)),
        bytes: batch.subarray(at, body + bodyLength),
      });
      at = body + bodyLength;
    }
  }
  return out;
}

/** Reads `raw`'s frames until a message whose body is `text` came. */
async function untilBody(raw: RawClient, text: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!raw.messages.some((m) => decoder.decode(m.body) === text)) {
    await raw.receiveMessages(Math.max(1, deadline - Date.now()));
  }
}

/** The `ts` the server gave the message whose body is `text`, as `raw` saw it. */
function tsOf(raw: RawClient, text: string): number {
  const found = raw.messages.find((m) => decoder.decode(m.body) === text);
  assert.ok(found !== undefined && "ts" in found.message, text);
  return found.message.ts as number;
}

/**
 * Plays `vector` as `raw`: sends each `>` line as it is written and checks
 * that what comes until the request's reply is the `<` lines after it, byte
 * for byte but for each `ts`, taken from `ts` by body.
 */
async function play(
  raw: RawClient,
  vector: VectorLine[],
  ts: Map<string, number>,
): Promise<void> {
  for (let i = 0; i < vector.length;) {
    const request = vector[i]!;
    assert.ok(request.sent, `a request first: ${request.header}`);
    const expected: string[] = [];
    for (i++; i < vector.length && !vector[i]!.sent; i++) {
      const { header, body } = vector[i]!;
      const time = ts.get(body);
      expected.push(
        time === undefined
          ? header
          : header.replace(/"ts":\d+/, `"ts":${time}`) + `  body: ${body}`,
      );
    }
    const from = raw.batches.length;
    raw.send(await raw.seal({ header: JSON.parse(request.header) }));
    await raw.replyTo(JSON.parse(request.header).id, WAIT_MS);
    assert.deepEqual(
      headersFrom(raw, from).map(({ header, body }) =>
        body === "" ? header : `${header}  body: ${body}`
      ),
      expected,
      request.header,
    );
  }
}

async function identity(): Promise<Identity> {
  return await importIdentityPem((await generateIdentity()).privatePem);
}

async function signIn(
  url: string,
  spki: Uint8Array,
  name: string,
  key: Identity,
): Promise<RawClient> {
  const raw = await RawClient.connect(url, { pinnedSpki: spki });
  assert.equal(
    (await raw.register(name, { identity: key, acks: true })).t,
    "welcome",
  );
  return raw;
}

async function send(
  raw: RawClient,
  header: Record<string, unknown>,
  text: string,
): Promise<void> {
  assert.equal((await raw.request(header, encoder.encode(text))).t, "ok");
}

Deno.test("chat serve answers PROTOCOL.md 5.4's paging exchange byte for byte: req on each answer, none on what waited", async () => {
  await using chat = await ServedChat.start("chat-history-vectors-");
  await chat.serve("--data", ":memory:");
  const spki = await chat.pinnedSpki();
  const jojoKey = await identity();
  // jojo takes his name and leaves: sophia's messages wait for him.
  await (await signIn(chat.url, spki, "jojo", jojoKey)).close();
  await using sophia = await signIn(chat.url, spki, "sophia", await identity());
  for (const text of ["one", "two", "three"]) {
    await send(sophia, { t: "msg", to: "jojo" }, text);
  }
  await using jojo = await signIn(chat.url, spki, "jojo", jojoKey);
  await untilBody(jojo, "three");
  // The welcome of 5.3, but for its re, name and store id; its last_id is
  // sophia's third message, the newest stored.
  const welcome =
    headersFrom(jojo, 0).find(({ header }) =>
      header.startsWith('{"t":"welcome"')
    )!.header;
  const { re, store } = JSON.parse(welcome);
  assert.equal(
    welcome,
    welcomeVector().replace('"re":2', `"re":${re}`)
      .replace('"name":"alice"', '"name":"jojo"')
      .replace(/"store":"[^"]*"/, `"store":"${store}"`),
  );
  const ts = new Map(
    ["one", "two", "three"].map((text) => [text, tsOf(jojo, text)]),
  );
  // What waited: marked history, without req.
  assert.deepEqual(
    headersFrom(jojo, 0).filter(({ body }) => body !== "").map(
      ({ header }) => header,
    ),
    ["one", "two", "three"].map((text, i) =>
      `{"t":"private","from":"sophia","ts":${ts.get(text)},"id":${
        i + 1
      },"seq":${i + 1},"history":true}`
    ),
  );
  await play(
    jojo,
    vectorAfter("These are the exact bytes of the reference server"),
    ts,
  );
  // sophia's own messages in her answer: `to` comes last, after history.
  const from = sophia.batches.length;
  await sophia.sendMessage({
    t: "history",
    target: "jojo",
    limit: 1,
    id: 17,
  });
  await sophia.replyTo(17);
  assert.equal(
    headersFrom(sophia, from).find(({ body }) => body !== "")?.header,
    `{"t":"private","from":"sophia","ts":${
      ts.get("three")
    },"id":3,"seq":3,"req":17,"history":true,"to":"jojo"}`,
  );
  // The bench's load client (bench/_counting_decoder.ts) counts a JSON chat
  // header that ends in a digit as a live delivery: none of these, as this
  // server writes them, may look like one. A live header, for contrast.
  const counted: string[] = [];
  const count = countingDecoder(() => (kind) => counted.push(kind));
  const old = [...headersFrom(jojo, 0), ...headersFrom(sophia, from)].filter(
    ({ body }) => body !== "",
  );
  assert.equal(old.length, 3 + 3 + 1);
  for (const { bytes } of old) count(bytes.slice());
  assert.deepEqual(counted, []);
  count(
    encodeMessage(
      { t: "private", from: "sophia", ts: 1 },
      encoder.encode("live"),
    ),
  );
  assert.deepEqual(counted, ["private"]);
});

Deno.test("chat serve answers PROTOCOL.md 5.4's 'after' exchange byte for byte", async () => {
  await using chat = await ServedChat.start("chat-history-vectors-after-");
  await chat.serve("--data", ":memory:");
  const spki = await chat.pinnedSpki();
  const jojoKey = await identity();
  const away = await signIn(chat.url, spki, "jojo", jojoKey);
  // mia stays, and sees every line's time.
  await using mia = await signIn(chat.url, spki, "mia", await identity());
  await using sophia = await signIn(chat.url, spki, "sophia", await identity());
  await send(sophia, { t: "say" }, "one");
  await untilBody(away, "one");
  await away.close();
  for (const text of ["two", "three"]) {
    await send(sophia, { t: "say" }, text);
  }
  await untilBody(mia, "three");
  const ts = new Map(
    ["one", "two", "three"].map((text) => [text, tsOf(mia, text)]),
  );
  await using jojo = await signIn(chat.url, spki, "jojo", jojoKey);
  await play(jojo, vectorAfter("with jojo back after"), ts);
});

Deno.test({
  name:
    "a cluster node answers history with req for messages sent on another node, and what waited comes without it",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-history-vectors-cluster",
    });
    const [a, b] = await cluster.nodes("a", "b");
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(join(cluster.dir, "public.pem")),
    );
    const jojoKey = await identity();
    await (await signIn(`ws://${b.address}`, spki, "jojo", jojoKey)).close();
    await using sophia = await signIn(
      `ws://${a.address}`,
      spki,
      "sophia",
      await identity(),
    );
    await send(sophia, { t: "msg", to: "jojo" }, "from node a");
    await using jojo = await signIn(`ws://${b.address}`, spki, "jojo", jojoKey);
    await untilBody(jojo, "from node a");
    // A node says it names every answer, as a single server does.
    assert.match(
      headersFrom(jojo, 0).find(({ header }) =>
        header.startsWith('{"t":"welcome"')
      )!.header,
      /,"cids":true,"reqs":true,"store":"/,
    );
    const waited = headersFrom(jojo, 0).find(({ body }) =>
      body === "from node a"
    )!;
    assert.match(
      waited.header,
      /^\{"t":"private","from":"sophia",.*"history":true\}$/,
    );
    assert.doesNotMatch(waited.header, /"req?":/);
    const from = jojo.batches.length;
    await jojo.sendMessage({ t: "history", target: "sophia", id: 40 });
    await jojo.replyTo(40, WAIT_MS);
    const answer = headersFrom(jojo, from);
    assert.equal(answer.length, 2, JSON.stringify(answer));
    assert.equal(answer[0]!.body, "from node a");
    assert.equal(
      answer[0]!.header,
      waited.header.replace('"history":true', '"req":40,"history":true'),
    );
    assert.match(answer[1]!.header, /^\{"t":"ok","re":40,/);
  },
});
