/**
 * A session reconnecting to a server that no longer knows its name (another
 * node, or one restarted with `--data :memory:`), whose address has no new
 * name left (PROTOCOL 5.8): the refusal lasts minutes, so the session says
 * it as the server does, not that the server "lets sign-ins ... a few at a
 * time", and counts its tries as any others. Real sessions (runSession), two
 * real servers with the same key; loopback held to the address limits.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { HELD_BACK } from "../../src/client/reconnect_status.ts";
import { runSession } from "../../src/client/session.ts";
import { TrustedSenders } from "../../src/client/trusted_senders.ts";
import { TOO_MANY_NEW_NAMES } from "../../src/server/serve.ts";
import { startTestServer, testIdentity } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import { typist } from "../_helpers/typist.ts";
import { until } from "../_helpers/bystanders.ts";

Deno.test("runSession: a reconnection refused for its new name's rate says the server's words, not that sign-ins come a few at a time", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_reconnect_new_name_" });
  try {
    const first = await startTestServer();
    // Knows no one, and has one new name for this address, spent below.
    await using second = await startTestServer({
      connectionLimits: {
        newNamesPerMinutePerAddress: 1,
        newNameBurstPerAddress: 1,
        limitNewNamesFromLoopback: true,
      },
    });
    const other = await RawClient.connect(second.url, {
      pinnedSpki: second.spki,
    });
    assert.equal((await other.register("newcomer")).t, "welcome");
    await other.close();
    const terminal = { ...typist(), interactive: false };
    const session = runSession({
      urls: [first.url, second.url],
      trust: { kind: "pinned", spki: first.spki, path: "server.pub" },
      identity: await testIdentity(),
      user: "student",
      terminal,
      files: {
        downloadsDir: join(dir, "student"),
        ownDownloadsDir: false,
        maxFileBytes: 1024,
        accept: "none",
        trusted: TrustedSenders.inMemory(),
        open: false,
        openWith: null,
      },
      reconnect: true,
    });
    await until(
      () => terminal.printed.includes("SUCCESS: Username registered."),
      "the welcome",
    );
    const before = terminal.printed.length;
    await first.shutdown();
    await until(
      () =>
        terminal.printed.slice(before).some((line) =>
          line.includes(TOO_MANY_NEW_NAMES)
        ),
      "the new-name refusal said",
      20_000,
    ).catch((error) => {
      throw new Error(terminal.printed.slice(before).join("\n"), {
        cause: error,
      });
    });
    const since = terminal.printed.slice(before);
    assert.ok(
      !since.some((line) => line.includes(HELD_BACK)),
      since.join("\n"),
    );
    terminal.type("/quit");
    await session;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
