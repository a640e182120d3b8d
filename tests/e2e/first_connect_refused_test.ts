/**
 * `chat connect` whose first connection is refused for its address's
 * handshake rate (a 503 with `Retry-After`, docs/PROTOCOL.md 1.1: the 31st
 * classmate of a room starting at the same second) waits as the server asks
 * and tries again, saying so once, rather than ending with the refusal. A
 * real server in this process, held to one new connection every 5 s for the
 * address, whose token sophia spends. The same with several addresses
 * (nodes of a cluster), one of them down: the refusal among the failures
 * is waited for too.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestServer, TestClient, testKeys } from "../_helpers/chat.ts";
import { ChatProcess } from "../_helpers/process.ts";

Deno.test("chat connect --json refused at its first connection for its address's handshake rate waits as the server asks and signs in, saying so once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-first-refused-" });
  await using server = await startTestServer({
    connectionLimits: { handshakesPerSecond: 0.2, handshakeBurst: 1 },
  });
  const sophia = await TestClient.connect(server, "sophia");
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const jojo = new ChatProcess(
    [
      "connect",
      `127.0.0.1:${server.port}`,
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
  try {
    await jojo.waitFor(/^\{"type":"welcome".*$/m, 30_000);
    await jojo.write("hello after the wait\n");
    await sophia.waitFor(({ text }) => text === "hello after the wait");
    // Said once to be read; each wait is an event of its own
    // ({"type":"connection","state":"waiting",...}), which says it too.
    const busy = jojo.stdout.split("\n").filter((line) =>
      line.includes("too many new connections from your address") &&
      !line.includes('"state":"waiting"')
    );
    assert.equal(busy.length, 1, jojo.stdout);
    assert.match(busy[0]!, /"type":"notice"/);
    assert.match(busy[0]!, /trying again in 5 s/);
    assert.ok(!jojo.stdout.includes('"type":"error"'), jojo.stdout);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
  }
});

Deno.test("chat connect --json with two addresses, one down and the other refusing for its address's handshake rate, waits as that one asks and signs in there, saying so once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-first-refused-two-" });
  await using server = await startTestServer({
    connectionLimits: { handshakesPerSecond: 0.2, handshakeBurst: 1 },
  });
  const sophia = await TestClient.connect(server, "sophia");
  // A node that is down: a port nothing listens on any more.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const down = closed.addr.port;
  closed.close();
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const jojo = new ChatProcess(
    [
      "connect",
      `127.0.0.1:${down},127.0.0.1:${server.port}`,
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
  try {
    await jojo.waitFor(/^\{"type":"welcome".*$/m, 30_000);
    await jojo.write("hello from the node that was up\n");
    await sophia.waitFor(({ text }) =>
      text === "hello from the node that was up"
    );
    // Said once to be read; each wait is an event of its own
    // ({"type":"connection","state":"waiting",...}), which says it too.
    const busy = jojo.stdout.split("\n").filter((line) =>
      line.includes("too many new connections from your address") &&
      !line.includes('"state":"waiting"')
    );
    assert.equal(busy.length, 1, jojo.stdout);
    assert.match(busy[0]!, /"type":"notice"/);
    assert.match(
      busy[0]!,
      new RegExp(`The server at \\S*127\\.0\\.0\\.1:${server.port} refused`),
    );
    assert.match(busy[0]!, /trying again in 5 s/);
    assert.ok(!jojo.stdout.includes('"type":"error"'), jojo.stdout);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await Deno.remove(dir, { recursive: true });
  }
});
