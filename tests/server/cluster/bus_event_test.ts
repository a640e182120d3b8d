import assert from "node:assert/strict";
import {
  type BusEvent,
  decodeBusEvent,
  encodeBusEvent,
  fileAnswer,
  fileCrossings,
  signedIn,
} from "../../../src/server/cluster/bus_event.ts";

Deno.test("decodeBusEvent refuses bad fields with a TypeError", () => {
  const good: BusEvent = {
    kind: "signed_in",
    node: "n1",
    from: "alice",
    ts: 5,
  };
  const bad: [string, Uint8Array][] = [
    ["short", new Uint8Array(2)],
    ["bad sender", encodeBusEvent({ ...good, from: "no spaces" })],
    ["bad node", encodeBusEvent({ ...good, node: "a.b" })],
    ["bad time", encodeBusEvent({ ...good, ts: -1 })],
  ];
  for (const [why, bytes] of bad) {
    assert.throws(() => decodeBusEvent(bytes), TypeError, why);
  }
  const header = new TextEncoder().encode('{"v":2}');
  const future = new Uint8Array(4 + header.length + 1);
  new DataView(future.buffer).setUint32(0, header.length);
  future.set(header, 4);
  assert.throws(() => decodeBusEvent(future), /version 2/);
});

Deno.test("decodeBusEvent refuses the chat message kinds the bus carried before the shared log", () => {
  for (
    const kind of ["public", "private", "group", "e2e_private", "e2e_group"]
  ) {
    const header = new TextEncoder().encode(
      JSON.stringify({ v: 1, k: kind, node: "n1", from: "alice", ts: 5 }),
    );
    const bytes = new Uint8Array(4 + header.length + 2);
    new DataView(bytes.buffer).setUint32(0, header.length);
    bytes.set(header, 4);
    bytes.set([0x68, 0x69], 4 + header.length);
    assert.throws(
      () => decodeBusEvent(bytes),
      new TypeError(`Unknown bus event kind "${kind}"`),
    );
  }
});

Deno.test("encodeBusEvent matches the test vector in docs/SCALING.md", () => {
  const bytes = encodeBusEvent(signedIn("alice", "n1", 1700000000000).event);
  assert.equal(
    bytes.toHex(),
    "00000045" +
      new TextEncoder().encode(
        '{"v":1,"k":"signed_in","node":"n1","from":"alice","ts":1700000000000}',
      ).toHex(),
  );
  const docs = Deno.readTextFileSync(
    new URL("../../../docs/SCALING.md", import.meta.url),
  );
  assert.ok(docs.includes(bytes.toHex()), "the vector is in the docs");
});

Deno.test("signedIn goes to the user's subject, without a body, and decodes back", () => {
  const { subject, event } = signedIn("Alice", "n1", 42);
  assert.equal(subject, "chat.user.616c696365");
  const bytes = encodeBusEvent(event);
  assert.deepEqual(decodeBusEvent(bytes), {
    kind: "signed_in",
    node: "n1",
    from: "Alice",
    ts: 42,
  });
  const withBody = new Uint8Array([...bytes, 1]);
  assert.throws(() => decodeBusEvent(withBody), /has a body/);
});

Deno.test("fileCrossings sends a transfer's messages to stand-ins to their users' subjects, with the chunk as it came, and decodes back", () => {
  const chunkBody = new Uint8Array(40).fill(7);
  const remoteOf = (id: number) =>
    id === -1 ? { name: "Bob", nameKey: "bob" } : undefined;
  const crossings = fileCrossings(
    {
      to: [3, -1, -2],
      message: { t: "file_chunk", xfer: 5, offset: 0 },
      body: chunkBody,
    },
    "n1",
    remoteOf,
    99,
  );
  assert.equal(crossings.length, 1);
  assert.equal(crossings[0]!.subject, "chat.user.626f62");
  const event = crossings[0]!.event;
  assert.deepEqual(event, {
    kind: "file",
    node: "n1",
    from: "Bob",
    ts: 99,
    message: { t: "file_chunk", xfer: 5, offset: 0 },
    body: chunkBody,
    after: 0,
  });
  assert.deepEqual(decodeBusEvent(encodeBusEvent(event)), event);
  // Chat messages and replies are not file crossings.
  assert.deepEqual(
    fileCrossings(
      { to: [-1], message: { t: "pong", re: 1 } },
      "n1",
      remoteOf,
      99,
    ),
    [],
  );
});

Deno.test("fileAnswer goes to the transfer's subject on the sender's node, and decodes back; a bad one is refused", () => {
  const told = fileAnswer(
    "n1",
    5,
    "n2",
    "Bob",
    { t: "file_ack", xfer: 5, received: 100 },
    99,
  );
  assert.equal(told.subject, "chat.xfer.n1.5");
  assert.deepEqual(decodeBusEvent(encodeBusEvent(told.event)), told.event);
  const gone = fileAnswer("n1", 5, "n2", "Bob", null, 99);
  assert.deepEqual(decodeBusEvent(encodeBusEvent(gone.event)), gone.event);
  const other = fileAnswer(
    "n1",
    5,
    "n2",
    "Bob",
    { t: "file_ack", xfer: 6, received: 100 },
    99,
  );
  assert.throws(() => decodeBusEvent(encodeBusEvent(other.event)), TypeError);
  const notAnswer = {
    ...told.event,
    answer: { t: "say", id: 1 },
  } as unknown as BusEvent;
  assert.throws(
    () => decodeBusEvent(encodeBusEvent(notAnswer)),
    TypeError,
  );
  // A chunk without its bytes is refused.
  const [empty] = fileCrossings(
    { to: [-1], message: { t: "file_chunk", xfer: 5, offset: 0 } },
    "n1",
    () => ({ name: "Bob", nameKey: "bob" }),
    99,
  );
  assert.throws(() => decodeBusEvent(encodeBusEvent(empty!.event)), TypeError);
});

Deno.test("fileAnswer carries the log position its node had applied, absent when 0, and a bad one is refused", () => {
  const told = fileAnswer(
    "n1",
    5,
    "n2",
    "bob",
    { t: "file_accept", xfer: 5 },
    1700000000000,
    42,
  );
  const bytes = encodeBusEvent(told.event);
  // docs/SCALING.md, "Bus events": the test vector.
  assert.equal(
    Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(""),
    "0000007a7b2276223a312c226b223a2266696c655f616e73776572222c226e6f6465223a226e32222c2266726f6d223a22626f62222c227473223a313730303030303030303030302c2278666572223a352c226d223a7b2274223a2266696c655f616363657074222c2278666572223a357d2c226166746572223a34327d",
  );
  assert.deepEqual(decodeBusEvent(bytes), told.event);
  const header = (after: unknown) => {
    const json = new TextEncoder().encode(JSON.stringify({
      v: 1,
      k: "file_answer",
      node: "n2",
      from: "bob",
      ts: 1,
      xfer: 5,
      m: null,
      after,
    }));
    const framed = new Uint8Array(4 + json.byteLength);
    new DataView(framed.buffer).setUint32(0, json.byteLength);
    framed.set(json, 4);
    return framed;
  };
  assert.equal(
    (decodeBusEvent(header(undefined)) as { after: number }).after,
    0,
  );
  for (const bad of [-1, 1.5, "7", Number.MAX_SAFE_INTEGER + 1]) {
    assert.throws(
      () => decodeBusEvent(header(bad)),
      /Bus event has a bad log position/,
    );
  }
});

Deno.test("fileCrossings gives an offer and a cancel the log position its node had applied, never a chunk or an end; decodeBusEvent refuses a bad one", () => {
  const remoteOf = () => ({ name: "bob", nameKey: "bob" });
  const [offer] = fileCrossings(
    {
      to: [-1],
      message: {
        t: "file_offer",
        xfer: 5,
        from: "alice",
        name: "report.pdf",
        size: 4,
        timeout: 60000,
        key_id: "0123456789abcdef0123456789abcdef",
      },
    },
    "n1",
    remoteOf,
    1700000000000,
    42,
  );
  const bytes = encodeBusEvent(offer!.event);
  // docs/SCALING.md, "Bus events": the test vector.
  assert.equal(
    bytes.toHex(),
    "000000d1" +
      new TextEncoder().encode(
        '{"v":1,"k":"file","node":"n1","from":"bob","ts":1700000000000,"m":{"t":"file_offer","xfer":5,"from":"alice","name":"report.pdf","size":4,"timeout":60000,"key_id":"0123456789abcdef0123456789abcdef"},"after":42}',
      ).toHex(),
  );
  const docs = Deno.readTextFileSync(
    new URL("../../../docs/SCALING.md", import.meta.url),
  );
  assert.ok(docs.includes(bytes.toHex()), "the vector is in the docs");
  assert.deepEqual(decodeBusEvent(bytes), offer!.event);
  const afterOf = (message: Parameters<typeof fileCrossings>[0]["message"]) =>
    (fileCrossings(
      {
        to: [-1],
        message,
        ...(message.t === "file_chunk" ? { body: new Uint8Array(20) } : {}),
      },
      "n1",
      remoteOf,
      1,
      42,
    )[0]!.event as { after: number }).after;
  assert.equal(
    afterOf({ t: "file_cancel", xfer: 5, reason: "oops" }),
    42,
  );
  assert.equal(afterOf({ t: "file_chunk", xfer: 5, offset: 0 }), 0);
  assert.equal(afterOf({ t: "file_end", xfer: 5, sha256: "00".repeat(32) }), 0);
  // What a node from before the field sent: 0, passed on at once.
  const json = bytes.subarray(4);
  const old = new TextEncoder().encode(
    new TextDecoder().decode(json).replace(',"after":42', ""),
  );
  const framed = (header: Uint8Array) => {
    const out = new Uint8Array(4 + header.byteLength);
    new DataView(out.buffer).setUint32(0, header.byteLength);
    out.set(header, 4);
    return out;
  };
  assert.equal(
    (decodeBusEvent(framed(old)) as { after: number }).after,
    0,
  );
  for (const bad of ["-1", "1.5", '"7"', "9007199254740992"]) {
    const header = new TextEncoder().encode(
      new TextDecoder().decode(json).replace('"after":42', `"after":${bad}`),
    );
    assert.throws(
      () => decodeBusEvent(framed(header)),
      /Bus event has a bad log position/,
    );
  }
});
