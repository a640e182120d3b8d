import assert from "node:assert/strict";
import {
  encodeFileSecret,
  FILE_KEY_WAIT_MS,
  FILE_SECRET_HEAD_BYTES,
  fileGivenLine,
  FileKeyInbox,
  fileKeyOfSecret,
  fileSecretLabel,
  GROUP_FILE_SECRET_HEAD_BYTES,
  HIDDEN_FILE_NAME,
  KEY_WAIT_IN_TURN_MS,
  keyIdOfLabel,
  keyLinesOf,
  keyWaitLeft,
  MAX_SECRET_FILE_NAME_BYTES,
  maxSecretFileNameBytes,
  newFileKeyId,
  pendingKeyNotice,
  receiveFileKey,
  shareFileKey,
  withRealName,
} from "../../src/client/file_key_share.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import { utf8Encode } from "../../src/crypto/bytes.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";
import type { ChatClient, Reply } from "../../src/client/chat_client.ts";
import { stillPending } from "../../src/client/answer_within.ts";

function offer(fields: Partial<FileOfferNotice> = {}): FileOfferNotice {
  return {
    t: "file_offer",
    xfer: 1,
    from: "alice",
    name: "plans.pdf",
    size: 1234,
    timeout: 90_000,
    ...fields,
  };
}

Deno.test("encodeFileSecret is the version, the key, the size and the name, as PROTOCOL.md 11.10 says", () => {
  const key = new Uint8Array(32).fill(7);
  const secret = encodeFileSecret(key, "a.txt", 258);
  assert.equal(secret.length, FILE_SECRET_HEAD_BYTES + 5);
  assert.equal(
    secret.toHex(),
    "01" +
      "0707070707070707070707070707070707070707070707070707070707070707" +
      "0000000000000102" + "612e747874",
  );
  assert.throws(() => encodeFileSecret(key, "", 1), RangeError);
  assert.throws(
    () => encodeFileSecret(key, "x".repeat(MAX_SECRET_FILE_NAME_BYTES + 1), 1),
    RangeError,
  );
  // The longest name still fits a secret (at most 1,024 bytes, 11.7).
  assert.equal(
    encodeFileSecret(key, "é".repeat(MAX_SECRET_FILE_NAME_BYTES / 2 | 0), 1)
      .length <= 1024,
    true,
  );
});

Deno.test("fileKeyOfSecret gives the key and the sender's name only to an offer of the same size, whatever name the offer says", () => {
  const key = newFileKey();
  const secret = encodeFileSecret(key, "plans.pdf", 1234);
  for (const name of ["plans.pdf", HIDDEN_FILE_NAME, "invoice.exe"]) {
    assert.deepEqual(fileKeyOfSecret(secret, offer({ name })), {
      key,
      name: "plans.pdf",
    });
  }
  const got = fileKeyOfSecret(secret, offer({ size: 1235 }));
  assert.ok("error" in got);
  assert.match(got.error, /for another file/);
  const malformed = [
    secret.subarray(0, FILE_SECRET_HEAD_BYTES),
    Uint8Array.of(2, ...secret.subarray(1)),
    Uint8Array.of(...secret.subarray(0, FILE_SECRET_HEAD_BYTES), 0xff, 0xfe),
  ];
  for (const bad of malformed) {
    const refused = fileKeyOfSecret(bad, offer());
    assert.ok("error" in refused && /malformed/.test(refused.error));
  }
});

Deno.test("keyIdOfLabel reads only labels of file keys", () => {
  const id = newFileKeyId();
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.notEqual(id, newFileKeyId());
  assert.equal(keyIdOfLabel(fileSecretLabel(id)), id);
  assert.equal(keyIdOfLabel("file " + id.toUpperCase()), null);
  assert.equal(keyIdOfLabel("file " + id + "0"), null);
  assert.equal(keyIdOfLabel("note " + id), null);
});

Deno.test("FileKeyInbox.take waits for a key that comes after the offer, and hands it out once", async () => {
  const inbox = new FileKeyInbox();
  const id = newFileKeyId();
  const key = newFileKey();
  const waiting = inbox.take(offer({ key_id: id }), 5000);
  assert.equal(
    inbox.deliver(
      "Alice",
      fileSecretLabel(id),
      encodeFileSecret(key, "plans.pdf", 1234),
    ),
    true,
  );
  assert.deepEqual(await waiting, { key, name: "plans.pdf" });
  const again = await inbox.take(offer({ key_id: id }), 10);
  assert.ok("error" in again && /did not arrive/.test(again.error));
});

Deno.test("FileKeyInbox refuses a key that came from someone else than the offer's sender, and ignores other secrets", async () => {
  const inbox = new FileKeyInbox();
  const id = newFileKeyId();
  assert.equal(inbox.deliver("mallory", "note", new Uint8Array(3)), false);
  inbox.deliver(
    "mallory",
    fileSecretLabel(id),
    encodeFileSecret(newFileKey(), "plans.pdf", 1234),
  );
  const got = await inbox.take(offer({ key_id: id }), 10);
  assert.ok("error" in got);
  assert.match(got.error, /came from mallory, not from alice/);
});

Deno.test("receiveFileKey takes a readable key only from a sender not known to use end-to-end keys", async () => {
  const key = newFileKey();
  const plain = offer(fileKeyForOffer(key));
  const inbox = new FileKeyInbox();
  assert.deepEqual(
    await receiveFileKey(plain, { inbox, usesE2e: () => false }),
    {
      key,
      name: "plans.pdf",
      readable: true,
      notice:
        "alice has no end-to-end keys: plans.pdf is not end-to-end encrypted, and the host of the server can read it",
    },
  );
  const refused = await receiveFileKey(plain, { inbox, usesE2e: () => true });
  assert.ok("error" in refused);
  assert.match(
    refused.error,
    /^Cannot take 'plans\.pdf': .*readable by the server, but alice uses end-to-end keys/,
  );
  const none = await receiveFileKey(offer(), { inbox, usesE2e: () => false });
  assert.ok("error" in none && /carries no file key/.test(none.error));
});

Deno.test("receiveFileKey judges at once the key in the clear of a one-to-one offer that also names a key id (its sender had no end-to-end keys of ours): no secret is coming", async () => {
  const key = newFileKey();
  // What alice sends carol when carol's keys have not reached alice's node.
  const keyless = offer({ ...fileKeyForOffer(key), key_id: newFileKeyId() });
  const inbox = new FileKeyInbox();
  const started = Date.now();
  assert.deepEqual(
    await receiveFileKey(keyless, {
      inbox,
      usesE2e: () => false,
      waitMs: 5000,
    }),
    {
      key,
      name: "plans.pdf",
      readable: true,
      notice:
        "alice had no end-to-end keys of yours: plans.pdf is not end-to-end encrypted, and the host of the server can read it",
    },
  );
  // From a sender known to use end-to-end keys, a key in the clear is the
  // server's word only: refused, at once too.
  const refused = await receiveFileKey(keyless, {
    inbox,
    usesE2e: () => true,
    waitMs: 5000,
  });
  assert.ok("error" in refused);
  assert.match(refused.error, /alice uses end-to-end keys/);
  assert.ok(Date.now() - started < 2500, "waited for a key never sent");
  // A secret that is here is still the one used (a server may have added
  // the key in the clear).
  const id = newFileKeyId();
  inbox.deliver(
    "alice",
    fileSecretLabel(id),
    encodeFileSecret(key, "real.pdf", 1234),
  );
  assert.deepEqual(
    await receiveFileKey(offer({ ...fileKeyForOffer(key), key_id: id }), {
      inbox,
      usesE2e: () => false,
    }),
    { key, name: "real.pdf", readable: false },
  );
});

Deno.test("receiveFileKey waits for the secret of a group offer with a key in the clear too, and takes the one in the clear only if the secret never comes and the sender may send one", async () => {
  const key = newFileKey();
  const inbox = new FileKeyInbox();
  // The secret after the offer: awaited, and it wins.
  const id = newFileKeyId();
  const waiting = receiveFileKey(
    offer({ ...fileKeyForOffer(key), key_id: id, group: "team" }),
    { inbox, usesE2e: () => false, waitMs: 5000 },
  );
  const verifyKey = new Uint8Array(32).fill(9);
  inbox.deliver(
    "alice",
    fileSecretLabel(id),
    encodeFileSecret(key, "plans.pdf", 1234, { group: "team", verifyKey }),
  );
  assert.deepEqual(await waiting, {
    key,
    name: "plans.pdf",
    readable: false,
    verifyKey,
  });
  // No secret: the key in the clear once the wait is over.
  const missing = offer({
    ...fileKeyForOffer(key),
    key_id: newFileKeyId(),
    group: "team",
  });
  const fallback = await receiveFileKey(missing, {
    inbox,
    usesE2e: () => false,
    waitMs: 10,
  });
  assert.ok("key" in fallback && fallback.readable);
  assert.match(fallback.notice ?? "", /had no end-to-end keys of yours/);
  const refused = await receiveFileKey(missing, {
    inbox,
    usesE2e: () => true,
    waitMs: 10,
  });
  assert.ok("error" in refused && /uses end-to-end keys/.test(refused.error));
  // A secret that came unfit (from someone else) is meddling: refused, not
  // made up for by the key in the clear.
  const forged = newFileKeyId();
  inbox.deliver(
    "mallory",
    fileSecretLabel(forged),
    encodeFileSecret(newFileKey(), "plans.pdf", 1234),
  );
  const unfit = await receiveFileKey(
    offer({ ...fileKeyForOffer(key), key_id: forged, group: "team" }),
    { inbox, usesE2e: () => false, waitMs: 10 },
  );
  assert.ok("error" in unfit && /came from mallory/.test(unfit.error));
});

Deno.test("receiveFileKey without waiting takes a secret already here, and otherwise answers at once", async () => {
  const inbox = new FileKeyInbox();
  const key = newFileKey();
  const id = newFileKeyId();
  inbox.deliver(
    "alice",
    fileSecretLabel(id),
    encodeFileSecret(key, "q3.xlsx", 1234),
  );
  const source = { inbox, usesE2e: () => true, waitMs: 5000 };
  assert.deepEqual(
    await receiveFileKey(offer({ key_id: id }), source, false),
    { key, name: "q3.xlsx", readable: false },
  );
  const started = Date.now();
  const absent = await receiveFileKey(
    offer({ key_id: newFileKeyId() }),
    source,
    false,
  );
  assert.ok(Date.now() - started < 2500, "waited");
  assert.ok("error" in absent);
  assert.match(absent.error, /its key has not arrived end to end from alice/);
});

Deno.test("receiveFileKey names an end-to-end file by its secret, not by the offer", async () => {
  const inbox = new FileKeyInbox();
  const id = newFileKeyId();
  const key = newFileKey();
  inbox.deliver(
    "alice",
    fileSecretLabel(id),
    encodeFileSecret(key, "q3.xlsx", 1234),
  );
  assert.deepEqual(
    await receiveFileKey(offer({ key_id: id, name: HIDDEN_FILE_NAME }), {
      inbox,
      usesE2e: () => true,
    }),
    { key, name: "q3.xlsx", readable: false },
  );
  const late = await receiveFileKey(offer({ key_id: newFileKeyId() }), {
    inbox,
    usesE2e: () => true,
    waitMs: 10,
  });
  assert.ok("error" in late);
  assert.match(
    late.error,
    /^Cannot take a file from alice: its key did not arrive/,
  );
});

Deno.test("shareFileKey leaves the name out of an offer whose recipients all get the key end to end, and puts it in (with a warning) for one without keys", async () => {
  const sent: { to: string; label: string; secret: Uint8Array }[] = [];
  const reply = (to: string): Reply =>
    to === "carol"
      ? {
        t: "error",
        re: 1,
        code: "no_keys",
        text: "ERROR: carol has not published end-to-end keys",
      }
      : { t: "ok", re: 1, text: "" };
  const sender = {
    sendSecret: (
      _client: ChatClient,
      to: string,
      label: string,
      secret: Uint8Array,
    ) => {
      sent.push({ to, label, secret });
      return Promise.resolve(reply(to));
    },
    usesE2e: () => false,
    notify: () => assert.fail("nothing is pending"),
  };
  const client = { name: "alice" } as ChatClient;
  const key = newFileKey();
  const hidden = await shareFileKey(
    sender,
    client,
    { to: "bob" },
    key,
    "q3.xlsx",
    99,
  );
  assert.equal(hidden.kind, "shared");
  if (hidden.kind !== "shared") return;
  assert.deepEqual(Object.keys(hidden.fields).sort(), ["key_id", "name"]);
  assert.equal(hidden.fields.name, HIDDEN_FILE_NAME);
  assert.deepEqual(hidden.lines, []);
  assert.equal(sent[0]?.label, fileSecretLabel(hidden.fields.key_id));
  assert.deepEqual(
    fileKeyOfSecret(sent[0]!.secret, offer({ size: 99 })),
    { key, name: "q3.xlsx" },
  );

  const clear = await shareFileKey(
    sender,
    client,
    { to: "carol" },
    key,
    "q3.xlsx",
    99,
  );
  assert.equal(clear.kind, "shared");
  if (clear.kind !== "shared") return;
  assert.equal(clear.fields.name, "q3.xlsx");
  assert.deepEqual(clear.fields.key, fileKeyForOffer(key).key);
  assert.match(
    clear.lines[0]!,
    /^WARNING: carol has not published end-to-end keys: q3\.xlsx is not end-to-end encrypted, and the host of the server can read it and its name$/,
  );

  const long = await shareFileKey(
    sender,
    client,
    { to: "bob" },
    key,
    "x".repeat(MAX_SECRET_FILE_NAME_BYTES + 1),
    99,
  );
  assert.equal(long.kind, "refused");
});

Deno.test("shareFileKey waits for the late answer to a file key still pending, saying so, and offers the file then; a late error refuses it", async () => {
  const client = { name: "alice" } as ChatClient;
  const key = newFileKey();
  for (const late of ["ok", "error"] as const) {
    const answer = Promise.withResolvers<Reply>();
    const said: string[] = [];
    const sender = {
      sendSecret: (_client: ChatClient, to: string) =>
        Promise.resolve(stillPending(to, answer.promise)),
      usesE2e: () => true,
      notify: (line: string) => {
        said.push(line);
        answer.resolve(
          late === "ok" ? { t: "ok", re: 1, text: "", id: 5, seq: 1 } : {
            t: "error",
            re: 1,
            code: "no_such_user",
            text: "ERROR: No user 'bob'",
          },
        );
      },
    };
    const shared = await shareFileKey(
      sender,
      client,
      { to: "bob" },
      key,
      "q3.xlsx",
      99,
    );
    assert.deepEqual(said, [pendingKeyNotice("bob", "q3.xlsx")]);
    assert.match(
      said[0]!,
      /has not answered the key of q3\.xlsx sent to bob within \d+ seconds: it is still pending, and the file is offered when the answer comes$/,
    );
    if (late === "ok") {
      assert.equal(shared.kind, "shared");
      assert.deepEqual(shared.kind === "shared" ? shared.lines : null, []);
    } else {
      assert.equal(shared.kind, "refused");
      assert.match(
        shared.kind === "refused" ? shared.reply.text : "",
        /No user 'bob'/,
      );
    }
  }
});

Deno.test("withRealName puts the sender's file name back into a server's reply about a hidden one", () => {
  assert.equal(
    withRealName(
      `ERROR: jojo declined ${HIDDEN_FILE_NAME}`,
      HIDDEN_FILE_NAME,
      "q3.xlsx",
    ),
    "ERROR: jojo declined q3.xlsx",
  );
  assert.equal(
    withRealName("ERROR: jojo declined a.txt", "a.txt", "a.txt"),
    "ERROR: jojo declined a.txt",
  );
});

Deno.test("a group file's secret is version 2: the key, the size, the sender's verify key, the group and the name, as PROTOCOL.md 11.10 says; an offer that does not name that group refuses it", async () => {
  const key = new Uint8Array(32).fill(7);
  const verifyKey = Uint8Array.fromHex(
    "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618",
  );
  const toCrew = { group: "crew", verifyKey };
  const secret = encodeFileSecret(key, "a.txt", 258, toCrew);
  assert.equal(secret.length, GROUP_FILE_SECRET_HEAD_BYTES + 4 + 5);
  assert.equal(
    secret.toHex(),
    "02" +
      "0707070707070707070707070707070707070707070707070707070707070707" +
      "0000000000000102" +
      "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618" +
      "04" + "63726577" +
      "612e747874",
  );
  // The group compared as names are (in any case).
  for (const group of ["crew", "CREW"]) {
    assert.deepEqual(fileKeyOfSecret(secret, offer({ size: 258, group })), {
      key,
      name: "a.txt",
      verifyKey,
    });
  }
  // Relabelled by the server: as private, or as another group's.
  for (const group of [undefined, "team"]) {
    const relabelled = fileKeyOfSecret(
      secret,
      offer({ size: 258, ...(group === undefined ? {} : { group }) }),
    );
    assert.ok(
      "error" in relabelled &&
        /is for a file to group crew \(the server may have relabelled it\)/
          .test(relabelled.error),
      JSON.stringify(relabelled),
    );
  }
  // The longest name still fits 1,024 bytes; one more byte does not.
  const longest = maxSecretFileNameBytes("crew");
  assert.equal(longest, 1024 - GROUP_FILE_SECRET_HEAD_BYTES - 4);
  assert.equal(
    encodeFileSecret(key, "x".repeat(longest), 1, toCrew).length,
    1024,
  );
  assert.throws(
    () => encodeFileSecret(key, "x".repeat(longest + 1), 1, toCrew),
    RangeError,
  );
  assert.throws(
    () => encodeFileSecret(key, "a", 1, { group: "a b", verifyKey }),
    RangeError,
  );
  // Malformed: no file name; a group's name that is not one.
  const malformed = [
    secret.subarray(0, GROUP_FILE_SECRET_HEAD_BYTES + 4),
    Uint8Array.of(...secret.subarray(0, GROUP_FILE_SECRET_HEAD_BYTES - 1), 0),
    Uint8Array.of(
      ...secret.subarray(0, GROUP_FILE_SECRET_HEAD_BYTES - 1),
      4,
      ...utf8Encode("c ew"),
      0x61,
    ),
    Uint8Array.of(...secret.subarray(0, GROUP_FILE_SECRET_HEAD_BYTES - 1), 200),
  ];
  for (const bad of malformed) {
    const refused = fileKeyOfSecret(bad, offer({ size: 258, group: "crew" }));
    assert.ok("error" in refused && /malformed/.test(refused.error));
  }
  // A group offer whose secret is version 1: anyone in the group could have
  // written the file, so it is refused.
  const inbox = new FileKeyInbox();
  const id = newFileKeyId();
  inbox.deliver("alice", fileSecretLabel(id), encodeFileSecret(key, "a", 9));
  const refused = await receiveFileKey(
    offer({ key_id: id, size: 9, group: "team" }),
    { inbox, usesE2e: () => true, waitMs: 10 },
  );
  assert.ok(
    "error" in refused && /which a group file needs/.test(refused.error),
    JSON.stringify(refused),
  );
});

Deno.test("fileGivenLine names each member the user's chain is not given to, up to twenty, and counts the others", () => {
  const names = (n: number, p = "n") =>
    Array.from({ length: n }, (_, i) => `${p}${i}`);
  const old = names(12, "c");
  assert.equal(
    fileGivenLine("plan.txt", "crew", old, null),
    "The key of plan.txt went end to end to c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 and 2 more, the members of crew online the server lists",
  );
  assert.equal(
    fileGivenLine("plan.txt", "crew", old, new Set(old)),
    "The key of plan.txt went end to end to c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 and 2 more, the members of crew online the server lists",
  );
  assert.equal(
    fileGivenLine("plan.txt", "crew", [...old, "Eve"], new Set(old)),
    "The key of plan.txt went end to end to Eve, a member of crew online the server lists whom your messages there do not go to, and to 12 more whom they go to",
  );
  assert.equal(
    fileGivenLine("plan.txt", "crew", names(23), new Set(old)),
    `The key of plan.txt went end to end to ${
      names(20).join(", ")
    } and 3 more of them, members of crew online the server lists whom your messages there do not go to`,
  );
});

Deno.test("keyWaitLeft counts an offer's key wait from when it came, 1 s at least once its turn comes", () => {
  assert.equal(keyWaitLeft(FILE_KEY_WAIT_MS), FILE_KEY_WAIT_MS);
  assert.equal(keyWaitLeft(FILE_KEY_WAIT_MS, 1_000, 1_000), FILE_KEY_WAIT_MS);
  assert.equal(keyWaitLeft(FILE_KEY_WAIT_MS, 1_000, 4_000), 7_000);
  // Its turn came after the 10 s: what came before it is shown, and a
  // secret opened with it gets a moment, not 10 s more.
  assert.equal(
    keyWaitLeft(FILE_KEY_WAIT_MS, 1_000, 60_000),
    KEY_WAIT_IN_TURN_MS,
  );
  // Never more than asked for (0: only a key already here).
  assert.equal(keyWaitLeft(0, 1_000, 60_000), 0);
  // Nothing more once its turn came, when given none at least.
  assert.equal(keyWaitLeft(FILE_KEY_WAIT_MS, 1_000, 60_000, 0), 0);
  assert.equal(keyWaitLeft(FILE_KEY_WAIT_MS, 1_000, 4_000, 0), 7_000);
});

Deno.test("FileKeyInbox.take gives an offer whose wait is over no second in turn while another offer of the same sender's had its key fail to come lately: a burst of offers does not hold the lines after them a second each", async () => {
  const inbox = new FileKeyInbox();
  // Both offers came a minute ago: their 10 s are over by their turn.
  const came = performance.now() - 60_000;
  let start = performance.now();
  const first = await inbox.take(
    offer({ xfer: 1, from: "mallory", key_id: newFileKeyId() }),
    FILE_KEY_WAIT_MS,
    came,
  );
  assert.ok("missing" in first);
  // No key failed to come before: a key opened with the lines just before
  // the offer had its second.
  assert.ok(performance.now() - start >= KEY_WAIT_IN_TURN_MS - 50);
  start = performance.now();
  const second = await inbox.take(
    offer({ xfer: 2, from: "Mallory", key_id: newFileKeyId() }),
    FILE_KEY_WAIT_MS,
    came,
  );
  assert.ok("missing" in second);
  const waited = performance.now() - start;
  assert.ok(waited < KEY_WAIT_IN_TURN_MS / 2, `waited ${waited} ms`);
  // A key that is here is taken all the same.
  const id = newFileKeyId();
  const key = newFileKey();
  inbox.deliver(
    "mallory",
    fileSecretLabel(id),
    encodeFileSecret(key, "a", 1234),
  );
  assert.deepEqual(
    await inbox.take(
      offer({ xfer: 3, from: "mallory", key_id: id }),
      FILE_KEY_WAIT_MS,
      came,
    ),
    { key, name: "a" },
  );
  // An offer that came just now still waits for its key: its 10 s are not
  // cut by another's.
  const late = newFileKeyId();
  const waiting = inbox.take(
    offer({ xfer: 4, from: "mallory", key_id: late }),
    FILE_KEY_WAIT_MS,
    performance.now(),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  inbox.deliver(
    "mallory",
    fileSecretLabel(late),
    encodeFileSecret(key, "b", 1234),
  );
  assert.deepEqual(await waiting, { key, name: "b" });
});

Deno.test("FileKeyInbox.take still gives an honest sender's offer its second in turn after a hostile sender's key never came: one sender cannot take it from others", async () => {
  const inbox = new FileKeyInbox();
  // Both offers came a minute ago: their 10 s are over by their turn.
  const came = performance.now() - 60_000;
  const hostile = await inbox.take(
    offer({ xfer: 1, from: "mallory", key_id: newFileKeyId() }),
    FILE_KEY_WAIT_MS,
    came,
  );
  assert.ok("missing" in hostile);
  // alice's key is opened with the lines just before her offer: it comes
  // within the second her offer waits in turn.
  const id = newFileKeyId();
  const key = newFileKey();
  const waiting = inbox.take(
    offer({ xfer: 2, from: "alice", key_id: id }),
    FILE_KEY_WAIT_MS,
    came,
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  inbox.deliver("alice", fileSecretLabel(id), encodeFileSecret(key, "a", 1234));
  assert.deepEqual(await waiting, { key, name: "a" });
});

Deno.test("FileKeyInbox remembers the missed keys of 256 senders at most, forgetting the one noted longest ago", async () => {
  const inbox = new FileKeyInbox();
  for (let i = 0; i <= 256; i++) {
    const got = await inbox.take(
      offer({ xfer: i, from: `mallory${i}`, key_id: newFileKeyId() }),
      1,
    );
    assert.ok("missing" in got);
  }
  const came = performance.now() - 60_000;
  // mallory0 was forgotten: its offer has its second again.
  let start = performance.now();
  await inbox.take(
    offer({ xfer: 300, from: "mallory0", key_id: newFileKeyId() }),
    FILE_KEY_WAIT_MS,
    came,
  );
  assert.ok(performance.now() - start >= KEY_WAIT_IN_TURN_MS - 50);
  // mallory256 was not.
  start = performance.now();
  await inbox.take(
    offer({ xfer: 301, from: "mallory256", key_id: newFileKeyId() }),
    FILE_KEY_WAIT_MS,
    came,
  );
  assert.ok(performance.now() - start < KEY_WAIT_IN_TURN_MS / 2);
});

Deno.test("keyLinesOf says whom the key went to as a notice, first, and each warning as a warning, by kind not by words", () => {
  assert.deepEqual(
    keyLinesOf("The key of a.txt went end to end to alice", [
      "WARNING: bob will not be able to open a.txt",
      "mallory will not be able to open a.txt",
    ]),
    [
      { kind: "notice", text: "The key of a.txt went end to end to alice" },
      { kind: "warning", text: "WARNING: bob will not be able to open a.txt" },
      { kind: "warning", text: "mallory will not be able to open a.txt" },
    ],
  );
  assert.deepEqual(keyLinesOf(undefined, []), []);
});

Deno.test("fileGivenLine says the member, not the members, when the key went to one", () => {
  // Before: "went end to end to jojo, the members of haha online ...".
  assert.equal(
    fileGivenLine("example.txt", "haha", ["jojo"], null),
    "The key of example.txt went end to end to jojo, the member of haha online the server lists",
  );
  assert.equal(
    fileGivenLine("example.txt", "haha", ["jojo"], new Set(["jojo"])),
    "The key of example.txt went end to end to jojo, the member of haha online the server lists",
  );
});
