import assert from "node:assert/strict";
import {
  isKnownServerType,
  parseServerMessage,
} from "../../src/protocol/parse_server_message.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";

Deno.test("parseServerMessage validates nested lists and maps unknown error codes to internal", () => {
  assert.deepEqual(
    parseServerMessage({
      t: "users",
      re: 1,
      users: [{ name: "a", lastMessageAt: null }],
    }),
    { t: "users", re: 1, users: [{ name: "a", lastMessageAt: null }] },
  );
  assert.throws(
    () => parseServerMessage({ t: "users", re: 1, users: [{ name: 1 }] }),
    TypeError,
  );
  assert.equal(
    (parseServerMessage({
      t: "error",
      re: null,
      code: "weird",
      text: "ERROR: x",
    }) as { code: string }).code,
    "internal",
  );
  assert.throws(
    () => parseServerMessage({ t: "bye", reason: "whatever", text: "" }),
    TypeError,
  );
});

Deno.test("parseServerMessage reads users' optional away and fingerprint", () => {
  const users = {
    t: "users",
    re: 1,
    users: [
      { name: "a", lastMessageAt: null },
      { name: "b", lastMessageAt: 5, away: "lunch", fingerprint: "SHA256:x" },
    ],
  };
  assert.deepEqual(parseServerMessage(users), users);
  assert.throws(() =>
    parseServerMessage({
      t: "users",
      re: 1,
      users: [{ name: "a", lastMessageAt: null, away: 1 }],
    })
  );
});

Deno.test("parseServerMessage refuses user and group names that break the naming rule", () => {
  const bad = ["", "eve\x1b]2;x\x07", "a b", "zo\u00eb", "x".repeat(33), 7];
  const messages = (name: unknown) => [
    { t: "welcome", re: 1, name, text: "hi" },
    { t: "public", from: name, ts: 1 },
    { t: "private", from: "al", to: name, ts: 1 },
    { t: "group", group: name, from: "al", ts: 1 },
    { t: "presence", name, online: true },
    { t: "membership", group: "g", name, joined: true },
    { t: "users", re: 1, users: [{ name, lastMessageAt: null }] },
    {
      t: "members",
      re: 1,
      groups: [{ group: "g", members: [name], online: [] }],
    },
    { t: "file_offer", xfer: 1, from: name, name: "a.txt", size: 1 },
    { t: "e2e_private", from: name, fingerprint: "f", ts: 1 },
  ];
  for (const message of messages("al_1.-Z")) parseServerMessage(message);
  for (const name of bad) {
    for (const message of messages(name)) {
      assert.throws(
        () => parseServerMessage(message),
        TypeError,
        JSON.stringify(message),
      );
    }
  }
});

Deno.test("parseServerMessage reads the end-to-end key messages, a type it knows", () => {
  assert.deepEqual(
    parseServerMessage({ t: "e2e_keys", re: 1, one_time: 100 }),
    { t: "e2e_keys", re: 1, one_time: 100 },
  );
  const fingerprint = "SHA256:" + "a".repeat(43);
  assert.deepEqual(
    parseServerMessage({ t: "e2e_bundle", re: 2, name: "Bob", fingerprint }),
    { t: "e2e_bundle", re: 2, name: "Bob", fingerprint },
  );
  assert.throws(
    () => parseServerMessage({ t: "e2e_bundle", re: 2, name: "Bob" }),
    TypeError,
  );
  assert.ok(isKnownServerType({ t: "e2e_bundle" }));
});

Deno.test("parseServerMessage keeps more:true on ok and drops any other more", () => {
  const text = "End of history for the public room (2 messages).";
  assert.deepEqual(
    parseServerMessage({ t: "ok", re: 3, text, more: true }),
    { t: "ok", re: 3, text, more: true },
  );
  for (const more of [false, 1, "true", null]) {
    assert.deepEqual(parseServerMessage({ t: "ok", re: 3, text, more }), {
      t: "ok",
      re: 3,
      text,
    });
  }
});

Deno.test("parseServerMessage reads groups' joined, true when present", () => {
  // The vector of docs/PROTOCOL.md, `groups` reply.
  assert.deepEqual(
    parseServerMessage(JSON.parse(
      '{"t":"groups","re":7,"groups":[{"name":"team","members":2,"joined":true},{"name":"lab","members":1}]}',
    )),
    {
      t: "groups",
      re: 7,
      groups: [
        { name: "team", members: 2, joined: true },
        { name: "lab", members: 1 },
      ],
    },
  );
  for (const joined of [false, 1, "true", null]) {
    assert.throws(
      () =>
        parseServerMessage({
          t: "groups",
          re: 7,
          groups: [{ name: "team", members: 2, joined }],
        }),
      TypeError,
      String(joined),
    );
  }
});

Deno.test("parseServerMessage reads req on a chat message from the past, and refuses it on a live one or as a non-integer", () => {
  const base = { from: "alice", ts: 5, id: 2, seq: 2 };
  for (const t of ["public", "private"] as const) {
    assert.deepEqual(
      parseServerMessage({ t, ...base, req: 7, history: true }),
      { t, ...base, history: true, req: 7 },
    );
    assert.throws(
      () => parseServerMessage({ t, ...base, req: 7 }),
      /Field 'req' must come with 'history'/,
    );
  }
  assert.deepEqual(
    parseServerMessage({
      t: "group",
      group: "team",
      ...base,
      req: 3,
      history: true,
    }),
    { t: "group", group: "team", ...base, history: true, req: 3 },
  );
  const sealed = { ...base, fingerprint: "SHA256:" + "a".repeat(43) };
  assert.deepEqual(
    parseServerMessage({ t: "e2e_private", ...sealed, req: 4, history: true }),
    { t: "e2e_private", ...sealed, history: true, req: 4 },
  );
  for (const req of [-1, 1.5, "7", null]) {
    assert.throws(
      () => parseServerMessage({ t: "public", ...base, req, history: true }),
      TypeError,
    );
  }
});

Deno.test("parseServerMessage keeps no re on a chat message: re marks a reply, and a chat message is never one", () => {
  // A server that put `re` on a history answer's messages (briefly, before
  // it became `req`) must not get them taken for the request's reply.
  const base = { from: "alice", ts: 5, id: 2, seq: 2 };
  for (const history of [{}, { history: true }] as const) {
    const message = parseServerMessage({
      t: "public",
      ...base,
      re: 7,
      ...history,
    });
    assert.equal("re" in message, false);
    assert.equal("req" in message, false);
  }
});

Deno.test("parseServerMessage keeps welcome's own_after and refuses one that is not a non-negative integer", () => {
  // docs/PROTOCOL.md 5.3's test vector.
  const vector =
    '{"t":"welcome","re":2,"name":"alice","text":"SUCCESS: Username registered.","acks":true,"cids":true,"reqs":true,"store":"5f0c2a9de41b7c3680a1f4e2d9b6c713","own_after":41,"last_id":41}';
  assert.deepEqual(parseServerMessage(JSON.parse(vector)), {
    t: "welcome",
    re: 2,
    name: "alice",
    text: "SUCCESS: Username registered.",
    acks: true,
    cids: true,
    reqs: true,
    store: "5f0c2a9de41b7c3680a1f4e2d9b6c713",
    own_after: 41,
    last_id: 41,
  });
  const welcome = JSON.parse(vector);
  for (const own_after of [-1, 1.5, "41", null, true]) {
    assert.throws(
      () => parseServerMessage({ ...welcome, own_after }),
      /Field 'own_after' must be a non-negative integer/,
    );
  }
});

Deno.test("parseServerMessage keeps welcome's last_id, and a welcome without it has none, and refuses one that is not a non-negative integer", () => {
  // docs/PROTOCOL.md 5.3's test vector.
  const vector =
    '{"t":"welcome","re":2,"name":"alice","text":"SUCCESS: Username registered.","acks":true,"cids":true,"reqs":true,"store":"5f0c2a9de41b7c3680a1f4e2d9b6c713","last_id":3}';
  const welcome = JSON.parse(vector);
  assert.deepEqual(parseServerMessage(welcome), {
    t: "welcome",
    re: 2,
    name: "alice",
    text: "SUCCESS: Username registered.",
    acks: true,
    cids: true,
    reqs: true,
    store: "5f0c2a9de41b7c3680a1f4e2d9b6c713",
    last_id: 3,
  });
  const { last_id: _, ...older } = welcome;
  assert.equal("last_id" in parseServerMessage(older), false);
  assert.equal(parseServerMessage({ ...welcome, last_id: 0 }).t, "welcome");
  for (const last_id of [-1, 1.5, "3", null, true]) {
    assert.throws(
      () => parseServerMessage({ ...welcome, last_id }),
      /Field 'last_id' must be a non-negative integer/,
    );
  }
});

Deno.test("parseServerMessage keeps welcome's reqs:true and refuses any other reqs", () => {
  const welcome = {
    t: "welcome",
    re: 2,
    name: "alice",
    text: "SUCCESS: Username registered.",
  } as const;
  assert.deepEqual(parseServerMessage({ ...welcome, reqs: true }), {
    ...welcome,
    reqs: true,
  });
  assert.deepEqual(parseServerMessage(welcome), welcome);
  for (const reqs of [false, 1, "true", null]) {
    assert.throws(
      () => parseServerMessage({ ...welcome, reqs }),
      /Field 'reqs' must be true when present/,
    );
  }
});

Deno.test("parseServerMessage takes alive, the server's sign of life, and PROTOCOL 5.7's bytes are encodeMessage's", () => {
  assert.equal(isKnownServerType({ t: "alive" }), true);
  assert.deepEqual(parseServerMessage({ t: "alive" }), { t: "alive" });
  assert.deepEqual(
    encodeMessage({ t: "alive" }),
    new Uint8Array([
      ...[0, 0, 0, 0x0d, 0, 0, 0, 0],
      ...new TextEncoder().encode('{"t":"alive"}'),
    ]),
  );
});
