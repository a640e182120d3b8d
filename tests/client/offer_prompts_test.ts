import assert from "node:assert/strict";
import { MAX_WAITING, OfferPrompts } from "../../src/client/offer_prompts.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

function offer(xfer: number, timeout = 60_000): FileOfferNotice {
  return {
    t: "file_offer",
    xfer,
    from: "sophia",
    name: `f${xfer}.txt`,
    size: 3,
    fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    timeout,
  };
}

Deno.test("OfferPrompts asks one offer at a time, in arrival order", async () => {
  const lines: string[] = [];
  const prompts = new OfferPrompts((line) => lines.push(line));
  const first = prompts.ask(offer(1));
  const second = prompts.ask(offer(2));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /f1\.txt/);
  assert.equal(prompts.answer("hello"), false, "chat is not an answer");
  assert.equal(prompts.answer("y"), true);
  assert.equal(await first, "yes");
  assert.match(lines[1]!, /f2\.txt .*Accept\?/);
  assert.equal(prompts.answer("n"), true);
  assert.equal(await second, "no");
  assert.equal(lines[2], "Declined f2.txt (3 B) from sophia.");
  assert.equal(prompts.waiting, false);
  assert.equal(prompts.answer("y"), false, "no question, no answer");
});

Deno.test("OfferPrompts declines an offer left unanswered and says so, then asks the next", async () => {
  const lines: string[] = [];
  const prompts = new OfferPrompts((line) => lines.push(line));
  // The client waits two thirds of the server's 30 ms.
  const late = prompts.ask(offer(1, 30));
  const next = prompts.ask(offer(2));
  assert.equal(await late, "timeout");
  assert.match(
    lines[1]!,
    /^No answer within 20 ms: declined f1\.txt \(3 B\) from sophia\.$/,
  );
  assert.match(lines[2]!, /f2\.txt .*Accept\?/);
  prompts.close();
  assert.equal(await next, "withdrawn");
});

Deno.test("OfferPrompts drops a withdrawn question without asking it", async () => {
  const lines: string[] = [];
  const prompts = new OfferPrompts((line) => lines.push(line));
  const first = prompts.ask(offer(1));
  const second = prompts.ask(offer(2));
  prompts.withdraw(2);
  assert.equal(await second, "withdrawn");
  prompts.withdraw(1);
  assert.equal(await first, "withdrawn");
  assert.equal(lines.length, 1);
});

Deno.test("OfferPrompts declines offers past MAX_WAITING instead of queueing them", async () => {
  const lines: string[] = [];
  const prompts = new OfferPrompts((line) => lines.push(line));
  const waiting = Array.from(
    { length: MAX_WAITING },
    (_, i) => prompts.ask(offer(i)),
  );
  assert.equal(await prompts.ask(offer(99)), "busy");
  assert.match(
    lines.at(-1)!,
    /^Declined f99\.txt \(3 B\) from sophia: 32 offers are already waiting/,
  );
  prompts.close();
  assert.ok((await Promise.all(waiting)).every((o) => o === "withdrawn"));
});
