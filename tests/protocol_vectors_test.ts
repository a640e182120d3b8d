/**
 * Every test vector of docs/PROTOCOL.md, read from the document itself and
 * recomputed with this code: a value changed in the document (or a change of
 * the code that moves the bytes) fails here. The other vector tests keep
 * their own copies of the bytes (tests/crypto/*); this one reads the
 * document, so the document cannot drift from the code unnoticed.
 */
import assert from "node:assert/strict";
import { FrameSealer } from "../src/crypto/session_cipher.ts";
import {
  deriveHandshakeSecrets,
  finishedMac,
  hashTranscript,
} from "../src/crypto/handshake.ts";
import { fromBase64, toBase64, utf8Encode } from "../src/crypto/bytes.ts";
import { FileCipher } from "../src/crypto/file_cipher.ts";
import { RoomFrameSealer, webRoomCrypto } from "../src/crypto/room_frame.ts";
import { encodeMessage } from "../src/protocol/message_framing.ts";
import { encodeCompactChat } from "../src/protocol/compact_chat.ts";
import { looksAlike, nameSkeleton } from "../src/protocol/name_skeleton.ts";
import { parseClientMessage } from "../src/protocol/parse_client_message.ts";
import { parseServerMessage } from "../src/protocol/parse_server_message.ts";
import { encodeFileSecret } from "../src/client/file_key_share.ts";
import { decodeContent, encodeContent } from "../src/client/e2e_sessions.ts";
import { verifyFileEnd } from "../src/crypto/file_signature.ts";
import {
  encodeSenderKey,
  type OwnChain,
  sealGroupMessage,
  signingPublicOf,
} from "../src/crypto/sender_key.ts";
import { encodeNameBinding } from "../src/server/cluster/name_binding.ts";

const DOC = await Deno.readTextFile(
  new URL("../docs/PROTOCOL.md", import.meta.url),
);

/** The text of a section: from its heading to the next heading of any level. */
function section(heading: string): string {
  const start = DOC.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `PROTOCOL.md has no '${heading}'`);
  const next = DOC.slice(start + heading.length + 2).search(/\n#{2,4} /);
  return next < 0
    ? DOC.slice(start)
    : DOC.slice(start, start + heading.length + 2 + next);
}

/** The fenced blocks of a text, in order. */
function blocks(text: string): string[] {
  return [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** A run of whole bytes in hex, in groups split by single spaces. */
const HEX_RUN = /^((?:[0-9a-f]{2})+(?: (?:[0-9a-f]{2})+)*)(?:\s+\(.*)?$/;

/**
 * The hex values of a vector block, in order, as [label, hex]: a line
 * `label   hex hex` starts a value (the label may be on the line before,
 * alone), a line of hex alone right after one continues it, a note in
 * parentheses after the hex is left out.
 */
function hexValues(block: string): [string, string][] {
  const values: [string, string][] = [];
  let label = "";
  let continues = false;
  for (const line of block.split("\n")) {
    const trimmed = line.trim();
    const onlyHex = HEX_RUN.exec(trimmed);
    if (onlyHex !== null && /^\s/.test(line)) {
      const hex = onlyHex[1]!.replaceAll(" ", "");
      if (continues) values[values.length - 1]![1] += hex;
      else values.push([label, hex]);
      continues = true;
      continue;
    }
    // The shortest label after which the rest of the line is hex.
    const words = trimmed.split(" ");
    let found = false;
    for (let i = 1; i < words.length && !found; i++) {
      const rest = HEX_RUN.exec(words.slice(i).join(" ").trimStart());
      if (rest === null) continue;
      label = words.slice(0, i).join(" ").trim();
      values.push([label, rest[1]!.replaceAll(" ", "")]);
      found = true;
    }
    continues = found;
    if (!found) label = trimmed;
  }
  return values;
}

/** The one value labelled `label` (the `n`th of them). */
function value(values: [string, string][], label: string, n = 0): string {
  const found = values.filter(([l]) => l === label);
  assert.ok(
    found[n] !== undefined,
    `no '${label}' (#${n}) among ${values.map(([l]) => l).join(", ")}`,
  );
  return found[n]![1];
}

function hex(bytes: Uint8Array): string {
  return bytes.toHex();
}

async function hkdf(
  ikm: Uint8Array<ArrayBuffer>,
  salt: Uint8Array<ArrayBuffer>,
  info: string,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, [
    "deriveBits",
  ]);
  return new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info: utf8Encode(info) },
      key,
      length * 8,
    ),
  );
}

/** The frames a sealer with this T0 makes of `plaintext` at seq 0, 1, ... */
async function framesOf(
  t0: Uint8Array,
  plaintext: Uint8Array,
  count: number,
  rekeyInterval?: number,
): Promise<string[]> {
  const sealer = new FrameSealer(
    t0,
    rekeyInterval === undefined ? {} : { rekeyInterval },
  );
  const frames: string[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(hex(await sealer.seal(plaintext)));
  }
  return frames;
}

const A1 = hexValues(blocks(section("### A.1 Session cipher"))[0]!);

Deno.test("PROTOCOL.md A.1: the epoch keys, the batch and the three frames are what FrameSealer makes", async () => {
  const text = section("### A.1 Session cipher");
  const t0 = Uint8Array.fromHex(value(A1, "T0"));
  const empty = new Uint8Array(32);
  const okm0 = await hkdf(t0, empty, "chat/1 traffic", 44);
  assert.equal(value(A1, "key_0"), hex(okm0.subarray(0, 32)));
  assert.equal(value(A1, "iv_0"), hex(okm0.subarray(32)));
  const t1 = await hkdf(t0, empty, "chat/1 next", 32);
  assert.equal(value(A1, "T1"), hex(t1));
  const okm1 = await hkdf(t1, empty, "chat/1 traffic", 44);
  assert.equal(value(A1, "key_1"), hex(okm1.subarray(0, 32)));
  assert.equal(value(A1, "iv_1"), hex(okm1.subarray(32)));

  const said = /header (\{.*?\}), body "(.*?)"/.exec(text);
  assert.ok(said, "A.1 names the batch's header and body");
  const batch = encodeMessage(JSON.parse(said[1]!), utf8Encode(said[2]!));
  assert.equal(value(A1, "batch"), hex(batch));

  const [frame0, frame1] = await framesOf(t0, batch, 2);
  assert.equal(value(A1, "frame", 0), frame0);
  assert.equal(value(A1, "frame", 1), frame1);
  // R = 1: seq 1 is epoch 1, sealed with key_1 and iv_1.
  assert.equal(value(A1, "frame", 2), (await framesOf(t0, batch, 2, 1))[1]);
  // The nonces the text names: iv_0 XOR seq.
  for (const seq of [0, 1]) {
    const nonce = new RegExp(`seq ${seq}, epoch 0, nonce ([0-9a-f]{24})`)
      .exec(text);
    assert.ok(nonce, `A.1 names the nonce of seq ${seq}`);
    const expected = okm0.slice(32);
    expected[11]! ^= seq;
    assert.equal(nonce[1], hex(expected));
  }
});

Deno.test("PROTOCOL.md A.2: the transcript hash, the four secrets and both MACs are what the handshake computes", async () => {
  const text = section("### A.2 Handshake key schedule");
  const values = hexValues(blocks(text)[0]!);
  const bytes = (label: string) => Uint8Array.fromHex(value(values, label));
  const lines = blocks(text)[0]!.split("\n").map((l) => l.trim());
  const sh = lines.find((l) => l.startsWith('{"type":"server_hello"'));
  const ch = lines.find((l) => l.startsWith('{"type":"client_hello"'));
  assert.ok(sh !== undefined && ch !== undefined, "A.2 shows SH and CH");
  assert.equal(
    utf8Encode(sh).length,
    Number(/SH, (\d+) bytes/.exec(text)?.[1]),
  );
  assert.equal(
    utf8Encode(ch).length,
    Number(/CH, (\d+) bytes/.exec(text)?.[1]),
  );
  const th = await hashTranscript(
    utf8Encode(sh),
    utf8Encode(ch),
    bytes("server share"),
  );
  assert.equal(value(values, "TH"), hex(th));
  const secrets = await deriveHandshakeSecrets(
    bytes("S"),
    bytes("Z"),
    bytes("Ns"),
    bytes("Nc"),
    th,
  );
  assert.equal(value(values, "c2s secret"), hex(secrets.c2s));
  assert.equal(value(values, "s2c secret"), hex(secrets.s2c));
  assert.equal(
    value(values, "client finished key"),
    hex(secrets.clientFinishedKey),
  );
  assert.equal(
    value(values, "server finished key"),
    hex(secrets.serverFinishedKey),
  );
  const server = await finishedMac(
    secrets.serverFinishedKey,
    "chat/1 server finished",
    th,
  );
  const client = await finishedMac(
    secrets.clientFinishedKey,
    "chat/1 client finished",
    th,
  );
  assert.equal(value(values, "server MAC"), hex(server));
  assert.equal(value(values, "client MAC"), hex(client));
  const base64s = [...blocks(text)[0]!.matchAll(/base64 (\S+)/g)].map((m) =>
    m[1]
  );
  assert.deepEqual(base64s, [toBase64(server), toBase64(client)]);
  // A.3 signs this TH.
  assert.equal(
    value(hexValues(blocks(section("### A.3 Identity proof"))[0]!), "TH"),
    hex(th),
  );
});

Deno.test("PROTOCOL.md A.4: the chunk, its keyed SHA-256 and its bulk frame are what FileCipher and FrameSealer make", async () => {
  const text = section("### A.4 File chunk and bulk frame");
  const [chunkBlock, digestBlock, frameBlock] = blocks(text);
  const chunk = hexValues(chunkBlock!);
  const key = Uint8Array.fromHex(value(chunk, "file key K"));
  const plain =
    /xfer (\d+), size (\d+), chunk i = (\d+) at offset (\d+): "(.*?)"/
      .exec(chunkBlock!);
  assert.ok(plain, "A.4 names the transfer and the chunk");
  const [xfer, size, index, offset] = plain.slice(1, 5).map(Number);
  const data = utf8Encode(plain[5]!);
  assert.equal(data.length, size);
  const cipher = await FileCipher.create(key, xfer!, size!);
  const place = { index: index!, offset: offset! };
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(index!));
  assert.equal(value(chunk, "nonce"), hex(nonce));
  assert.equal(value(chunk, "AAD"), hex(cipher.aad(place)));
  const body = await cipher.seal(place, data);
  assert.equal(value(chunk, "body"), hex(body));

  const digest = hexValues(digestBlock!);
  const sha256 = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  assert.equal(value(digest, "SHA-256"), hex(sha256));
  assert.equal(
    value(digest, "digest key"),
    hex(await hkdf(key, new Uint8Array(32), "chat/1 file digest", 32)),
  );
  assert.equal(
    value(digest, "on the wire"),
    await cipher.keyedDigest(hex(sha256)),
  );

  // The third frame (seq 2) of a direction whose T0 is A.1's.
  const header = /header `(\{.*?\})` \((\d+) bytes\)/.exec(text);
  assert.ok(header, "A.4 names the bulk frame's header");
  assert.equal(utf8Encode(header[1]!).length, Number(header[2]));
  const sealer = new FrameSealer(Uint8Array.fromHex(value(A1, "T0")));
  for (let i = 0; i < 2; i++) await sealer.seal(utf8Encode("x"));
  const frame = await sealer.sealBulk(utf8Encode(header[1]!), body);
  const bulk = hexValues(frameBlock!);
  assert.equal(value(bulk, "frame"), hex(frame));
  assert.equal(value(bulk, "prefix (AAD)"), hex(frame.subarray(0, 13)));
  const iv = Uint8Array.fromHex(value(A1, "iv_0"));
  iv[11]! ^= 2;
  assert.equal(value(bulk, "nonce"), hex(iv));
  assert.equal(
    Number(/\((\d+) bytes: prefix/.exec(frameBlock!)?.[1]),
    frame.length,
  );
});

Deno.test("PROTOCOL.md A.5: the room frame is what RoomFrameSealer makes", async () => {
  const block = blocks(section("### A.5 Room frame"))[0]!;
  const values = hexValues(block);
  const at = /epoch (\d+), counter (\d+)/.exec(block);
  assert.ok(at, "A.5 names the epoch and the counter");
  const sealer = new RoomFrameSealer(
    Number(at[1]),
    Uint8Array.fromHex(value(values, "room key")),
    webRoomCrypto,
  );
  const sealed = await sealer.seal(
    Number(at[2]),
    Uint8Array.fromHex(value(values, "batch")),
  );
  const macKey = Uint8Array.fromHex(value(values, "mac_key"));
  const frame = (await sealed.frameFor(webRoomCrypto.mac(macKey))).slice();
  const header = value(values, "header (AAD)");
  const nonce = value(values, "nonce");
  const ciphertext = value(values, "ciphertext+tag");
  const mac = value(values, "mac");
  assert.equal(hex(frame), header + ciphertext + mac);
  assert.equal(nonce, header.slice(2));
  const sha = new Uint8Array(
    await crypto.subtle.digest("SHA-256", Uint8Array.fromHex(ciphertext)),
  );
  assert.equal(value(values, "SHA-256 of it"), hex(sha));
  assert.equal(
    hex(sealed.authenticated),
    hex(utf8Encode("chat/1 room frame")) + header + hex(sha),
  );
  assert.equal(
    Number(
      /\((\d+) bytes\)/.exec(
        block.split("\n").find((l) => l.startsWith("frame"))!,
      )?.[1],
    ),
    frame.length,
  );
});

Deno.test("PROTOCOL.md 4.1: the three compact examples are what encodeCompactChat makes", () => {
  const text = section("### 4.1 Layout");
  const from =
    /a public message from `(\w+)` at `ts` = (0x[0-9a-f]+) with the body `(\w+)`/
      .exec(text);
  const position = /with `id` = (\d+) and `seq` = (\d+)/.exec(text);
  assert.ok(from && position, "4.1 names the example's fields");
  const start = text.indexOf("Example, a public message");
  const [plain, fixed, varint] = blocks(text.slice(start)).map((b) =>
    b.replaceAll(/\s+/g, "")
  );
  const message = {
    t: "public" as const,
    from: from[1]!,
    ts: Number(from[2]),
    id: Number(position[1]),
    seq: Number(position[2]),
  };
  const body = utf8Encode(from[3]!);
  assert.equal(plain, hex(encodeCompactChat(message, body, "none")!));
  assert.equal(fixed, hex(encodeCompactChat(message, body, "fixed")!));
  assert.equal(varint, hex(encodeCompactChat(message, body, "varint")!));
});

Deno.test("PROTOCOL.md 8: every look-alike of the table shares a skeleton, and no pair of the other column does", () => {
  const table = section("## 8 Naming rules and limits");
  const start = table.indexOf("| Look alike");
  const lines = table.slice(start).split("\n").slice(2);
  const end = lines.findIndex((l) => !l.startsWith("|"));
  const rows = end < 0 ? lines : lines.slice(0, end);
  assert.ok(rows.length > 0, "8 has the look-alike table");
  let pairs = 0;
  for (const row of rows) {
    const [alike, distinct] = row.split("|").slice(1, 3);
    for (const group of alike!.split(";")) {
      const names = [...group.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      for (const name of names.slice(1)) {
        assert.equal(nameSkeleton(name), nameSkeleton(names[0]!), group);
        assert.ok(looksAlike(name, names[0]!), group);
        pairs++;
      }
    }
    for (const pair of distinct!.split(";")) {
      const names = [...pair.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      if (names.length === 0) continue;
      assert.equal(names.length, 2, pair);
      assert.ok(!looksAlike(names[0]!, names[1]!), pair);
      pairs++;
    }
  }
  assert.ok(pairs >= 20, `${pairs} pairs`);
});

Deno.test("PROTOCOL.md 5.9: the name binding entry is what encodeNameBinding writes", () => {
  const text = DOC.slice(DOC.indexOf("Test vector (`tests/server/cluster/"));
  const said =
    /the key\s+`(SHA256:[^`]+)`\s+binding a released name\s+when the log ended at (\d+), at (\d+), is the entry\s+`(\{[^`]+\})`/
      .exec(text);
  assert.ok(said, "the name binding vector is where it was");
  assert.equal(
    encodeNameBinding({
      fingerprint: said[1]!,
      cut: {
        fingerprint: said[1]!,
        after: Number(said[2]),
        since: Number(said[3]),
      },
    }),
    said[4],
  );
});

Deno.test("PROTOCOL.md 11.10: the file secrets and the file-end signature are what the client makes", async () => {
  const text = section("### 11.10 Files end to end: the file key as a secret");
  const vectors = blocks(text.slice(text.indexOf("Test vector")));
  const one = vectors.find((b) => /^secret\s+01/m.test(b));
  const signed = vectors.find((b) => /^signed\s/m.test(b));
  const two = vectors.find((b) => /^secret\s+02/m.test(b));
  const key = new Uint8Array(32).fill(7);
  assert.equal(
    hexValues(one!).map(([, h]) => h).join(""),
    hex(encodeFileSecret(key, "a.txt", 258)),
  );
  const seed = new Uint8Array(32).fill(9);
  const verifyKey = await signingPublicOf(seed);
  const v = /so `V` = `([0-9a-f]{64})`/.exec(text);
  assert.equal(v?.[1], hex(verifyKey));
  const sig = /sig\s+(\S+)/.exec(signed!)![1]!;
  assert.equal(await verifyFileEnd(verifyKey, "0a".repeat(32), sig), true);
  // Ed25519 signatures are deterministic: the same seed signs the same bytes.
  const pkcs8 = Uint8Array.fromHex("302e020100300506032b657004220420");
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    new Uint8Array([...pkcs8, ...seed]),
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  const mine = new Uint8Array(
    await crypto.subtle.sign(
      "Ed25519",
      privateKey,
      new Uint8Array([
        ...utf8Encode("chat/1 file end"),
        ...new Uint8Array(32).fill(10),
      ]),
    ),
  );
  assert.equal(sig, toBase64(mine));
  assert.equal(
    hexValues(two!).map(([, h]) => h).join(""),
    hex(encodeFileSecret(key, "a.txt", 258, { group: "crew", verifyKey })),
  );
});

Deno.test("PROTOCOL.md 11.11: the sender key and the two messages are what the sender chain makes", async () => {
  const text = section("### 11.11 Group messages end to end: sender keys");
  const values = hexValues(
    blocks(text.slice(text.indexOf("Test vectors")))[0]!,
  );
  const signingSeed = new Uint8Array(32).fill(0xc3);
  let chain: OwnChain = {
    chainId: new Uint8Array(16).fill(0xc1),
    iteration: 0,
    chainKey: new Uint8Array(32).fill(0xc2),
    signingSeed,
    signingPublic: await signingPublicOf(signingSeed),
  };
  assert.equal(value(values, "sender key"), hex(encodeSenderKey(chain)));
  for (const [i, plaintext] of ["hello team", "second"].entries()) {
    const out = await sealGroupMessage(chain, utf8Encode(plaintext));
    assert.equal(value(values, `message ${i}`), hex(out.message));
    chain = out.chain;
  }
});

Deno.test("PROTOCOL.md 5.3: the register, challenge and welcome examples parse, and the key is A.3's", () => {
  const text = section("### 5.3 Registration and identity");
  const json = blocks(text).flatMap((b) =>
    b.split("\n").filter((l) => l.startsWith('{"t":'))
  );
  const register = json.find((l) => l.includes('"t":"register"'))!;
  const parsed = parseClientMessage(JSON.parse(register));
  assert.equal(parsed.t, "register");
  const a3 = blocks(section("### A.3 Identity proof"))[0]!;
  const publicKey = /public key\s+([0-9a-f]{64})/.exec(a3)![1]!;
  assert.ok(parsed.t === "register");
  assert.equal(hex(fromBase64(parsed.key)), publicKey);
  const challenge = json.find((l) => l.includes('"t":"challenge"'))!;
  const nonce = /challenge \(nonce\)\s+([0-9a-f]{64})/.exec(a3)![1]!;
  const c = parseServerMessage(JSON.parse(challenge));
  assert.ok(c.t === "challenge");
  assert.equal(hex(fromBase64(c.nonce)), nonce);
  const welcomes = json.filter((l) => l.includes('"t":"welcome"'));
  assert.ok(welcomes.length >= 2);
  for (const welcome of welcomes) {
    assert.deepEqual(
      parseServerMessage(JSON.parse(welcome)),
      JSON.parse(welcome),
    );
  }
});

Deno.test("PROTOCOL.md 9: the worked example's plaintext of c2s#2 and bob's compact public message are what the encoders make", () => {
  const text = section("## 9 A worked example");
  const said = /c2s#2 {3}(\{"t":"say".*?\}) .*?body "(.*?)"/.exec(text);
  assert.ok(said, "9 shows c2s#2");
  const plaintext = encodeMessage(JSON.parse(said[1]!), utf8Encode(said[2]!));
  // The byte table after "The plaintext of `c2s#2` is these 32 bytes".
  const table = blocks(text.slice(text.indexOf("The plaintext of")))[0]!;
  const bytes = table.split("\n").map((l) =>
    /^((?:[0-9a-f]{2} )*[0-9a-f]{2})/.exec(l)?.[1] ?? ""
  )
    .join("").replaceAll(" ", "");
  assert.equal(bytes, hex(plaintext));
  assert.equal(
    Number(/these (\d+) bytes/.exec(text)?.[1]),
    plaintext.length,
  );
  // On the wire: version, seq, ciphertext and tag.
  assert.equal(
    Number(/(\d+)\s+bytes in all/.exec(text)?.[1]),
    1 + 8 + plaintext.length + 16,
  );
  const compact = /public, compact .*\n\s+((?:[0-9a-f]{2}\s+)+)body: the same/
    .exec(text);
  assert.ok(compact, "9 shows bob's compact public message");
  const ts = /\{"t":"public","from":"alice","ts":(\d+)\}/.exec(text);
  assert.ok(ts, "9 shows the public message's JSON form");
  const form = encodeCompactChat(
    { t: "public", from: "alice", ts: Number(ts[1]) },
    utf8Encode(said[2]!),
  )!;
  assert.equal(
    compact[1]!.replaceAll(/\s+/g, "") + hex(utf8Encode(said[2]!)),
    hex(form),
  );
});

Deno.test("PROTOCOL.md 11.7: the text with the sender's time is what encodeContent makes, and decodes back", () => {
  const text = section(
    "### 11.7 Private messages end to end: `e2e_msg` and `e2e_private`",
  );
  const vector = blocks(text).find((b) => /^content\s/m.test(b));
  const bytes = value(hexValues(vector!), "content");
  const content = {
    type: "text",
    from: "alice",
    to: "bob",
    text: "hi",
    sentAt: 1767225600000,
  } as const;
  assert.equal(hex(encodeContent(content)), bytes);
  assert.deepEqual(decodeContent(Uint8Array.fromHex(bytes)), content);
});
