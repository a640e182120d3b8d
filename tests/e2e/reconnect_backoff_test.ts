/**
 * `runSession` through a tampering proxy in front of a real server that
 * breaks the protocol right after every welcome: the waits before each
 * reconnection grow instead of starting again at the first.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runSession } from "../../src/client/session.ts";
import { TrustedSenders } from "../../src/client/trusted_senders.ts";
import type { Terminal } from "../../src/client/terminal.ts";
import { startTestServer, testIdentity } from "../_helpers/chat.ts";
import { announcedFrame, TamperingProxy } from "../_helpers/tampering_proxy.ts";

/** Waits for `condition` with a deadline (polling, since it is another party's state). */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A person at a terminal who types lines and presses keys when told to. */
function person(): Terminal & {
  printed: string[];
  statuses: string[];
  type(line: string): void;
  press(): void;
} {
  const printed: string[] = [];
  const statuses: string[] = [];
  const typed: string[] = [];
  const keys = new Set<() => void>();
  let wake = () => {};
  return {
    printed,
    statuses,
    type(line) {
      typed.push(line);
      wake();
    },
    press() {
      for (const key of keys) key();
    },
    interactive: true,
    color: false,
    print: (line) => printed.push(line),
    printError: (line) => printed.push(line),
    question: () => Promise.resolve(null),
    setPrompt: () => {},
    setStatus: (line) => {
      if (line !== null) statuses.push(line);
    },
    nextLine: async () => {
      while (typed.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      return typed.shift()!;
    },
    setCompleter: () => {},
    onKeypress: (listener) => {
      keys.add(listener);
      return () => keys.delete(listener);
    },
    setHistory: () => {},
    onTypedLine: () => {},
    close: () => {},
  };
}

Deno.test("runSession waits longer before each reconnection when every connection breaks the protocol right after its welcome", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_backoff_test_" });
  await using server = await startTestServer();
  await using proxy = new TamperingProxy(server.port);
  try {
    const terminal = person();
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
      await until(() => waiting() !== undefined, `wait ${broken}`);
      firstWaits.push(waiting()!);
      // A key retries at once: the test need not sit through the waits.
      terminal.press();
      await until(() => reconnected() === broken, `reconnection ${broken}`);
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
