/**
 * The server's core (createCore) over in-memory connections: the real
 * handshake, identity proof, session loop, routing and delivery, with no
 * socket and no edge.
 */

import assert from "node:assert/strict";
import { core, Peer } from "../_helpers/core_peer.ts";

Deno.test("createCore signs peers in over in-memory connections and relays a public message", async () => {
  const { core: server, logs } = await core();
  const sophia = await Peer.connect(server);
  const jojo = await Peer.connect(server, "10.0.0.2");
  assert.equal((await sophia.register("sophia")).t, "welcome");
  assert.equal((await jojo.register("jojo")).t, "welcome");
  assert.deepEqual(
    await sophia.request({ t: "say" }, new TextEncoder().encode("hello")),
    { t: "ok", re: 3, text: "" },
  );
  const heard = await jojo.next((m) => m.t === "public");
  assert.equal(heard.body, "hello");
  const { message } = heard;
  assert.ok(message.t === "public", `a ${message.t} message`);
  assert.equal(message.from, "sophia");
  assert.equal(message.seq, 1);
  assert.ok(logs.some((line) => line.startsWith("sophia registered from")));
  await server.stop();
  await Promise.all([sophia.done, jojo.done]);
});

Deno.test("createCore refuses requests before sign-in and cuts off a peer that never signs in", async () => {
  const { core: server } = await core({
    connectionLimits: { registerTimeoutMs: 100 },
  });
  const peer = await Peer.connect(server);
  assert.deepEqual(await peer.request({ t: "list" }), {
    t: "error",
    re: 1,
    code: "not_registered",
    text: "ERROR: Register a username first",
  });
  const bye = await peer.next((m) => m.t === "bye");
  assert.match(
    (bye.message as { text: string }).text,
    /no username was registered in time/,
  );
  await peer.done;
  await server.stop();
});

Deno.test("createCore.stop says goodbye to every peer and closes their connections", async () => {
  const { core: server } = await core();
  const peers = [await Peer.connect(server), await Peer.connect(server)];
  assert.equal((await peers[0]!.register("nana")).t, "welcome");
  await server.stop();
  assert.equal(server.stopping, true);
  for (const peer of peers) {
    const bye = await peer.next((m) => m.t === "bye");
    assert.deepEqual(bye.message, {
      t: "bye",
      reason: "shutdown",
      text: "Server is shutting down.",
    });
    await peer.done;
  }
});
