/**
 * A `chat connect --json` bot's file stopped before it was ever offered
 * still has one final event by its own `re` (README "--json"): `cancel`
 * while it waits for a place among the 4 under way to its recipient, or
 * for one of the 8 under way at once (the `cancel` answered by its own
 * `re`), and the session ending with the connection down while files wait
 * for a place (its input ended, or `--no-reconnect`, and the server
 * killed). Before, the program heard nothing final of such a file: the
 * first waited for ever, the second exited without a word of any file.
 * A real `chat serve` and real `chat connect --json` processes.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { schemaProblem } from "../../src/client/json_output.ts";
import {
  STOPPED_AT_END,
  STOPPED_BY_YOU,
} from "../../src/client/outgoing_files.ts";
import type { ChatProcess } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import type { JsonEvent } from "../_helpers/json_bot.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

function events(chat: ChatProcess): JsonEvent[] {
  return chat.stdout.split("\n").filter((line) => line.startsWith("{")).map((
    line,
  ) => JSON.parse(line) as JsonEvent);
}

/** A file's final events: its outcome (file_sent said once, or an error). */
function finalsOf(chat: ChatProcess, re: string): JsonEvent[] {
  return events(chat).filter((e) =>
    e.re === re && (e.type === "file_sent" || e.type === "error")
  );
}

/** `file` lines for `names` (each `<name>.txt` to `to`, id `<name>`), written. */
async function fileLines(
  chat: ServedChat,
  files: readonly (readonly [name: string, to: string])[],
): Promise<string> {
  const lines: string[] = [];
  for (const [name, to] of files) {
    const path = join(chat.dir, `${name}.txt`);
    await Deno.writeTextFile(path, `${name}\n`);
    lines.push(JSON.stringify({ cmd: "file", to, path, id: name }));
  }
  return lines.join("\n") + "\n";
}

let listings = 0;

/**
 * The numbers `transfers` gives the files `wanted` (`<name>.txt to <who>`)
 * once it lists each as waiting as its pattern says: asked again until it
 * does (a file starts waiting once the offer before it is passed on). A
 * `help` after it marks the end of each listing (a command's events come
 * before the next command's).
 */
async function waitingNumbers(
  bot: ChatProcess,
  wanted: readonly (readonly [file: string, waits: RegExp])[],
): Promise<number[]> {
  for (let tries = 0; tries < 50; tries++) {
    const n = ++listings;
    await bot.write(
      `{"cmd":"transfers","id":"t${n}"}\n{"cmd":"help","id":"h${n}"}\n`,
    );
    await bot.waitUntil(
      () => events(bot).some((e) => e.type === "help" && e.re === `h${n}`),
      `the end of transfers listing t${n}`,
    );
    const listed = events(bot).filter((e) =>
      e.type === "notice" && e.re === `t${n}`
    ).map((e) => String(e.text));
    const numbers = wanted.map(([file, waits]) => {
      const line = listed.find((text) =>
        text.includes(`. sending ${file}: `) && waits.test(text)
      );
      return line === undefined ? null : Number(/^\s*(\d+)\./.exec(line)![1]);
    });
    if (numbers.every((number) => number !== null)) return numbers as number[];
  }
  throw new Error(
    `never listed as waiting: ${JSON.stringify(wanted)}\n${bot.stdout}`,
  );
}

const FOR_A_PLACE =
  /waiting to offer it, after one of the 4 under way to them ends$/;
const FOR_ONE_OF_8 =
  /waiting to offer it, after one of the 8 files under way ends$/;

Deno.test("chat connect --json: a file cancelled while it waits for a place, or for one of the 8 under way, has one final event by its own re, the cancel its own answer, and counts as not sent", async () => {
  await using chat = await ServedChat.start("chat-json-file-stopped-");
  await chat.serve("--rate", "0", "--rate-per-address", "0");
  const people = await chat.signIn(["amy", "ben", "cal"], {
    args: ["--json", "--downloads", join(chat.dir, "downloads")],
  });
  const [amy, ben] = people;
  // 4 to amy and 4 to ben are offered (the 8 at once); a4 and b4 wait for
  // a place (4 to each at most), c0 and c1 for one of the 8 to end.
  const files = [
    ...[0, 1, 2, 3].map((i) => [`a${i}`, "amy"] as const),
    ...[0, 1, 2, 3].map((i) => [`b${i}`, "ben"] as const),
    ["a4", "amy"],
    ["b4", "ben"],
    ["c0", "cal"],
    ["c1", "cal"],
  ] as const;
  const bot = chat.connect("bot", { args: ["--json"] });
  await bot.waitFor(/"type":"welcome"/);
  await bot.write(await fileLines(chat, files));
  const offers = (person: ChatProcess) =>
    events(person).filter((e) => e.type === "file_offer");
  await amy.waitUntil(() => offers(amy).length >= 4, "4 offers to amy");
  await ben.waitUntil(() => offers(ben).length >= 4, "4 offers to ben");

  const [a4, c0] = await waitingNumbers(bot, [
    ["a4.txt to amy", FOR_A_PLACE],
    ["c0.txt to cal", FOR_ONE_OF_8],
  ]);
  await bot.write(
    `{"cmd":"cancel","number":${a4},"id":"x1"}\n{"cmd":"cancel","number":${c0},"id":"x2"}\n`,
  );
  // Each file stopped: its outcome by its own re, said once.
  for (const re of ["a4", "c0"]) {
    await bot.waitUntil(
      () => finalsOf(bot, re).length > 0,
      `the outcome of ${re}`,
    );
  }

  // The others go as the receivers take them, in turn.
  const answered = new Set<string>();
  const fresh = () =>
    people.flatMap((person, p) =>
      offers(person).map((e) => ({ person, key: `${p}:${e.xfer}`, e }))
        .filter(({ key }) => !answered.has(key))
    );
  for (;;) {
    const next = await bot.waitUntil(() => {
      const now = fresh();
      if (now.length > 0) return { now };
      return files.every(([re]) => finalsOf(bot, re).length > 0)
        ? { now }
        : null;
    }, "an offer to take, or every file's outcome");
    if (next.now.length === 0) break;
    for (const { person, key, e } of next.now) {
      answered.add(key);
      await person.write(`{"cmd":"accept","xfer":${e.xfer}}\n`);
    }
  }
  const status = await bot.finish();

  for (const event of events(bot)) {
    assert.equal(schemaProblem(event), null, JSON.stringify(event));
  }
  for (const [re] of files) {
    assert.equal(finalsOf(bot, re).length, 1, `${re}:\n${bot.stdout}`);
  }
  // As an offer taken back says it: file_sent, ok false, nobody's result.
  for (const [re, to] of [["a4", "amy"], ["c0", "cal"]] as const) {
    assert.deepEqual(finalsOf(bot, re), [{
      type: "file_sent",
      re,
      name: `${re}.txt`,
      to,
      ok: false,
      reason: STOPPED_BY_YOU,
      results: [],
    }], bot.stdout);
  }
  for (const [re] of files.filter(([re]) => re !== "a4" && re !== "c0")) {
    assert.equal(finalsOf(bot, re)[0]!.ok, true, `${re}:\n${bot.stdout}`);
  }
  // The cancel's answer carries its own re.
  const answers = (re: string) => events(bot).filter((e) => e.re === re);
  assert.deepEqual(answers("x1"), [
    { type: "notice", re: "x1", text: "Cancelled sending a4.txt." },
  ]);
  assert.deepEqual(answers("x2"), [
    { type: "notice", re: "x2", text: "Cancelled sending c0.txt." },
  ]);
  // The two not sent are counted as failed, as an offer taken back is.
  assert.equal(status.code, 1, bot.stdout + bot.stderr);
});

for (const how of ["input ended", "--no-reconnect"] as const) {
  Deno.test(`chat connect --json: files waiting for a place when the session ends with its server killed (${how}) each have one final event by their re, exit 1`, async () => {
    await using chat = await ServedChat.start("chat-json-file-stopped-end-");
    const server = await chat.serve("--rate", "0", "--rate-per-address", "0");
    const [bob] = await chat.signIn(["bob"], {
      args: ["--json", "--downloads", join(chat.dir, "downloads")],
    });
    // 4 offered to bob, who never answers; f4 and f5 wait for a place.
    const files = [0, 1, 2, 3, 4, 5].map((i) => [`f${i}`, "bob"] as const);
    const bot = chat.connect("bot", {
      args: ["--json", ...(how === "--no-reconnect" ? [how] : [])],
    });
    await bot.waitFor(/"type":"welcome"/);
    await bot.write(await fileLines(chat, files));
    await bob.waitUntil(
      () => events(bob).filter((e) => e.type === "file_offer").length >= 4,
      "4 offers to bob",
    );
    await waitingNumbers(bot, [
      ["f4.txt to bob", FOR_A_PLACE],
      ["f5.txt to bob", FOR_A_PLACE],
    ]);
    // Its input ended: it waits for its files, and stops reconnecting at
    // once when the connection drops.
    if (how === "input ended") await bot.closeStdin();
    server.kill("SIGKILL");
    await server.child.status;
    // It ends by itself (its input still open with --no-reconnect).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      bot.child.status,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`still running:\n${bot.stdout}`)),
          WAIT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    await bot.finish();

    for (const event of events(bot)) {
      assert.equal(schemaProblem(event), null, JSON.stringify(event));
    }
    for (const [re] of files) {
      const finals = finalsOf(bot, re);
      assert.equal(finals.length, 1, `${re}:\n${bot.stdout}`);
      // The offers cut off: their outcome, not sent.
      assert.ok(finals[0]!.ok !== true, `${re}:\n${bot.stdout}`);
    }
    for (const re of ["f4", "f5"]) {
      assert.deepEqual(finalsOf(bot, re), [{
        type: "file_sent",
        re,
        name: `${re}.txt`,
        to: "bob",
        ok: false,
        reason: STOPPED_AT_END,
        results: [],
      }], bot.stdout);
    }
    assert.equal(status.code, 1, bot.stdout + bot.stderr);
  });
}
