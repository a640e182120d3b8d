import assert from "node:assert/strict";
import { parseClientMessage } from "../../src/protocol/parse_client_message.ts";

Deno.test("parseClientMessage accepts every client message type", () => {
  assert.deepEqual(
    parseClientMessage({ t: "register", id: 1, name: "nana", key: "k" }),
    { t: "register", id: 1, name: "nana", key: "k" },
  );
  assert.deepEqual(
    parseClientMessage({
      t: "register",
      id: 1,
      name: "nana",
      key: "k",
      compact: true,
    }),
    { t: "register", id: 1, name: "nana", key: "k", compact: true },
  );
  assert.deepEqual(parseClientMessage({ t: "prove", id: 2, signature: "s" }), {
    t: "prove",
    id: 2,
    signature: "s",
  });
  assert.deepEqual(parseClientMessage({ t: "ping", id: 3 }), {
    t: "ping",
    id: 3,
  });
  assert.deepEqual(parseClientMessage({ t: "msg", id: 2, to: "jojo" }), {
    t: "msg",
    id: 2,
    to: "jojo",
  });
  assert.deepEqual(parseClientMessage({ t: "members", id: 3 }), {
    t: "members",
    id: 3,
  });
  assert.deepEqual(parseClientMessage({ t: "members", id: 3, group: "g" }), {
    t: "members",
    id: 3,
    group: "g",
  });
  assert.deepEqual(parseClientMessage({ t: "bye" }), { t: "bye" });
  // Unknown extra fields are dropped, not passed along.
  assert.deepEqual(parseClientMessage({ t: "say", id: 4, evil: true }), {
    t: "say",
    id: 4,
  });
});

Deno.test("parseClientMessage rejects unknown types and missing or wrong-typed fields", () => {
  for (
    const bad of [
      null,
      [],
      "say",
      {},
      { t: "nope", id: 1 },
      { t: "say" },
      { t: "say", id: -1 },
      { t: "say", id: 1.5 },
      { t: "say", id: 2 ** 53 },
      { t: "say", id: "1" },
      { t: "msg", id: 1 },
      { t: "msg", id: 1, to: 5 },
      { t: "register", id: 1, name: "x".repeat(300) },
      { t: "register", id: 1, name: "a", key: "k", compact: 1 },
      { t: "members", id: 1, group: null },
    ]
  ) {
    assert.throws(
      () => parseClientMessage(bad),
      TypeError,
      JSON.stringify(bad),
    );
  }
});

Deno.test("parseClientMessage reads an ack's cursors and refuses malformed ones", () => {
  assert.deepEqual(
    parseClientMessage({
      t: "ack",
      cursors: [{ to: "bob", seq: 4 }, { group: "team", seq: 77 }],
    }),
    { t: "ack", cursors: [{ to: "bob", seq: 4 }, { group: "team", seq: 77 }] },
  );
  for (
    const cursors of [
      "no",
      [{ to: "bob", group: "team", seq: 1 }],
      [{ seq: 1 }],
      [{ to: "bob", seq: -1 }],
      Array.from({ length: 257 }, () => ({ to: "bob", seq: 1 })),
    ]
  ) {
    assert.throws(() => parseClientMessage({ t: "ack", cursors }), TypeError);
  }
});

Deno.test("parseClientMessage reads away with or without a reason, capped", () => {
  assert.deepEqual(parseClientMessage({ t: "away", id: 1 }), {
    t: "away",
    id: 1,
  });
  assert.deepEqual(parseClientMessage({ t: "away", id: 2, reason: "lunch" }), {
    t: "away",
    id: 2,
    reason: "lunch",
  });
  assert.throws(
    () => parseClientMessage({ t: "away", id: 3, reason: "x".repeat(201) }),
    TypeError,
  );
  assert.throws(() => parseClientMessage({ t: "away", id: 3, reason: 5 }));
});

Deno.test("parseClientMessage reads the end-to-end key messages", () => {
  assert.deepEqual(parseClientMessage({ t: "e2e_keys", id: 1 }), {
    t: "e2e_keys",
    id: 1,
  });
  assert.deepEqual(
    parseClientMessage({ t: "e2e_bundle", id: 2, name: "bob", x: 1 }),
    { t: "e2e_bundle", id: 2, name: "bob" },
  );
  assert.throws(
    () => parseClientMessage({ t: "e2e_bundle", id: 2 }),
    TypeError,
  );
});

Deno.test("parseClientMessage reads history's before cursor and refuses one that is not a message id", () => {
  assert.deepEqual(
    parseClientMessage({
      t: "history",
      id: 5,
      target: "team",
      limit: 2,
      before: 1190,
    }),
    { t: "history", id: 5, target: "team", limit: 2, before: 1190 },
  );
  for (
    const before of [-1, 1.5, 2 ** 53, "1190", null, true, [1190], {}, 1e400]
  ) {
    assert.throws(
      () => parseClientMessage({ t: "history", id: 5, before }),
      TypeError,
      JSON.stringify(before),
    );
  }
});

Deno.test("parseClientMessage reads history's after cursor and refuses one that is not a message id", () => {
  assert.deepEqual(
    parseClientMessage({ t: "history", id: 5, limit: 100, after: 1190 }),
    { t: "history", id: 5, limit: 100, after: 1190 },
  );
  for (
    const after of [-1, 1.5, 2 ** 53, "1190", null, true, [1190], {}, 1e400]
  ) {
    assert.throws(
      () => parseClientMessage({ t: "history", id: 5, after }),
      TypeError,
      JSON.stringify(after),
    );
  }
});
