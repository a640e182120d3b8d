import assert from "node:assert/strict";
import {
  conversationOf,
  Conversations,
  MAX_UNREAD_CONVERSATIONS,
  parseQueryTarget,
  PUBLIC,
} from "../../src/client/conversations.ts";

Deno.test("parseQueryTarget reads #group, a user, or nothing for the public room", () => {
  assert.deepEqual(parseQueryTarget("#haha"), { kind: "group", name: "haha" });
  assert.deepEqual(parseQueryTarget(" jojo "), { kind: "user", name: "jojo" });
  assert.deepEqual(parseQueryTarget(""), PUBLIC);
  assert.throws(() => parseQueryTarget("#"), /Invalid group name/);
  assert.throws(() => parseQueryTarget("jo jo"), /Invalid username/);
});

Deno.test("Conversations.prompt shows the target and unread counts; /query clears them", () => {
  const c = new Conversations();
  assert.equal(c.prompt("sophia"), "sophia> ");
  c.setCurrent({ kind: "group", name: "haha" });
  assert.equal(c.prompt("sophia"), "[#haha] sophia> ");
  assert.equal(c.noteIncoming({ kind: "group", name: "HAHA" }), false);
  assert.equal(c.noteIncoming({ kind: "user", name: "jojo" }), true);
  c.noteIncoming({ kind: "user", name: "Jojo" });
  c.noteIncoming(PUBLIC);
  assert.equal(c.prompt("sophia"), "(jojo 2, public 1) [#haha] sophia> ");
  c.setCurrent({ kind: "user", name: "JOJO" });
  assert.equal(c.prompt("sophia"), "(public 1) [JOJO] sophia> ");
  c.setCurrent(PUBLIC);
  assert.equal(c.prompt("sophia"), "sophia> ");
});

// Seen trying the README as a new user: jojo answered sophia with /msg (the
// seed's way) and the prompt went on counting "(sophia 4) jojo> ".
Deno.test("Conversations.wrote clears the count of a conversation written to, and only that one", () => {
  const c = new Conversations();
  c.noteIncoming({ kind: "user", name: "sophia" });
  c.noteIncoming({ kind: "user", name: "sophia" });
  c.noteIncoming({ kind: "group", name: "haha" });
  assert.equal(c.prompt("jojo"), "(sophia 2, #haha 1) jojo> ");
  assert.equal(c.wrote({ kind: "user", name: "Sophia" }), true);
  assert.equal(c.prompt("jojo"), "(#haha 1) jojo> ");
  assert.equal(c.wrote({ kind: "user", name: "nana" }), false);
  assert.equal(c.wrote({ kind: "group", name: "haha" }), true);
  assert.equal(c.prompt("jojo"), "jojo> ");
  assert.deepEqual(c.current, PUBLIC, "where plain lines go is unchanged");
});

Deno.test("Conversations.prompt shows no control character of a name", () => {
  // Names are checked as they arrive (parse_server_message.ts); the prompt, redrawn at
  // every keystroke, does not rely on it.
  const c = new Conversations();
  c.noteIncoming({ kind: "user", name: "eve\x1b]2;PWNED\x07" });
  c.setCurrent({ kind: "group", name: "g\u202e\n" });
  const prompt = c.prompt("me\x1b[2J");
  assert.equal(prompt, "(eve^[]2;PWNED^G 1) [#g<U+202E>^J] me^[[2J> ");
});

Deno.test("Conversations.prompt names three unread conversations and counts the rest", () => {
  const c = new Conversations();
  for (const name of ["a", "b", "c", "d", "e"]) {
    c.noteIncoming({ kind: "user", name });
  }
  assert.equal(c.prompt("me"), "(a 1, b 1, c 1, +2 more) me> ");
});

Deno.test("Conversations counts at most MAX_UNREAD_CONVERSATIONS conversations, and still counts up those it counts", () => {
  const c = new Conversations();
  for (let i = 0; i < MAX_UNREAD_CONVERSATIONS; i++) {
    assert.ok(c.noteIncoming({ kind: "user", name: `u${i}` }));
  }
  assert.equal(c.noteIncoming({ kind: "group", name: "late" }), false);
  assert.ok(c.noteIncoming({ kind: "user", name: "u1" }));
  assert.equal(c.unread().length, MAX_UNREAD_CONVERSATIONS);
  assert.equal(
    c.prompt("me"),
    `(u0 1, u1 2, u2 1, +${MAX_UNREAD_CONVERSATIONS - 3} more) me> `,
  );
  // Read one: room for another.
  c.setCurrent({ kind: "user", name: "u0" });
  assert.ok(c.noteIncoming({ kind: "group", name: "late" }));
});

Deno.test("conversationOf places chat messages; my own history private goes to its recipient", () => {
  assert.deepEqual(
    conversationOf({ t: "public", from: "jojo", ts: 1 }, "sophia"),
    PUBLIC,
  );
  assert.deepEqual(
    conversationOf({ t: "private", from: "jojo", ts: 1 }, "sophia"),
    { kind: "user", name: "jojo" },
  );
  assert.deepEqual(
    conversationOf(
      { t: "private", from: "Sophia", to: "jojo", ts: 1, history: true },
      "sophia",
    ),
    { kind: "user", name: "jojo" },
  );
  assert.deepEqual(
    conversationOf({ t: "group", group: "haha", from: "jojo", ts: 1 }, "x"),
    { kind: "group", name: "haha" },
  );
  assert.equal(
    conversationOf({ t: "presence", name: "jojo", online: true }, "x"),
    null,
  );
});
