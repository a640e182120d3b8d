/**
 * A classmate who signed in legitimately and then sends well-formed but
 * malicious protocol messages from a client of their own, over a real
 * server and real sockets (the raw client of tests/_helpers/raw_client.ts).
 */

import assert from "node:assert/strict";
import {
  generateIdentity,
  type Identity,
  importIdentityPem,
} from "../../src/crypto/identity.ts";
import {
  encodeBundle,
  generatePrekeys,
  type PrekeyBundle,
} from "../../src/crypto/prekeys.ts";
import { toHex } from "../../src/crypto/bytes.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { startTestServer, type TestServer } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";

/** A raw client signed in as `name` with `identity` (a fresh one by default). */
async function signedIn(
  server: TestServer,
  name: string,
  identity?: Identity,
): Promise<RawClient> {
  const raw = await RawClient.connect(server.url, { pinnedSpki: server.spki });
  const reply = await raw.register(name, identity ? { identity } : {});
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return raw;
}

async function newIdentity(): Promise<Identity> {
  return await importIdentityPem((await generateIdentity()).privatePem);
}

/** Each identity's DH key and signed prekey, the same at each publish. */
const keysOf = new WeakMap<Identity, PrekeyBundle>();

/** Publishes a bundle of `identity` with one-time keys `first`.. for `raw`. */
async function publish(
  raw: RawClient,
  identity: Identity,
  first: number,
  count: number,
): Promise<unknown> {
  const { bundle } = await generatePrekeys(identity, {
    signedId: 1,
    firstOneTimeId: first,
    oneTimeCount: count,
  });
  // As a client does: another signed prekey would drop the keys held.
  const keys = keysOf.get(identity) ?? bundle;
  keysOf.set(identity, keys);
  return await raw.request(
    { t: "e2e_keys" },
    new TextEncoder().encode(
      JSON.stringify(encodeBundle({ ...keys, oneTime: bundle.oneTime })),
    ),
  );
}

/** Fetches `name`'s bundle; the ids of the one-time keys it came with. */
async function fetchOneTimeIds(raw: RawClient, name: string) {
  const id = raw.nextId();
  await raw.sendMessage({ t: "e2e_bundle", name, id });
  const reply = await raw.replyTo(id);
  assert.equal(reply.t, "e2e_bundle", JSON.stringify(reply));
  const found = raw.messages.find(({ message }) =>
    "re" in message && message.re === id
  )!;
  const bundle = JSON.parse(new TextDecoder().decode(found.body)) as {
    one_time: { id: number }[];
  };
  return bundle.one_time.map((one) => one.id);
}

Deno.test("e2e_bundle hands one requester at most one of a user's one-time keys until the user publishes again: a classmate cannot use them all up", async () => {
  await using server = await startTestServer();
  const bobIdentity = await newIdentity();
  await using bob = await signedIn(server, "bob", bobIdentity);
  await using mallory = await signedIn(server, "mallory");
  await using alice = await signedIn(server, "alice");
  assert.deepEqual(await publish(bob, bobIdentity, 1, 3), {
    t: "e2e_keys",
    re: 3,
    one_time: 3,
  });

  // Mallory asks again and again, by any spelling of the name: bob stays
  // reachable (the bundle still comes), but only her first fetch takes one.
  assert.deepEqual(await fetchOneTimeIds(mallory, "bob"), [1]);
  for (const name of ["bob", "BOB", "Bob"]) {
    assert.deepEqual(await fetchOneTimeIds(mallory, name), []);
  }
  // Another classmate still gets one, the next.
  assert.deepEqual(await fetchOneTimeIds(alice, "bob"), [2]);
  // bob tops up at his next sign-in: one was left, one comes, and mallory
  // may take one again.
  assert.deepEqual(await publish(bob, bobIdentity, 10, 1), {
    t: "e2e_keys",
    re: 4,
    one_time: 2,
  });
  assert.deepEqual(await fetchOneTimeIds(mallory, "bob"), [3]);
  assert.deepEqual(await fetchOneTimeIds(mallory, "bob"), []);
});

/** The notices `raw` received so far whose `t` is `t`. */
function noticesOf(raw: RawClient, t: string) {
  return raw.messages.filter(({ message }) => message.t === t);
}

Deno.test("a group is closed to a non-member who posts to it, reads its history or rejoins under another case, and a rejoined member gets nothing sent while they were out", async () => {
  await using server = await startTestServer();
  await using alice = await signedIn(server, "alice");
  await using mallory = await signedIn(server, "mallory");
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal((await alice.request({ t: "create", group: "team" })).t, "ok");
  assert.equal(
    (await alice.request({ t: "gsay", group: "team" }, text("before"))).t,
    "ok",
  );
  for (
    const header of [
      { t: "gsay", group: "TEAM" },
      { t: "e2e_gsay", group: "team" },
      { t: "history", target: "Team" },
      { t: "leave", group: "team" },
    ]
  ) {
    const reply = await mallory.request(header, text("x"));
    assert.equal(reply.t === "error" && reply.code, "not_member", header.t);
  }
  const taken = await mallory.request({ t: "create", group: "TeAm" });
  assert.equal(taken.t === "error" && taken.code, "group_exists");
  // Join (another case), leave, miss a message, join again.
  assert.equal((await mallory.request({ t: "join", group: "TEAM" })).t, "ok");
  assert.equal((await mallory.request({ t: "leave", group: "team" })).t, "ok");
  assert.equal(
    (await alice.request({ t: "gsay", group: "team" }, text("while out"))).t,
    "ok",
  );
  assert.equal((await mallory.request({ t: "join", group: "team" })).t, "ok");
  const history = await mallory.request({ t: "history", target: "team" });
  assert.deepEqual(history, {
    t: "ok",
    re: history.t === "ok" ? history.re : -1,
    text: "No history for group 'team'.",
  });
  assert.deepEqual(noticesOf(mallory, "group"), []);
});

Deno.test("a file offer is answered only by its recipient and run only by its sender: a third user's accept, decline, ack and cancel change nothing", async () => {
  await using server = await startTestServer();
  await using alice = await signedIn(server, "alice");
  await using bob = await signedIn(server, "bob");
  await using mallory = await signedIn(server, "mallory");
  const offerId = alice.nextId();
  await alice.sendMessage({
    t: "file_offer",
    id: offerId,
    name: "report.pdf",
    size: 10,
    to: "bob",
    key: "ab".repeat(32),
  });
  let offer = noticesOf(bob, "file_offer")[0];
  while (offer === undefined) {
    await bob.receiveMessages();
    offer = noticesOf(bob, "file_offer")[0];
  }
  const xfer = (offer.message as { xfer: number }).xfer;
  // Mallory never saw the offer; transfer numbers count from 1.
  for (
    const header of [
      { t: "file_accept", xfer, offset: 10, sha256: "0".repeat(64) },
      { t: "file_decline", xfer },
      { t: "file_ack", xfer, received: 10 },
      { t: "file_done", xfer, ok: false, reason: "no" },
      { t: "file_cancel", xfer, reason: "hijacked" },
    ]
  ) await mallory.sendMessage(header);
  // Her messages were taken in turn: a ping answered after them.
  assert.equal((await mallory.request({ t: "ping" })).t, "pong");
  await bob.sendMessage({ t: "file_accept", xfer });
  const ready = await alice.replyTo(offerId);
  assert.deepEqual(ready, {
    t: "file_ready",
    re: offerId,
    xfer,
    recipients: ["bob"],
  });
  assert.deepEqual(noticesOf(alice, "file_cancel"), []);
  assert.deepEqual(noticesOf(bob, "file_cancel"), []);
});

Deno.test("history cursors only narrow what a classmate may read: bad values are refused, and an id from others' conversations, a group left, or an 'after' shows nothing of them", async () => {
  await using server = await startTestServer({
    // The cursors are the attack here, not their pace: every rate is lifted,
    // or a fast machine would meet `slow_down` in the middle of the loop.
    connectionLimits: {
      historyPerSecond: 0,
      historyPerSecondPerAddress: 0,
      messagesPerSecond: 0,
      messagesPerSecondPerAddress: 0,
    },
  });
  await using alice = await signedIn(server, "alice");
  await using bob = await signedIn(server, "bob");
  await using mallory = await signedIn(server, "mallory");
  const text = (s: string) => new TextEncoder().encode(s);
  // With a cid, an ok says where the message went (PROTOCOL 5.9).
  const cid = () => toHex(crypto.getRandomValues(new Uint8Array(16)));
  const idOf = (reply: ServerMessage) => {
    assert.ok(
      reply.t === "ok" && reply.id !== undefined,
      JSON.stringify(reply),
    );
    return reply.id;
  };
  const secret = idOf(
    await alice.request(
      { t: "msg", to: "bob", cid: cid() },
      text("secret for bob"),
    ),
  );
  assert.equal((await alice.request({ t: "create", group: "team" })).t, "ok");
  assert.equal((await mallory.request({ t: "join", group: "team" })).t, "ok");
  const whileIn = idOf(
    await alice.request(
      { t: "gsay", group: "team", cid: cid() },
      text("while in"),
    ),
  );
  assert.equal((await mallory.request({ t: "leave", group: "team" })).t, "ok");
  const afterLeft = idOf(
    await alice.request(
      { t: "gsay", group: "team", cid: cid() },
      text("after she left"),
    ),
  );
  assert.equal((await bob.request({ t: "join", group: "team" })).t, "ok");
  const mine = idOf(
    await mallory.request({ t: "msg", to: "bob", cid: cid() }, text("hi bob")),
  );

  for (const before of [-1, 1.5, 2 ** 53, "10", true, null, [], {}]) {
    const reply = await mallory.request({
      t: "history",
      target: "bob",
      before,
    });
    assert.equal(
      reply.t === "error" && reply.code,
      "bad_request",
      String(before),
    );
    assert.equal(
      reply.t === "error" && reply.text,
      "ERROR: Bad request: Field 'before' must be a non-negative integer",
    );
  }
  const cursors = [
    0,
    1,
    secret,
    secret + 1,
    whileIn + 1,
    afterLeft + 1,
    mine,
    mine + 1,
    Number.MAX_SAFE_INTEGER,
  ];
  for (const before of cursors) {
    const team = await mallory.request({
      t: "history",
      target: "team",
      before,
    });
    assert.equal(
      team.t === "error" && team.code,
      "not_member",
      `team before ${before}`,
    );
    const withAlice = await mallory.request({
      t: "history",
      target: "alice",
      before,
    });
    assert.equal(
      withAlice.t === "ok" && withAlice.text,
      "No history for your conversation with alice.",
    );
    const withBob = await mallory.request({
      t: "history",
      target: "bob",
      before,
    });
    assert.equal(withBob.t, "ok", `bob before ${before}`);
  }
  // An unknown field is ignored (PROTOCOL 10): the newest page, no more.
  const after = await mallory.request({
    t: "history",
    target: "bob",
    after: 0,
  });
  assert.equal(
    after.t === "ok" && after.text,
    "End of history for your conversation with bob (1 message).",
  );
  const read = mallory.messages.filter(({ message }) =>
    (message.t === "private" || message.t === "group") &&
    message.history === true
  ).map(({ body }) => new TextDecoder().decode(body));
  assert.ok(read.length > 0);
  assert.deepEqual([...new Set(read)], ["hi bob"]);
});
