/**
 * A `chat connect --json` bot sending a file to each of five people: its
 * next lines go on while the files are under way (each file's events carry
 * its `re`), and it leaves only once every file has ended, with the exit
 * status of every outcome. Before, each `file` command waited for its
 * file's outcome, so the second person was offered nothing until the
 * first had answered. A real `chat serve` and six real `chat connect --json`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { schemaProblem } from "../../src/client/json_output.ts";
import type { ChatProcess } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PEOPLE = ["amy", "ben", "cal", "dot", "eve"] as const;

/** The JSON events `chat` wrote so far. */
function events(chat: ChatProcess): Record<string, unknown>[] {
  return chat.stdout.split("\n").filter((line) => line.startsWith("{")).map((
    line,
  ) => JSON.parse(line) as Record<string, unknown>);
}

Deno.test("chat connect --json: a bot's file commands go on while each file waits for its answer, every outcome comes by its re, and it leaves after the last with status 1 for the one declined", async () => {
  await using chat = await ServedChat.start("chat-json-files-go-on-");
  await chat.serve();
  const people = await chat.signIn(PEOPLE, {
    args: ["--json", "--downloads", join(chat.dir, "downloads")],
  });
  const paths = PEOPLE.map((name) => join(chat.dir, `for-${name}.txt`));
  for (const [i, path] of paths.entries()) {
    await Deno.writeTextFile(path, `a file for ${PEOPLE[i]}\n`);
  }
  const bot = chat.connect("bot", { args: ["--json"] });
  await bot.waitFor(/"type":"welcome"/);
  await bot.write(
    PEOPLE.map((to, i) =>
      JSON.stringify({ cmd: "file", to, path: paths[i], id: `f-${to}` }) + "\n"
    ).join("") + '{"cmd":"send","text":"five files offered","id":"after"}\n',
  );
  // Its input ends with every file still waiting for its answer.
  await bot.closeStdin();

  // Everyone is asked before anyone answers: the files are offered at once.
  const offers = new Map<ChatProcess, number>();
  for (const person of people) {
    const [offer] = await person.waitFor(/\{"type":"file_offer"[^\n]*\}/);
    offers.set(person, JSON.parse(offer!).xfer as number);
  }
  // The line after the files went out before any file's outcome.
  await bot.waitFor(/"type":"sent","re":"after"/);
  assert.doesNotMatch(bot.stdout, /"type":"file_sent"/);

  // Four take theirs; the last declines.
  for (const [i, person] of people.entries()) {
    const cmd = i < PEOPLE.length - 1 ? "accept" : "decline";
    await person.write(`{"cmd":"${cmd}","xfer":${offers.get(person)}}\n`);
  }
  // It left only once every file had its outcome, failing for the declined.
  assert.equal((await bot.finish()).code, 1, bot.stderr);
  const all = events(bot);
  for (const event of all) assert.equal(schemaProblem(event), null);
  // Each file's outcome by its re: file_sent for those taken, an error
  // (code file) for the one declined by the one person it was sent to.
  const outcomes = all.filter((e) =>
    e.type === "file_sent" || (e.type === "error" && e.code === "file")
  );
  assert.deepEqual(
    outcomes.map((e) => [e.re, e.type === "file_sent" && e.ok === true])
      .sort(),
    PEOPLE.map((to, i) => [`f-${to}`, i < PEOPLE.length - 1]).sort(),
    bot.stdout,
  );
  const after = all.findIndex((e) => e.type === "sent" && e.re === "after");
  assert.ok(after < all.indexOf(outcomes[0]!), bot.stdout);
  for (const [i, person] of people.entries()) {
    if (i < PEOPLE.length - 1) {
      await person.waitFor(/"type":"file_received"/);
    }
    await person.write('{"cmd":"quit"}\n');
    assert.equal((await person.finish()).code, 0, person.stderr);
  }
});
