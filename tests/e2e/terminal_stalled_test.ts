/**
 * A person's terminal that stops taking output (an ssh connection
 * whose window is full, a suspended tmux) while others talk. Output to
 * the terminal was written synchronously: once the terminal's buffer was
 * full the whole client stopped, its answers to the server's keepalive
 * pings too, and the server dropped it ("it did not answer a ping"); what
 * was said meanwhile never reached it. Now the terminal's output is queued
 * (stdout_queue.ts), past the queue's bound the client holds off the
 * server's messages, and it stays connected; once the terminal takes output
 * again it shows every line, in order, once. A real server, a real
 * `chat connect` on a pseudo-terminal (`script`) whose output the test
 * stops reading.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestServer, TestClient, testKeys } from "../_helpers/chat.ts";
import { ChatProcess, hasPty } from "../_helpers/process.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { hasOwnPty, PtyChat } from "../_helpers/pty.ts";
import {
  FINAL_FLUSH_STALL_MS,
  STDOUT_BACKLOG_LINES,
} from "../../src/client/stdout_queue.ts";
import {
  DISABLE_BRACKETED_PASTE,
  ENABLE_BRACKETED_PASTE,
} from "../../src/client/bracketed_paste.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/**
 * The server pings a connection silent this long, and drops it if it stays
 * so. A client holding off sends nothing else (it acknowledges a line only
 * once written): its answers to pings alone keep it, and at 2 s a machine
 * with every core busy (load 10 on 2 cores) left the client's event loop
 * unturned that long now and then (3 runs of 4 dropped). 30 s by default.
 */
const IDLE_SECONDS = 4;

/** The numbers of alice's lines (`m<n> ...`) as the terminal showed them, in order. */
function numbersIn(screen: string): number[] {
  return [...screen.matchAll(/from alice\]?: m(\d+)\b/g)].map((m) =>
    Number(m[1])
  );
}

/** The one child process of `pid` (the program `script` runs on its terminal). */
async function childOf(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "pid=", "--ppid", String(pid)],
  }).output();
  const children = new TextDecoder().decode(stdout).trim().split(/\s+/)
    .filter((one) => one !== "");
  assert.equal(children.length, 1, `children of ${pid}: ${children}`);
  return Number(children[0]);
}

/** What the client shows once its connection was dropped. */
const LOST = /connection to the server was lost/;

/**
 * A server that pings within seconds, alice (a test client) and bob (a real
 * `chat connect` on a pseudo-terminal), both signed in, bob's terminal
 * showing what alice says.
 */
async function stalledRoom() {
  const dir = await Deno.makeTempDir({ prefix: "chat-term-stalled-" });
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  // The test's own: what bob has acknowledged tells whether he holds off.
  const store = openStore(":memory:");
  const server = await startTestServer({
    store,
    connectionLimits: {
      messagesPerSecond: 100_000,
      messageBurst: 100_000,
      messagesPerSecondPerAddress: 100_000,
      messageBurstPerAddress: 100_000,
      idleTimeoutSeconds: IDLE_SECONDS,
    },
  });
  const startBob = () =>
    new ChatProcess([
      "connect",
      `127.0.0.1:${server.port}`,
      "--pub",
      pub,
      "--user",
      "bob",
      "--no-open",
      "--downloads",
      join(dir, "downloads"),
    ], { env: { XDG_CONFIG_HOME: join(dir, "config") }, tty: true });
  let bob = startBob();
  const alice = await TestClient.connect(server, "alice");
  await bob.waitFor(/SUCCESS: Username registered\./);
  await alice.client.say("hello");
  await bob.waitFor(/\[Broadcast from alice\]: hello/);
  let sent = 0;
  return {
    get bob() {
      return bob;
    },
    /**
     * bob's `chat connect` itself (not the `script` that gives it its
     * terminal) killed outright, and a new one started with his
     * configuration: what bob's terminal showed before stays in `before`.
     */
    async restartBob(): Promise<string> {
      const chat = await childOf(bob.child.pid);
      Deno.kill(chat, "SIGKILL");
      bob.resumeStdout();
      await bob.finish();
      const before = bob.stdout;
      bob = startBob();
      await bob.waitFor(/SUCCESS: Username registered\./);
      return before;
    },
    alice,
    store,
    get sent() {
      return sent;
    },
    /**
     * alice's next `count` lines, `m<n>` and `pad` characters, to the room
     * or to `to`, in batches said all at once.
     */
    async say(count: number, pad: number, to?: string): Promise<void> {
      for (let done = 0; done < count;) {
        const batch = Math.min(1000, count - done);
        const replies = await Promise.all(
          Array.from({ length: batch }, (_, i) => {
            const text = `m${sent + i} ${"x".repeat(pad)}`;
            return to === undefined
              ? alice.client.say(text)
              : alice.client.msg(to, text);
          }),
        );
        for (const reply of replies) {
          assert.equal(reply.t, "ok", JSON.stringify(reply));
        }
        sent += batch;
        done += batch;
      }
    },
    /**
     * The terminal stays away long enough for the server to ping bob,
     * twice over: a client that cannot answer is dropped meanwhile. (The
     * scenario's length, not a wait for something.)
     */
    stayAway: () =>
      new Promise((resolve) => setTimeout(resolve, 3 * IDLE_SECONDS * 1000)),
    /** Waits until bob's terminal showed alice's last line, or the link was lost. */
    async readAll(): Promise<void> {
      await bob.waitUntil(
        () =>
          numbersIn(bob.stdout).at(-1) === sent - 1 || LOST.test(bob.stdout) ||
          null,
        `line m${sent - 1}`,
        60_000,
      );
    },
    /** bob was never dropped, and showed every line of alice's once, in order. */
    assertAllShown(): void {
      assert.equal(
        alice.inbox.some(({ message }) =>
          message.t === "presence" && message.name === "bob" && !message.online
        ),
        false,
        `bob was dropped; server log:\n${server.logs.slice(-10).join("\n")}`,
      );
      assert.doesNotMatch(bob.stdout, LOST);
      assert.deepEqual(
        numbersIn(bob.stdout),
        Array.from({ length: sent }, (_, n) => n),
      );
    },
    async [Symbol.asyncDispose]() {
      bob.resumeStdout();
      bob.kill("SIGKILL");
      await bob.finish();
      await alice.quit();
      await server.shutdown();
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test({
  name:
    "chat connect on a terminal that stops taking output stays connected and then shows every line once, in order",
  ignore: !(await hasPty()),
  fn: async () => {
    await using room = await stalledRoom();
    // The terminal takes nothing more: its buffer and the pipe behind it
    // (some 100 KiB) fill, and what the client writes to it waits.
    room.bob.pauseStdout();
    await room.say(400, 600);
    await room.stayAway();
    // More while bob's terminal still takes nothing.
    await room.say(20, 600);
    room.bob.resumeStdout();
    await room.readAll();
    room.assertAllShown();
  },
});

Deno.test({
  name:
    "chat connect on a terminal that stops taking output holds off the server's messages past its queue's bound, answers pings meanwhile, and then shows every line once, in order",
  ignore: !(await hasPty()),
  fn: async () => {
    await using room = await stalledRoom();
    room.bob.pauseStdout();
    // Private lines of 300 characters: past the queue's bound in lines
    // (each line one write, with its redraw), far below it in bytes (7 of
    // 32 MiB); past it by more than the terminal and the pipes behind it
    // hold (250-850 KiB seen, up to 2,100 lines), and by less than the 8 MiB
    // the connection takes while the client holds off.
    const count = STDOUT_BACKLOG_LINES + 6000;
    await room.say(count, 300, "bob");
    await room.stayAway();
    // Held off: what came past the bound waits on the connection, taken
    // from the server but not yet handled, so not acknowledged. (A client
    // without a bound would have handled, and acknowledged, all of it.)
    const pending = room.store.pendingFor("bob", count).length;
    assert.ok(
      pending > 0,
      `bob acknowledged every line while his terminal took none (${
        numbersIn(room.bob.stdout).length
      } shown)`,
    );
    assert.ok(pending < count, `${pending} of ${count} not acknowledged`);
    room.bob.resumeStdout();
    await room.readAll();
    room.assertAllShown();
  },
});

Deno.test({
  name:
    "chat connect on a terminal acknowledges a private message only once its line is written: killed with lines queued, it gets them at the next sign-in",
  ignore: !(await hasPty()),
  fn: async () => {
    await using room = await stalledRoom();
    room.bob.pauseStdout();
    // Far more than the terminal and the pipes behind it hold (up to some
    // 850 KiB seen), far less than the queue's bound: bob takes all of it
    // from the server, and most waits in his queue, unwritten.
    const count = 4000;
    await room.say(count, 600, "bob");
    // Long enough for the client to acknowledge what it took, many times
    // over (a few times a second). (The scenario's length.)
    await room.stayAway();
    const pending = room.store.pendingFor("bob", count).length;
    const shown = numbersIn(room.bob.stdout).length;
    assert.ok(
      pending > 0,
      `bob acknowledged all ${count} lines while his terminal had shown ${shown}`,
    );
    // Killed (no goodbye, no last flush): what his terminal never took is
    // shown by the next chat connect of his, once, after what it did take.
    const before = numbersIn(await room.restartBob());
    await room.readAll();
    const after = numbersIn(room.bob.stdout);
    const all = [...new Set([...before, ...after])].sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: count }, (_, n) => n));
    for (const seen of [before, after]) {
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b), "out of order");
    }
  },
});

/** Resolves once process `pid` has ended (gone, or a zombie), or throws. */
async function ended(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await new Deno.Command("ps", {
      args: ["-o", "stat=", "-p", String(pid)],
    }).output();
    const stat = new TextDecoder().decode(stdout).trim();
    if (stat === "" || stat.startsWith("Z")) return;
    if (Date.now() > deadline) {
      const threads = await new Deno.Command("ps", {
        args: ["-L", "-o", "tid,stat,wchan:32", "-p", String(pid)],
      }).output();
      throw new Error(
        `process ${pid} still running (${stat}) ${
          new TextDecoder().decode(threads.stdout)
        }`,
      );
    }
    // Polled: nothing tells this process when another one ends.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

Deno.test({
  name:
    "chat connect on a terminal that takes no output ends at SIGTERM, not once the terminal takes its output",
  ignore: !(await hasPty()),
  fn: async () => {
    await using room = await stalledRoom();
    room.bob.pauseStdout();
    // Far more than the terminal and the pipes behind it hold: the queue
    // is writing, the write waiting for the terminal.
    await room.say(4000, 600, "bob");
    const chat = await childOf(room.bob.child.pid);
    Deno.kill(chat, "SIGTERM");
    // A terminal nobody reads (a stalled ssh connection) must not keep
    // the process: the signal's handler wrote to it synchronously.
    await ended(chat, WAIT_MS);
  },
});

/**
 * bob (a real `chat connect` on a terminal this test holds, stderr on it
 * too, as a person's) leaves with `keys` typed (or by SIGTERM, for
 * "SIGTERM") while his terminal takes no output, 4000 private lines of alice's queued for it: he must end within
 * the last flush's deadline (FINAL_FLUSH_STALL_MS), and what his terminal
 * never took comes at his next sign-in, in order.
 */
async function leaveStalled(keys: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-term-leave-" });
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const store = openStore(":memory:");
  try {
    await using server = await startTestServer({
      store,
      connectionLimits: {
        messagesPerSecond: 100_000,
        messageBurst: 100_000,
        messagesPerSecondPerAddress: 100_000,
        messageBurstPerAddress: 100_000,
      },
    });
    const bob = () =>
      new PtyChat([
        "connect",
        `127.0.0.1:${server.port}`,
        "--pub",
        pub,
        "--user",
        "bob",
        "--no-open",
        "--downloads",
        join(dir, "downloads"),
      ], { XDG_CONFIG_HOME: join(dir, "config") });
    const alice = await TestClient.connect(server, "alice");
    const count = 4000;
    {
      await using first = bob();
      await first.waitFor(/SUCCESS: Username registered\./);
      first.pauseStdout();
      // Far more than the terminal holds (some KiB) and the queue's bound
      // in bytes or lines far off: the queue waits on a write the terminal
      // does not take.
      const replies = await Promise.all(
        Array.from(
          { length: count },
          (_, n) => alice.client.msg("bob", `m${n} ${"x".repeat(600)}`),
        ),
      );
      for (const reply of replies) assert.equal(reply.t, "ok");
      await waitForStalled(first.child.pid);
      if (keys === "SIGTERM") Deno.kill(first.child.pid, "SIGTERM");
      else first.type(keys);
      // The session's goodbye, then the last flush's deadline: well within.
      await ended(first.child.pid, FINAL_FLUSH_STALL_MS + 10_000);
      // Not all of it written: a failure, not said on the terminal that
      // would not take it (or the signal's).
      const status = await first.child.status;
      if (keys === "SIGTERM") assert.equal(status.signal, "SIGTERM");
      else assert.equal(status.code, 1);
      // Nor is the terminal left raw: the shell's keys would not echo.
      // (Raw mode's usual end waits for the output to drain: it never did.)
      assert.equal(first.raw(), false, "the terminal was left in raw mode");
      // Nor in bracketed paste mode, once it takes output again: its end
      // comes after what was written. (It was queued behind the output
      // given up, and the terminal wrapped every paste into the shell's
      // next program in ESC[200~ ... ESC[201~.)
      first.resumeStdout();
      await first.waitFor(
        new RegExp(
          `${escaped(DISABLE_BRACKETED_PASTE)}(?![^]*${
            escaped(ENABLE_BRACKETED_PASTE)
          })`,
        ),
      );
    }
    // Not written, so not acknowledged: the server still holds it, and
    // sends it at the next sign-in (the last of alice's lines: those the
    // terminal took before it stopped were acknowledged).
    const pending = store.pendingFor("bob", count).length;
    assert.ok(pending > count / 2, `${pending} of ${count} not acknowledged`);
    await using second = bob();
    await second.waitFor(
      new RegExp(`from alice\\]?: m${count - 1}\\b`),
      60_000,
    );
    assert.deepEqual(
      numbersIn(second.stdout),
      Array.from({ length: pending }, (_, n) => count - pending + n),
    );
    await alice.quit();
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Resolves once a thread of process `pid` waits to write to its terminal
 * (the queue's write, blocked), or throws.
 */
async function waitForStalled(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { stdout } = await new Deno.Command("ps", {
      args: ["-L", "-o", "wchan:32=", "-p", String(pid)],
    }).output();
    // n_tty_write's wait for room.
    if (/\bwait_woken\b/.test(new TextDecoder().decode(stdout))) return;
    if (Date.now() > deadline) throw new Error(`${pid} never waited to write`);
    // Polled: nothing tells this process what another one waits on.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

Deno.test({
  name:
    "chat connect on a terminal that takes no output ends at /quit within the last flush's deadline, and gets what it did not write at the next sign-in",
  ignore: !hasOwnPty(),
  fn: () => leaveStalled("/quit\r"),
});

// Seen: the signal's way out skipped raw mode's end (it waits for the
// output to drain, for ever here), and the shell after it got a raw
// terminal: no key echoed, Enter ended no line.
Deno.test({
  name:
    "chat connect on a terminal that takes no output ends at SIGTERM leaving the terminal out of raw mode, and gets what it did not write at the next sign-in",
  ignore: !hasOwnPty(),
  fn: () => leaveStalled("SIGTERM"),
});

Deno.test({
  name:
    "chat connect on a terminal that takes no output ends at Ctrl-D within the last flush's deadline, and gets what it did not write at the next sign-in",
  ignore: !hasOwnPty(),
  fn: () => leaveStalled("\x04"),
});

/** `text` matched as it is in a RegExp. */
const escaped = (text: string) => text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");

/**
 * True once `chat`'s process is stopped (a stop signal took); false once it
 * took its terminal back after `from` without stopping (bracketed paste on
 * again: no shell could continue it); throws past `timeoutMs`.
 */
async function stoppedUnlessBack(
  chat: PtyChat,
  from: number,
  timeoutMs: number,
): Promise<boolean> {
  const pid = chat.child.pid;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await new Deno.Command("ps", {
      args: ["-o", "stat=", "-p", String(pid)],
    }).output();
    if (new TextDecoder().decode(stdout).trim().startsWith("T")) return true;
    if (chat.stdout.indexOf(ENABLE_BRACKETED_PASTE, from) >= 0) return false;
    if (Date.now() > deadline) throw new Error(`${pid} never stopped`);
    // Polled: nothing tells this process when another one stops.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Seen (a reviewer's reading, no test until the terminal was the test's
// own: `script` stops passing keys on while its output waits): Ctrl-Z wrote
// its erase synchronously, past the output still queued for the terminal.
// On a terminal that took nothing (a stalled ssh connection) the write
// waited, the whole client with it, its answers to the server's pings too,
// and the server dropped it; the erase, computed for the block queued last,
// landed in the middle of the older output.
Deno.test({
  name:
    "Ctrl-Z on a terminal that takes no output stays connected, stops once the output queued before it is written, and at SIGCONT shows every line once, in order, and the prompt",
  ignore: !hasOwnPty(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-term-suspend-" });
    const pub = join(dir, "server.pub");
    await Deno.writeTextFile(pub, (await testKeys()).publicPem);
    try {
      await using server = await startTestServer({
        connectionLimits: {
          messagesPerSecond: 100_000,
          messageBurst: 100_000,
          messagesPerSecondPerAddress: 100_000,
          messageBurstPerAddress: 100_000,
          idleTimeoutSeconds: IDLE_SECONDS,
        },
      });
      const alice = await TestClient.connect(server, "alice");
      await using bob = new PtyChat([
        "connect",
        `127.0.0.1:${server.port}`,
        "--pub",
        pub,
        "--user",
        "bob",
        "--no-open",
        "--downloads",
        join(dir, "downloads"),
      ], { XDG_CONFIG_HOME: join(dir, "config") });
      await bob.waitFor(/SUCCESS: Username registered\./);
      await bob.waitFor(/bob> /);
      bob.pauseStdout();
      // Far more than the terminal holds: the queue waits on a write the
      // terminal does not take.
      const count = 2000;
      const replies = await Promise.all(
        Array.from(
          { length: count },
          (_, n) => alice.client.msg("bob", `m${n} ${"x".repeat(600)}`),
        ),
      );
      for (const reply of replies) assert.equal(reply.t, "ok");
      await waitForStalled(bob.child.pid);
      bob.type("\x1a");
      // Long enough for the server to ping bob twice over: a client that
      // cannot answer is dropped meanwhile. (The scenario's length.)
      await new Promise((resolve) =>
        setTimeout(resolve, 3 * IDLE_SECONDS * 1000)
      );
      assert.equal(
        alice.inbox.some(({ message }) =>
          message.t === "presence" && message.name === "bob" &&
          !message.online
        ),
        false,
        `bob was dropped; server log:\n${server.logs.slice(-10).join("\n")}`,
      );
      const shownBefore = bob.stdout.length;
      bob.resumeStdout();
      // The lines queued before Ctrl-Z, then the terminal given back (its
      // bracketed paste off), then the process stops. (Before the fix, the
      // erase went out at once, and bob was dropped meanwhile.) Which of
      // alice's lines bob had read by Ctrl-Z is his client's pace: on a
      // busy machine the last ones come after it, shown once continued.
      await bob.waitFor(
        new RegExp(escaped(DISABLE_BRACKETED_PASTE)),
        60_000,
      );
      const atStop = bob.stdout.indexOf(DISABLE_BRACKETED_PASTE, shownBefore);
      // Stopped, then continued; unless no shell could take it back (its
      // process group orphaned, as under some CI runners), where SIGTSTP
      // stops nothing and the client takes the terminal back at once.
      if (await stoppedUnlessBack(bob, atStop, WAIT_MS)) {
        Deno.kill(bob.child.pid, "SIGCONT");
      }
      // Taken back: bracketed paste on again, the block drawn anew, and
      // every line there.
      await bob.waitFor(
        new RegExp(
          `${escaped(DISABLE_BRACKETED_PASTE)}[^]*${
            escaped(ENABLE_BRACKETED_PASTE)
          }[^]*bob> `,
        ),
      );
      await bob.waitFor(
        new RegExp(`from alice\\]?: m${count - 1}\\b[^]*bob> `),
        60_000,
      );
      // The terminal given back once, right after a block drawn (the
      // prompt's row, its erase) or after a whole line (while lines wait
      // for the terminal none is drawn between them), and taken back once
      // continued, the block drawn anew below. (A line alice's that reached
      // bob after Ctrl-Z may come between the two.)
      const off = bob.stdout.indexOf(DISABLE_BRACKETED_PASTE, shownBefore);
      assert.equal(bob.stdout.lastIndexOf(DISABLE_BRACKETED_PASTE), off);
      assert.match(
        bob.stdout.slice(0, off),
        // The end of a whole line: line wrapping switched back on.
        // deno-lint-ignore no-control-regex
        /(bob> [^\n]*|\n\x1b\[\?7h)$/,
      );
      const back = bob.stdout.slice(atStop);
      const on = back.indexOf(ENABLE_BRACKETED_PASTE);
      assert.ok(
        on >= 0 && back.indexOf("bob> ", on) > on,
        JSON.stringify(back.slice(-200)),
      );
      assert.doesNotMatch(bob.stdout, LOST);
      assert.deepEqual(
        numbersIn(bob.stdout),
        Array.from({ length: count }, (_, n) => n),
      );
      bob.type("still here\r");
      await bob.waitFor(
        /Broadcast message sent: still here/,
      );
      await alice.quit();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
