import assert from "node:assert/strict";
import type { Reply } from "../../src/client/chat_client.ts";
import { withLikelyRecipient } from "../../src/client/likely_recipient.ts";

const notOnline = (name: string): Reply => ({
  t: "error",
  re: 3,
  code: "no_such_user",
  text: `ERROR: User '${name}' is not online.`,
});

Deno.test("withLikelyRecipient adds the one name online a slip away to the server's not-online answer", () => {
  assert.deepEqual(
    withLikelyRecipient(
      notOnline("jojp"),
      "jojp",
      ["sophia", "jojo"],
      "sophia",
    ),
    {
      ...notOnline("jojp"),
      text: "ERROR: User 'jojp' is not online. Did you mean jojo?",
    },
  );
});

Deno.test("withLikelyRecipient leaves the answer as the server said it when no one name is close", () => {
  const cases: [string, string[]][] = [
    ["jojp", ["jojo", "jojq"]], // two as close: no guess
    ["nobody", ["jojo", "nana"]], // none close
    ["sophai", ["sophia"]], // never oneself
    ["jojo", ["JOJO"]], // the name itself, listed though gone
  ];
  for (const [to, online] of cases) {
    const reply = notOnline(to);
    assert.equal(withLikelyRecipient(reply, to, online, "sophia"), reply, to);
  }
  const other: Reply = {
    t: "error",
    re: 3,
    code: "bad_request",
    text: "ERROR: You cannot message yourself",
  };
  assert.equal(withLikelyRecipient(other, "jojp", ["jojo"], "sophia"), other);
});
