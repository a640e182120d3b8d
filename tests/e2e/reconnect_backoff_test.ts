/**
 * `runSession` through a tampering proxy in front of a real server that
 * breaks the protocol right after every welcome: the waits before each
 * reconnection grow instead of starting again at the first.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runSession } from "../../src/client/session.ts";
import { TrustedSenders } from "../../src/client/trusted_senders.ts";
import { startTestServer, testIdentity } from "../_helpers/chat.ts";
import { announcedFrame, TamperingProxy } from "../_helpers/tampering_proxy.ts";
import { typist } from "../_helpers/typist.ts";
import { until } from "../_helpers/bystanders.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test("runSession waits longer before each reconnection when every connection breaks the protocol right after its welcome", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_backoff_test_" });
  await using server = await startTestServer();
  await using proxy = new TamperingProxy(server.port);
  try {
    const terminal = typist();
    const session = runSession({
      urls: [`ws://127.0.0.1:${proxy.port}`],
      trust: { kind: "pinned", spki: server.spki, path: "server.pub" },
      identity: await testIdentity(),
      user: "sophia",
      terminal,
      files: {
        downloadsDir: join(dir, "downloads"),
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
      WAIT_MS,
    );
    const reconnected = () =>
      terminal.printed.filter((line) => line === "Reconnected as sophia.")
        .length;
    // The first status of each wait: its attempt and its countdown.
    const firstWaits: string[] = [];
    for (let broken = 1; broken <= 4; broken++) {
      const seen = terminal.statuses.length;
      await proxy.inject(announcedFrame(2 ** 31));
      const waiting = () =>
        terminal.statuses.slice(seen).find((line) =>
          line.startsWith("Reconnecting in ")
        );
      await until(() => waiting() !== undefined, `wait ${broken}`, WAIT_MS);
      firstWaits.push(waiting()!);
      // A key retries at once: the test need not sit through the waits.
      terminal.press();
      await until(
        () => reconnected() === broken,
        `reconnection ${broken}`,
        10_000,
      );
    }
    const attempts = firstWaits.map((line) =>
      Number(line.match(/\(attempt (\d+);/)?.[1])
    );
    assert.deepEqual(attempts, [1, 2, 3, 4], firstWaits.join("\n"));
    // Attempt 4 waits 4-8 s (reconnectDelay), not the 0.5-1 s of attempt 1.
    const seconds = Number(
      firstWaits[3]!.match(/^Reconnecting in (\d+) s/)?.[1],
    );
    assert.ok(seconds >= 4, firstWaits.join("\n"));
    terminal.type("/quit");
    assert.equal(await session, 0, terminal.printed.join("\n"));
    // Each break is said once, in full, in the scrollback.
    assert.equal(
      terminal.printed.filter((line) =>
        line.startsWith("The connection to the server was closed: ")
      ).length,
      4,
      terminal.printed.join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
