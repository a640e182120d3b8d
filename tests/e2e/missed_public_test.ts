/**
 * Public messages said while `chat connect` was cut off are shown once it
 * is back: once each, in order, under one line, and not from someone it
 * ignores (src/client/missed_public.ts). The server keeps no queue of the
 * room for anyone (docs/PROTOCOL.md 5.9), so before, they were never shown.
 * A proxy between jojo and the server cuts jojo off and refuses it while
 * sophia talks, so jojo cannot be back in time to see them live.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  sayInRoom,
  startTestServer,
  TestClient,
  testKeys,
} from "../_helpers/chat.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ChatProcess } from "../_helpers/process.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/** jojo as `chat connect --json` through `proxy`. */
async function jojoThrough(
  proxy: { port: number },
  dir: string,
): Promise<ChatProcess> {
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  return new ChatProcess(
    [
      "connect",
      `127.0.0.1:${proxy.port}`,
      "--pub",
      pub,
      "--user",
      "jojo",
      "--downloads",
      join(dir, "downloads"),
      "--json",
    ],
    { env: { XDG_CONFIG_HOME: join(dir, "config") } },
  );
}

/**
 * The server's limits for a test whose catch-up is refused (slow_down): an
 * address's one history request, then one every `seconds`; a
 * connection's first is counted too (a server before it was not).
 */
function historyEvery(seconds: number) {
  return {
    connectionLimits: {
      historyPerSecondPerAddress: 1 / seconds,
      historyBurstPerAddress: 1,
      historyFreePerConnection: 0,
    },
  };
}

/** Spends the address's one history request (the tests' limits). */
async function takeHistoryToken(client: TestClient): Promise<void> {
  const reply = await client.client.request({ t: "history", limit: 1 });
  assert.equal(reply.t, "ok", JSON.stringify(reply));
}

type Event = Record<string, unknown>;

function eventsOf(jojo: ChatProcess): Event[] {
  return jojo.stdout.split("\n").filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Event);
}

/**
 * What jojo showed after it was back: its messages (marked when history)
 * and what it said of the catch-up.
 */
function afterReconnection(jojo: ChatProcess): string[] {
  const events = eventsOf(jojo);
  const back = events.findIndex((event) =>
    event.type === "connection" && event.state === "reconnected"
  );
  return events.slice(back + 1).filter((event) =>
    event.type === "message" ||
    (event.type === "notice" &&
      /While you were away|Still fetching/.test(String(event.text)))
  ).map((event) =>
    event.type === "message"
      ? `${event.from}: ${event.text}${event.history ? " (history)" : ""}`
      : String(event.text)
  );
}

Deno.test("chat connect --json shows the public messages said while it was cut off, once each, in order, under one notice, none from someone ignored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-missed-public-" });
  await using server = await startTestServer();
  const proxy = new GateProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  const nana = await TestClient.connect(server, "nana");
  const jojo = await jojoThrough(proxy, dir);
  try {
    await jojo.waitFor(/^\{"type":"welcome".*$/m);
    await jojo.write("/ignore nana\n");
    await jojo.waitFor(/Ignoring nana/);
    await sayInRoom(sophia, "before the cut");
    await jojo.waitFor(/"text":"before the cut"/);

    proxy.cut();
    await jojo.waitFor(/"type":"connection","state":"lost"/);
    for (const text of ["missed one", "missed two", "missed three"]) {
      await sayInRoom(sophia, text);
    }
    await sayInRoom(nana, "ignored while away");
    proxy.down = false;
    await jojo.waitFor(/"type":"connection","state":"reconnected"/, 30_000);
    await jojo.waitFor(/"text":"missed three"/);
    await sayInRoom(sophia, "live after");
    await jojo.waitFor(/"text":"live after"/);

    const events = eventsOf(jojo);
    const back = events.findIndex((event) =>
      event.type === "connection" && event.state === "reconnected"
    );
    const after = events.slice(back + 1).filter((event) =>
      event.type === "message" ||
      (event.type === "notice" &&
        String(event.text).startsWith("While you were away"))
    ).map((event) =>
      event.type === "message"
        ? `${event.from}: ${event.text}${event.history ? " (history)" : ""}`
        : String(event.text)
    );
    assert.deepEqual(after, [
      "While you were away:",
      "sophia: missed one (history)",
      "sophia: missed two (history)",
      "sophia: missed three (history)",
      "sophia: live after",
    ]);
    // Nothing of nana's, ever; what was shown before the cut, once.
    assert.ok(!jojo.stdout.includes("ignored while away"), jojo.stdout);
    assert.equal(jojo.stdout.split('"text":"before the cut"').length, 2);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await nana.quit();
    await proxy.close();
  }
});

Deno.test("chat connect --json does not show its own public line again among what was said while it was cut off", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-missed-own-" });
  await using server = await startTestServer();
  const proxy = new GateProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await jojoThrough(proxy, dir);
  try {
    await jojo.waitFor(/^\{"type":"welcome".*$/m);
    await sayInRoom(sophia, "before the cut");
    await jojo.waitFor(/"text":"before the cut"/);
    // jojo's own line, the newest in the room when the connection goes.
    await jojo.write("my own line\n");
    await jojo.waitFor(/"type":"sent".*"text":"my own line"/);

    proxy.cut();
    await jojo.waitFor(/"type":"connection","state":"lost"/);
    await sayInRoom(sophia, "missed one");
    proxy.down = false;
    await jojo.waitFor(/"type":"connection","state":"reconnected"/, 30_000);
    await jojo.waitFor(/"text":"missed one"/);
    await sayInRoom(sophia, "live after");
    await jojo.waitFor(/"text":"live after"/);

    const events = eventsOf(jojo);
    const back = events.findIndex((event) =>
      event.type === "connection" && event.state === "reconnected"
    );
    const after = events.slice(back + 1).filter((event) =>
      event.type === "message" ||
      (event.type === "notice" &&
        String(event.text).startsWith("While you were away"))
    ).map((event) =>
      event.type === "message"
        ? `${event.from}: ${event.text}${event.history ? " (history)" : ""}`
        : String(event.text)
    );
    assert.deepEqual(after, [
      "While you were away:",
      "sophia: missed one (history)",
      "sophia: live after",
    ]);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await proxy.close();
  }
});

Deno.test("chat connect --json that saw no public message before it was cut off still shows what was said meanwhile, not what was said before it came", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-missed-none-" });
  await using server = await startTestServer();
  const proxy = new GateProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  await sayInRoom(sophia, "before jojo came");
  const jojo = await jojoThrough(proxy, dir);
  try {
    await jojo.waitFor(/^\{"type":"welcome".*$/m);
    // Answered after the request that places jojo at the room's newest
    // message, sent at its sign-in (the server answers in order).
    await jojo.write("/list\n");
    await jojo.waitFor(/"type":"users"/);

    proxy.cut();
    await jojo.waitFor(/"type":"connection","state":"lost"/);
    await sayInRoom(sophia, "missed one");
    proxy.down = false;
    await jojo.waitFor(/"type":"connection","state":"reconnected"/, 30_000);
    await jojo.waitFor(/"text":"missed one"/);
    await sayInRoom(sophia, "live after");
    await jojo.waitFor(/"text":"live after"/);

    assert.deepEqual(afterReconnection(jojo), [
      "While you were away:",
      "sophia: missed one (history)",
      "sophia: live after",
    ]);
    assert.ok(!jojo.stdout.includes("before jojo came"), jojo.stdout);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await proxy.close();
  }
});

Deno.test("chat connect --json shows live public lines while the server keeps refusing its catch-up (slow_down), and the missed ones after them, said late, none twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-missed-late-" });
  // One history request per address, then one every 20 s: sophia takes it
  // while jojo is away, so the catch-up at its reconnection is refused and
  // asked again until a token comes (with_patience.ts: within 27.5 s), well
  // past HOLD_MS.
  await using server = await startTestServer(historyEvery(20));
  const proxy = new GateProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await jojoThrough(proxy, dir);
  try {
    await jojo.waitFor(/^\{"type":"welcome".*$/m);
    await sayInRoom(sophia, "before the cut");
    await jojo.waitFor(/"text":"before the cut"/);

    proxy.cut();
    await jojo.waitFor(/"type":"connection","state":"lost"/);
    await sayInRoom(sophia, "missed one");
    await takeHistoryToken(sophia);
    proxy.down = false;
    await jojo.waitFor(/"type":"connection","state":"reconnected"/, 30_000);
    // Said while the catch-up waits: held at first, then let go.
    await sayInRoom(sophia, "live during");
    await jojo.waitFor(/"text":"live during"/);
    await jojo.waitFor(/"text":"missed one"/, 40_000);
    await sayInRoom(sophia, "live after");
    await jojo.waitFor(/"text":"live after"/);

    assert.deepEqual(afterReconnection(jojo), [
      "(Still fetching what was said while you were away: newer lines are shown meanwhile)",
      "sophia: live during",
      "While you were away (fetched late: said before the newer lines above):",
      "sophia: missed one (history)",
      "sophia: live after",
    ]);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await proxy.close();
  }
});

Deno.test("chat connect --json whose own line, cut off from its answer, is confirmed again during a slow catch-up still shows what others said after that line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-missed-retried-" });
  // As above: the catch-up at jojo's reconnection is refused with
  // slow_down past HOLD_MS, so live lines are shown before its answer.
  await using server = await startTestServer(historyEvery(20));
  const proxy = new HoldingProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await jojoThrough(proxy, dir);
  try {
    await jojo.waitFor(/^\{"type":"welcome".*$/m);
    await sayInRoom(sophia, "before the cut");
    await jojo.waitFor(/"text":"before the cut"/);
    await takeHistoryToken(sophia);

    // From here nothing reaches jojo: its line is stored (sophia gets it),
    // its answer is not, nor what sophia says after it.
    proxy.holdAt(proxy.downBytes);
    await jojo.write("my own line\n");
    await sophia.waitFor(({ message }) =>
      message.t === "public" && message.from === "jojo"
    );
    await sayInRoom(sophia, "missed one");
    await sayInRoom(sophia, "missed two");
    await proxy.holding();
    proxy.cutAll();

    // Back, jojo sends its line again with its cid: the server answers
    // with the id stored the first time, older than sophia's two.
    await jojo.waitFor(/"type":"connection","state":"reconnected"/, 30_000);
    await jojo.waitFor(/"type":"sent".*"text":"my own line"/);
    await jojo.waitFor(/Still fetching/);
    await sayInRoom(sophia, "live during");
    await jojo.waitFor(/"text":"live during"/);
    await jojo.waitFor(/"text":"missed two"/, 40_000);

    assert.deepEqual(afterReconnection(jojo), [
      "(Still fetching what was said while you were away: newer lines are shown meanwhile)",
      "sophia: live during",
      "While you were away (fetched late: said before the newer lines above):",
      "sophia: missed one (history)",
      "sophia: missed two (history)",
    ]);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await proxy.close();
  }
});

Deno.test("chat connect --json cut off right after its sign-in, while the server refuses history (slow_down), still shows what was said meanwhile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-missed-at-sign-in-" });
  // One history request per address, then one every 4 s, a connection's
  // first counted too: sophia takes it, so nothing jojo asks for history
  // at its sign-in is answered before the cut (a class of forty signing in
  // at once from one address, whose Wi-Fi drops within seconds).
  await using server = await startTestServer(historyEvery(4));
  const proxy = new GateProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  await sayInRoom(sophia, "before jojo came");
  await takeHistoryToken(sophia);
  const jojo = await jojoThrough(proxy, dir);
  try {
    await jojo.waitFor(/^\{"type":"welcome".*$/m);
    proxy.cut();
    await jojo.waitFor(/"type":"connection","state":"lost"/);
    await sayInRoom(sophia, "missed one");
    proxy.down = false;
    await jojo.waitFor(/"type":"connection","state":"reconnected"/, 30_000);
    await jojo.waitFor(/"text":"missed one"/, WAIT_MS);
    await sayInRoom(sophia, "live after");
    await jojo.waitFor(/"text":"live after"/);

    assert.deepEqual(afterReconnection(jojo), [
      "While you were away:",
      "sophia: missed one (history)",
      "sophia: live after",
    ]);
    assert.ok(!jojo.stdout.includes("before jojo came"), jojo.stdout);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await proxy.close();
  }
});
