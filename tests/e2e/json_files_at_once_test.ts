/**
 * A `chat connect --json` bot writing hundreds of `file` lines to several
 * people: no more than MAX_SENDING_AT_ONCE of its files are under way at
 * once (the most the server lets one sender have), the others wait in the
 * order read, and every file still has its outcome by its `re`. Before,
 * they all started at once, bounded only per recipient (4 each, 16 for
 * four people), and the server refused all but 8 (its `limit`). A real
 * `chat serve` and five real `chat connect --json`; the four receivers ask
 * about each offer, and the test answers them only once as many wait as
 * may: what it answers is never more than the bound.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { schemaProblem } from "../../src/client/json_output.ts";
import { MAX_SENDING_AT_ONCE } from "../../src/client/sending_places.ts";
import type { ChatProcess } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PEOPLE = ["amy", "ben", "cal", "dot"] as const;
const FILES = 200;

/** The JSON events `chat` wrote so far. */
function events(chat: ChatProcess): Record<string, unknown>[] {
  return chat.stdout.split("\n").filter((line) => line.startsWith("{")).map((
    line,
  ) => JSON.parse(line) as Record<string, unknown>);
}

Deno.test("chat connect --json: a bot's hundreds of files go no more than 8 at once, in turn, each with its outcome by its re", async () => {
  await using chat = await ServedChat.start("chat-json-files-at-once-");
  await chat.serve("--rate", "0", "--rate-per-address", "0");
  const people = await chat.signIn(PEOPLE, {
    args: ["--json", "--downloads", join(chat.dir, "downloads")],
  });
  const lines: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const path = join(chat.dir, `f${i}.txt`);
    await Deno.writeTextFile(path, `file ${i}\n`);
    const to = PEOPLE[i % PEOPLE.length]!;
    lines.push(JSON.stringify({ cmd: "file", to, path, id: `f${i}` }));
  }
  const bot = chat.connect("bot", { args: ["--json"] });
  await bot.waitFor(/"type":"welcome"/);
  await bot.write(lines.join("\n") + "\n");
  await bot.closeStdin();

  // Each offer each person was asked about, answered or not yet.
  const answered = new Set<string>();
  const open = () =>
    people.flatMap((person, p) =>
      events(person).filter((e) => e.type === "file_offer").map((e) => ({
        person,
        key: `${p}:${e.xfer}`,
        xfer: e.xfer as number,
      })).filter(({ key }) => !answered.has(key))
    );
  while (answered.size < FILES) {
    const wanted = Math.min(MAX_SENDING_AT_ONCE, FILES - answered.size);
    const waiting = await bot.waitUntil(() => {
      // A file that failed: refused by the server as past its sender's
      // transfers is what the bound is for. Before, all but the first 8
      // ("ERROR: You already have 8 transfers running; ...").
      const refused = events(bot).find((e) =>
        e.type === "error" && e.re !== null
      );
      if (refused !== undefined) {
        throw new Error(`refused: ${JSON.stringify(refused)}`);
      }
      const now = open();
      return now.length >= wanted ? now : null;
    }, `${wanted} offers asked about (${answered.size} answered)`);
    // Never more asked about at once than the bound.
    assert.equal(waiting.length, wanted);
    for (const { person, key, xfer } of waiting) {
      answered.add(key);
      await person.write(`{"cmd":"accept","xfer":${xfer}}\n`);
    }
  }
  assert.equal((await bot.finish()).code, 0, bot.stderr);
  const all = events(bot);
  for (const event of all) assert.equal(schemaProblem(event), null);
  // Under way from its offer reaching its recipient to its outcome: never
  // more than the bound at any point of the bot's output.
  let underWay = 0;
  let most = 0;
  const outcomes = new Map<unknown, boolean>();
  for (const e of all) {
    if (e.type === "file_offering") most = Math.max(most, ++underWay);
    if (e.type === "file_sent" || (e.type === "error" && e.re !== null)) {
      underWay--;
      outcomes.set(e.re, e.type === "file_sent" && e.ok === true);
    }
  }
  assert.ok(most <= MAX_SENDING_AT_ONCE, `${most} under way at once`);
  assert.equal(most, MAX_SENDING_AT_ONCE);
  assert.deepEqual(
    [...outcomes].sort(),
    lines.map((_, i) => [`f${i}`, true] as [string, boolean]).sort(),
  );
  for (const person of people) {
    await person.waitUntil(
      () =>
        events(person).filter((e) => e.type === "file_received").length >=
          FILES / PEOPLE.length,
      "every file received",
    );
    await person.write('{"cmd":"quit"}\n');
    assert.equal((await person.finish()).code, 0, person.stderr);
  }
});
