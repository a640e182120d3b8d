import assert from "node:assert/strict";
import {
  ANSWER_GUARD_MS,
  MAX_WAITING,
  OfferPrompts,
} from "../../src/client/offer_prompts.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

function offer(
  xfer: number,
  timeout = 60_000,
  from = "sophia",
): FileOfferNotice {
  return {
    t: "file_offer",
    xfer,
    from,
    name: `f${xfer}.txt`,
    size: 3,
    fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    timeout,
  };
}

/** Prompts on a clock the test moves by hand. */
function prompts() {
  const lines: string[] = [];
  const clock = { now: 0 };
  const p = new OfferPrompts((line) => lines.push(line), {
    now: () => clock.now,
  });
  const later = () => (clock.now += ANSWER_GUARD_MS);
  return { lines, clock, prompts: p, later };
}

Deno.test("OfferPrompts asks one offer at a time, in arrival order", async () => {
  const { lines, prompts: p, later } = prompts();
  const first = p.ask(offer(1));
  const second = p.ask(offer(2));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /f1\.txt/);
  later();
  assert.equal(p.answer("hello"), false, "chat is not an answer");
  assert.equal(p.answer("y"), true);
  assert.equal(await first, "yes");
  assert.match(lines[1]!, /f2\.txt .*Accept\?/);
  later();
  assert.equal(p.answer("n"), true);
  assert.equal(await second, "no");
  assert.equal(lines[2], "Declined f2.txt (3 B) from sophia.");
  assert.equal(p.waiting, false);
  assert.equal(p.answer("y"), false, "no question, no answer");
});

Deno.test("OfferPrompts takes no answer within ANSWER_GUARD_MS of the question, nor lets it through as chat", async () => {
  const { lines, clock, prompts: p } = prompts();
  const first = p.ask(offer(1));
  clock.now = ANSWER_GUARD_MS - 1;
  // A chat reply `y` typed as the question popped up.
  assert.equal(p.answer("y"), true, "used up, not sent as chat");
  assert.match(lines[1]!, /^'y' was not taken as an answer nor sent as chat/);
  assert.match(lines[2]!, /f1\.txt .*Accept\?/, "asked again");
  // Shown again: the guard starts over.
  clock.now += ANSWER_GUARD_MS - 1;
  assert.equal(p.answer("yes"), true);
  assert.equal(lines.length, 5);
  clock.now += ANSWER_GUARD_MS;
  assert.equal(p.answer("yes"), true);
  assert.equal(await first, "yes");
  // Chat is still chat inside the guard.
  const second = p.ask(offer(2));
  assert.equal(p.answer("hello"), false);
  p.close();
  assert.equal(await second, "withdrawn");
});

Deno.test("OfferPrompts does not give an answer meant for a withdrawn offer to the next one", async () => {
  const { lines, clock, prompts: p } = prompts();
  const first = p.ask(offer(1));
  const second = p.ask(offer(2, 60_000, "nana"));
  clock.now += 5000;
  // Offer 1 is withdrawn just before the user's `y` for it arrives.
  p.withdraw(1);
  assert.equal(await first, "withdrawn");
  assert.equal(
    lines[1],
    "Question withdrawn: f1.txt (3 B) from sophia was cancelled.",
  );
  assert.match(lines[2]!, /^nana wants to send you f2\.txt/);
  clock.now += 10;
  assert.equal(p.answer("y"), true);
  assert.match(lines[3]!, /not taken as an answer/);
  assert.match(lines[4]!, /^nana wants to send you f2\.txt/);
  clock.now += ANSWER_GUARD_MS;
  assert.equal(p.answer("n"), true);
  assert.equal(await second, "no");
});

Deno.test("OfferPrompts takes always only as the whole word", async () => {
  const { prompts: p, later } = prompts();
  const first = p.ask(offer(1));
  later();
  assert.equal(p.answer("a"), false, "a stray a is chat");
  assert.equal(p.answer("always"), true);
  assert.equal(await first, "always");
});

Deno.test("OfferPrompts declines an offer left unanswered and says so, then asks the next", async () => {
  // The real clock: the timeout is a real timer.
  const lines: string[] = [];
  const p = new OfferPrompts((line) => lines.push(line));
  // The client waits two thirds of the server's 30 ms.
  const late = p.ask(offer(1, 30));
  const next = p.ask(offer(2));
  assert.equal(await late, "timeout");
  assert.match(
    lines[1]!,
    /^No answer within 20 ms: declined f1\.txt \(3 B\) from sophia\.$/,
  );
  assert.match(lines[2]!, /f2\.txt .*Accept\?/);
  // The next question is shown fresh: an answer at once is not taken.
  assert.equal(p.answer("y"), true);
  assert.match(lines[3]!, /not taken as an answer/);
  p.close();
  assert.equal(await next, "withdrawn");
});

Deno.test("OfferPrompts drops a question not shown yet without a word, and says when the shown one is withdrawn", async () => {
  const { lines, prompts: p } = prompts();
  const first = p.ask(offer(1));
  const second = p.ask(offer(2));
  p.withdraw(2);
  assert.equal(await second, "withdrawn");
  assert.equal(lines.length, 1);
  p.withdraw(1);
  assert.equal(await first, "withdrawn");
  assert.deepEqual(lines.slice(1), [
    "Question withdrawn: f1.txt (3 B) from sophia was cancelled.",
  ]);
});

Deno.test("OfferPrompts.close withdraws every question silently", async () => {
  const { lines, prompts: p } = prompts();
  const asked = [p.ask(offer(1)), p.ask(offer(2))];
  p.close();
  assert.deepEqual(await Promise.all(asked), ["withdrawn", "withdrawn"]);
  assert.equal(lines.length, 1);
});

Deno.test("OfferPrompts declines offers past MAX_WAITING instead of queueing them", async () => {
  const { lines, prompts: p } = prompts();
  const waiting = Array.from(
    { length: MAX_WAITING },
    (_, i) => p.ask(offer(i)),
  );
  assert.equal(await p.ask(offer(99)), "busy");
  assert.match(
    lines.at(-1)!,
    /^Declined f99\.txt \(3 B\) from sophia: 32 offers are already waiting/,
  );
  p.close();
  assert.ok((await Promise.all(waiting)).every((o) => o === "withdrawn"));
});

Deno.test("OfferPrompts keeps a row for the oldest question waiting, with the count, until none waits", async () => {
  const rows: (string | null)[] = [];
  const clock = { now: 0 };
  const p = new OfferPrompts(() => {}, {
    now: () => clock.now,
    onWaiting: (row) => rows.push(row),
  });
  const first = p.ask(offer(1));
  assert.equal(
    rows.at(-1),
    "Answer y / n / always: sophia wants to send you f1.txt (3 B)",
  );
  const second = p.ask(offer(2, 60_000, "nana"));
  assert.equal(
    rows.at(-1),
    "Answer y / n / always (1 of 2 offers): sophia wants to send you f1.txt (3 B)",
  );
  clock.now += ANSWER_GUARD_MS;
  assert.equal(p.answer("n"), true);
  assert.equal(await first, "no");
  assert.equal(
    rows.at(-1),
    "Answer y / n / always: nana wants to send you f2.txt (3 B)",
  );
  p.withdraw(2);
  assert.equal(await second, "withdrawn");
  assert.equal(rows.at(-1), null);
});

Deno.test("OfferPrompts takes no answer while the next question waits for the line saying the last one went, and shows it only after that line", async () => {
  const { lines, clock, prompts: p } = prompts();
  const first = p.ask(offer(1));
  const second = p.ask(offer(2, 60_000, "nana"));
  clock.now += 5000;
  // The sender took offer 1 back; the line saying so is still on its way.
  const said = Promise.withResolvers<void>();
  p.withdraw(1, true, said.promise);
  assert.equal(await first, "withdrawn");
  assert.equal(lines.length, 1, "the next question waits for that line");
  // A `y` meant for offer 1, typed meanwhile: not nana's, not chat, and
  // nana's question is not pulled ahead of the line.
  assert.equal(p.answer("y"), true);
  assert.match(
    lines[1]!,
    /^'y' was not taken as an answer nor sent as chat: the question it answered is gone/,
  );
  assert.equal(lines.length, 2);
  lines.push("sophia took back the offer of f1.txt.");
  said.resolve();
  await said.promise;
  await Promise.resolve();
  assert.match(lines[3]!, /^nana wants to send you f2\.txt/);
  clock.now += ANSWER_GUARD_MS;
  assert.equal(p.answer("n"), true);
  assert.equal(await second, "no");
});
