import assert from "node:assert/strict";
import {
  JOJO,
  KEY,
  NANA,
  NONE,
  room,
  SOPHIA,
} from "../_helpers/router_room.ts";
import { memoryStore } from "../_helpers/memory_store.ts";
import {
  MAX_GROUPS_SHOWN,
  MAX_HEADER_BYTES,
  MAX_MEMBERS_SHOWN,
  MAX_TEXT_BYTES,
  NAME_RULE,
} from "../../src/protocol/limits.ts";
import type { ClientMessage, ErrorCode } from "../../src/protocol/messages.ts";
import {
  connect,
  type Delivered as Outbound,
  disconnect,
  route,
} from "../_helpers/delivered.ts";
import {
  disconnect as disconnectCore,
  route as routeCore,
} from "../../src/server/router.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";
import { StoreBindings } from "../../src/server/identity_gate.ts";

const encoder = new TextEncoder();

function text(value: string): Uint8Array {
  return encoder.encode(value);
}

/** Sends a command with no body, as most commands have none. */
function send(
  state: ServerState,
  from: ConnId,
  message: ClientMessage,
  body: Uint8Array = NONE,
  now = 1000,
): Outbound[] {
  return route(state, from, message, body, now);
}

function error(
  to: ConnId,
  re: number,
  code: ErrorCode,
  text: string,
): Outbound {
  return { to: [to], message: { t: "error", re, code, text } };
}

/** An `ok`; `name`: the recipient or group a chat message went to, as registered. */
function ok(to: ConnId, re: number, text = "", name?: string): Outbound {
  return {
    to: [to],
    message: { t: "ok", re, text, ...(name === undefined ? {} : { name }) },
  };
}

Deno.test("route plays the seed's example chat session", () => {
  const state = new ServerState({}, memoryStore());
  connect(state, SOPHIA);
  connect(state, JOJO);
  connect(state, NANA);

  assert.deepEqual(
    route(
      state,
      SOPHIA,
      { t: "register", id: 1, name: "sophia", key: KEY },
      NONE,
      10,
    ),
    [{
      to: [SOPHIA],
      message: {
        t: "welcome",
        re: 1,
        name: "sophia",
        text: "SUCCESS: Username registered.",
        cids: true,
        reqs: true,
        store: state.store.id,
        last_id: 0,
      },
    }],
  );
  assert.deepEqual(
    route(
      state,
      JOJO,
      { t: "register", id: 1, name: "jojo", key: KEY },
      NONE,
      20,
    ),
    [
      {
        to: [JOJO],
        message: {
          t: "welcome",
          re: 1,
          name: "jojo",
          text: "SUCCESS: Username registered.",
          cids: true,
          reqs: true,
          store: state.store.id,
          last_id: 0,
        },
      },
      { to: [SOPHIA], message: { t: "presence", name: "jojo", online: true } },
    ],
  );
  assert.deepEqual(
    route(
      state,
      NANA,
      { t: "register", id: 1, name: "nana", key: KEY },
      NONE,
      30,
    ),
    [
      {
        to: [NANA],
        message: {
          t: "welcome",
          re: 1,
          name: "nana",
          text: "SUCCESS: Username registered.",
          cids: true,
          reqs: true,
          store: state.store.id,
          last_id: 0,
        },
      },
      {
        to: [SOPHIA, JOJO],
        message: { t: "presence", name: "nana", online: true },
      },
    ],
  );

  // 1. Public message: everyone else, one Outbound, the same body object.
  const hello = text("Hello everyone!");
  const broadcast = route(state, SOPHIA, { t: "say", id: 2 }, hello, 100);
  assert.deepEqual(broadcast, [
    ok(SOPHIA, 2),
    {
      to: [JOJO, NANA],
      message: { t: "public", from: "sophia", ts: 100, id: 1, seq: 1 },
      body: hello,
    },
  ]);
  assert.equal(broadcast[1]?.body, hello);

  // 2. List clients.
  assert.deepEqual(route(state, SOPHIA, { t: "list", id: 3 }, NONE, 110), [{
    to: [SOPHIA],
    message: {
      t: "users",
      re: 3,
      users: [
        { name: "sophia", lastMessageAt: 100 },
        { name: "jojo", lastMessageAt: null },
        { name: "nana", lastMessageAt: null },
      ],
    },
  }]);

  // 3. Private message: only jojo; nana gets nothing.
  const howAreYou = text("How are you?");
  const whisper = route(
    state,
    SOPHIA,
    { t: "msg", id: 4, to: "jojo" },
    howAreYou,
    120,
  );
  assert.deepEqual(whisper, [
    ok(SOPHIA, 4, "", "jojo"),
    {
      to: [JOJO],
      message: { t: "private", from: "sophia", ts: 120, id: 2, seq: 1 },
      body: howAreYou,
    },
  ]);
  assert.equal(whisper[1]?.body, howAreYou);

  // 5. Group message.
  assert.deepEqual(
    route(state, SOPHIA, { t: "create", id: 5, group: "haha" }, NONE, 130),
    [ok(SOPHIA, 5, "SUCCESS: Group 'haha' created and joined.")],
  );
  assert.deepEqual(route(state, JOJO, { t: "groups", id: 2 }, NONE, 140), [{
    to: [JOJO],
    message: { t: "groups", re: 2, groups: [{ name: "haha", members: 1 }] },
  }]);
  assert.deepEqual(
    route(state, JOJO, { t: "join", id: 3, group: "haha" }, NONE, 150),
    [
      ok(JOJO, 3, "SUCCESS: Joined group 'haha'."),
      {
        to: [SOPHIA],
        message: { t: "membership", group: "haha", name: "jojo", joined: true },
      },
    ],
  );
  assert.deepEqual(route(state, JOJO, { t: "members", id: 4 }, NONE, 160), [{
    to: [JOJO],
    message: {
      t: "members",
      re: 4,
      groups: [{
        group: "haha",
        members: ["sophia", "jojo"],
        online: ["sophia", "jojo"],
        tag: state.membersTag(state.group("haha")!),
      }],
    },
  }]);
  // nana is not a member, so she must not see it.
  const hello2 = text("Hello there!");
  const groupSay = route(
    state,
    JOJO,
    { t: "gsay", id: 5, group: "haha" },
    hello2,
    170,
  );
  assert.deepEqual(groupSay, [
    ok(JOJO, 5, "", "haha"),
    {
      to: [SOPHIA],
      message: {
        t: "group",
        group: "haha",
        from: "jojo",
        ts: 170,
        id: 3,
        seq: 1,
      },
      body: hello2,
    },
  ]);
  assert.equal(groupSay[1]?.body, hello2);

  // "If client nana is in the group, she should receive the message ... same
  // as jojo and sophia at the same time."
  assert.deepEqual(
    route(state, NANA, { t: "join", id: 2, group: "haha" }, NONE, 180),
    [
      ok(NANA, 2, "SUCCESS: Joined group 'haha'."),
      {
        to: [SOPHIA, JOJO],
        message: { t: "membership", group: "haha", name: "nana", joined: true },
      },
    ],
  );
  const fromSophia = text("Hi.");
  assert.deepEqual(
    route(state, SOPHIA, { t: "gsay", id: 6, group: "haha" }, fromSophia, 190),
    [
      ok(SOPHIA, 6, "", "haha"),
      {
        to: [JOJO, NANA],
        message: {
          t: "group",
          group: "haha",
          from: "sophia",
          ts: 190,
          id: 4,
          seq: 2,
        },
        body: fromSophia,
      },
    ],
  );

  assert.deepEqual(route(state, NANA, { t: "list", id: 3 }, NONE, 200), [{
    to: [NANA],
    message: {
      t: "users",
      re: 3,
      users: [
        { name: "sophia", lastMessageAt: 190 },
        { name: "jojo", lastMessageAt: 170 },
        { name: "nana", lastMessageAt: null },
      ],
    },
  }]);

  // Quitting: bye returns nothing, the edge closes and calls disconnect.
  assert.deepEqual(route(state, NANA, { t: "bye" }, NONE, 210), []);
  assert.deepEqual(disconnect(state, NANA, 210), [{
    to: [SOPHIA, JOJO],
    message: { t: "presence", name: "nana", online: false },
  }]);
});

Deno.test("route refuses every command but register and bye before registering", () => {
  const state = room();
  connect(state, 9);
  const commands: ClientMessage[] = [
    { t: "say", id: 1 },
    { t: "msg", id: 2, to: "jojo" },
    { t: "gsay", id: 3, group: "haha" },
    { t: "list", id: 4 },
    { t: "groups", id: 5 },
    { t: "create", id: 6, group: "haha" },
    { t: "join", id: 7, group: "haha" },
    { t: "leave", id: 8, group: "haha" },
    { t: "members", id: 9 },
    { t: "members", id: 10, group: "haha" },
  ];
  for (const command of commands) {
    assert.deepEqual(send(state, 9, command, text("hi")), [
      error(
        9,
        (command as { id: number }).id,
        "not_registered",
        "ERROR: Register a username first",
      ),
    ]);
  }
  assert.deepEqual(send(state, 9, { t: "bye" }), []);
  assert.equal(state.groupCount, 0);
});

Deno.test("route treats a connection it never saw as unregistered", () => {
  const state = room();
  assert.deepEqual(send(state, 42, { t: "list", id: 1 }), [
    error(42, 1, "not_registered", "ERROR: Register a username first"),
  ]);
});

Deno.test("route register rejects invalid names and echoes only printable ones", () => {
  const state = new ServerState({}, memoryStore());
  connect(state, 1);
  const cases: [string, string][] = [
    ["bad name!", `ERROR: Invalid username 'bad name!': ${NAME_RULE}`],
    ["", "ERROR: Username cannot be empty"],
    [
      "a".repeat(33),
      `ERROR: Invalid username '${"a".repeat(33)}': ${NAME_RULE}`,
    ],
    // Not echoed, but the first character the rule does not take is
    // named: a person who typed "zoë" learns what to change.
    [
      "\x1b[31mred",
      `ERROR: Invalid username: ${NAME_RULE}, not U+001B (character 1)`,
    ],
    [
      "jojo\n",
      `ERROR: Invalid username: ${NAME_RULE}, not U+000A (character 5)`,
    ],
    ["jöjö", `ERROR: Invalid username: ${NAME_RULE}, not U+00F6 (character 2)`],
    // A look-alike is not quoted: 'о' would read as the 'o' the rule takes.
    [
      "j\u043Ejo",
      `ERROR: Invalid username: ${NAME_RULE}, not U+043E (character 2)`,
    ],
    ["a!\x07", `ERROR: Invalid username: ${NAME_RULE}, not '!'`],
    [
      "zoë 😀",
      `ERROR: Invalid username: ${NAME_RULE}, not U+00EB (character 3)`,
    ],
    ["😀", `ERROR: Invalid username: ${NAME_RULE}, not U+1F600 (character 1)`],
    [
      "José Luis",
      `ERROR: Invalid username: ${NAME_RULE}, not U+00E9 (character 4)`,
    ],
    [
      "a\u200bb",
      `ERROR: Invalid username: ${NAME_RULE}, not U+200B (character 2)`,
    ],
    // Letters and symbols drawn blank are invisible ones too.
    [
      "\u3164jojo",
      `ERROR: Invalid username: ${NAME_RULE}, not U+3164 (character 1)`,
    ],
    [
      "jojo\u2800",
      `ERROR: Invalid username: ${NAME_RULE}, not U+2800 (character 5)`,
    ],
    [
      "\u{1D159}",
      `ERROR: Invalid username: ${NAME_RULE}, not U+1D159 (character 1)`,
    ],
    ["x".repeat(10_000), `ERROR: Invalid username: ${NAME_RULE}`],
  ];
  for (const [name, message] of cases) {
    assert.deepEqual(send(state, 1, { t: "register", id: 7, name, key: KEY }), [
      error(1, 7, "invalid_name", message),
    ]);
  }
  assert.equal(state.session(1), undefined);
});

Deno.test("route register keeps names unique ignoring case", () => {
  const state = room();
  connect(state, 9);
  assert.deepEqual(
    send(state, 9, { t: "register", id: 1, name: "Jojo", key: KEY }),
    [
      error(
        9,
        1,
        "name_taken",
        "ERROR: Username 'Jojo' is already taken. Choose another one",
      ),
    ],
  );
  assert.deepEqual(
    send(state, 9, { t: "register", id: 2, name: "jojo", key: KEY }),
    [
      error(
        9,
        2,
        "name_taken",
        "ERROR: Username 'jojo' is already taken. Choose another one",
      ),
    ],
  );
  // After jojo leaves, the name is free in any case.
  disconnect(state, JOJO, 0);
  const welcome = send(state, 9, {
    t: "register",
    id: 3,
    name: "Jojo",
    key: KEY,
  });
  assert.deepEqual(welcome[0]?.message, {
    t: "welcome",
    re: 3,
    name: "Jojo",
    text: "SUCCESS: Username registered.",
    cids: true,
    reqs: true,
    store: state.store.id,
    last_id: 0,
  });
});

Deno.test("route register refuses a second register on one connection", () => {
  const state = room();
  assert.deepEqual(
    send(state, JOJO, { t: "register", id: 4, name: "other", key: KEY }),
    [
      error(JOJO, 4, "already_registered", "ERROR: You are already registered"),
    ],
  );
  assert.deepEqual(
    send(state, JOJO, { t: "register", id: 5, name: "jojo", key: KEY }),
    [
      error(JOJO, 5, "already_registered", "ERROR: You are already registered"),
    ],
  );
  assert.equal(state.nameOf(JOJO), "jojo");
});

Deno.test("route refuses empty and oversized bodies for say, msg and gsay", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  send(state, JOJO, { t: "join", id: 1, group: "haha" });
  const commands: ClientMessage[] = [
    { t: "say", id: 2 },
    { t: "msg", id: 3, to: "jojo" },
    { t: "gsay", id: 4, group: "haha" },
  ];
  for (const command of commands) {
    const re = (command as { id: number }).id;
    assert.deepEqual(send(state, SOPHIA, command, NONE), [
      error(SOPHIA, re, "empty", "ERROR: Message is empty"),
    ]);
    assert.deepEqual(
      send(state, SOPHIA, command, new Uint8Array(MAX_TEXT_BYTES + 1)),
      [
        error(
          SOPHIA,
          re,
          "too_long",
          "ERROR: Message is too long (the limit is 4000 characters, or 16000 bytes of UTF-8)",
        ),
      ],
    );
    const largest = new Uint8Array(MAX_TEXT_BYTES);
    const sent = send(state, SOPHIA, command, largest);
    const name = command.t === "msg"
      ? command.to
      : command.t === "gsay"
      ? command.group
      : undefined;
    assert.deepEqual(sent[0], ok(SOPHIA, re, "", name));
    assert.ok(sent[1]?.body === largest);
  }
  // Refused messages do not count as messages.
  assert.equal(state.session(SOPHIA)?.lastMessageAt, 1000);
});

Deno.test("route forwards the body object without reading it", () => {
  // Not valid UTF-8 either: the router must not care.
  const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0xc3]);
  // The store keeps the bytes (it must read them): it is handed the plain
  // array, so that what is watched is the router alone.
  const real = memoryStore();
  const store = new Proxy(real, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property === "appendPublic" || property === "appendMessage") {
        return (message: { body: Uint8Array }) =>
          value.call(target, { ...message, body: bytes });
      }
      return value.bind(target);
    },
  });
  const state = room({}, store);
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  send(state, JOJO, { t: "join", id: 1, group: "haha" });
  const touched = new Set<PropertyKey>();
  const body = new Proxy(bytes, {
    get(target, property) {
      touched.add(property);
      return Reflect.get(target, property);
    },
  });
  const outs = [
    ...send(state, SOPHIA, { t: "say", id: 2 }, body),
    ...send(state, SOPHIA, { t: "msg", id: 3, to: "nana" }, body),
    ...send(state, SOPHIA, { t: "gsay", id: 4, group: "haha" }, body),
  ];
  const forwarded = outs.filter((out) => out.body !== undefined);
  assert.equal(forwarded.length, 3);
  for (const out of forwarded) assert.ok(out.body === body);
  assert.deepEqual([...touched], ["byteLength"]);
  assert.deepEqual(
    real.history({ kind: "public" }, 1).map((message) => message.body),
    [bytes],
  );
});

Deno.test("route msg reaches one online user ignoring case", () => {
  const state = room();
  const body = text("nihao");
  assert.deepEqual(send(state, NANA, { t: "msg", id: 1, to: "JoJo" }, body), [
    ok(NANA, 1, "", "jojo"),
    {
      to: [JOJO],
      message: { t: "private", from: "nana", ts: 1000, id: 1, seq: 1 },
      body,
    },
  ]);
});

Deno.test("route msg to yourself is allowed", () => {
  const state = room();
  const body = text("note to self");
  assert.deepEqual(send(state, NANA, { t: "msg", id: 1, to: "nana" }, body), [
    ok(NANA, 1, "", "nana"),
    {
      to: [NANA],
      message: { t: "private", from: "nana", ts: 1000, id: 1, seq: 1 },
      body,
    },
  ]);
});

Deno.test("route msg to an unknown or offline user fails", () => {
  const state = room();
  disconnect(state, JOJO, 0);
  assert.deepEqual(send(state, NANA, { t: "msg", id: 1, to: "x" }, text("a")), [
    error(NANA, 1, "no_such_user", "ERROR: User 'x' is not online."),
  ]);
  assert.deepEqual(
    send(state, NANA, { t: "msg", id: 3, to: "\x1b]0;pwned\x07" }, text("a")),
    [error(
      NANA,
      3,
      "no_such_user",
      "ERROR: No user with that name is online.",
    )],
  );
  assert.equal(state.session(NANA)?.lastMessageAt, null);
  // Known but offline: it waits for them.
  assert.deepEqual(
    send(state, NANA, { t: "msg", id: 2, to: "jojo" }, text("a")),
    [ok(
      NANA,
      2,
      "jojo is offline; the message will be delivered when they connect.",
      "jojo",
    )],
  );
});

Deno.test("route say with nobody else online only confirms", () => {
  const state = new ServerState({}, memoryStore());
  connect(state, 1);
  send(state, 1, { t: "register", id: 1, name: "alone", key: KEY });
  assert.deepEqual(send(state, 1, { t: "say", id: 2 }, text("hello?")), [
    ok(1, 2),
  ]);
});

Deno.test("route gsay fails for unknown groups and non-members", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  assert.deepEqual(
    send(state, NANA, { t: "gsay", id: 1, group: "x" }, text("hi")),
    [error(NANA, 1, "no_such_group", "ERROR: Group 'x' does not exist.")],
  );
  assert.deepEqual(
    send(state, NANA, { t: "gsay", id: 2, group: "HAHA" }, text("hi")),
    [
      error(
        NANA,
        2,
        "not_member",
        "ERROR: You are not a member of group 'haha'. Join it with /join haha",
      ),
    ],
  );
  assert.deepEqual(
    send(state, NANA, { t: "gsay", id: 3, group: "\u202e" }, text("hi")),
    [
      error(
        NANA,
        3,
        "no_such_group",
        "ERROR: No group with that name exists.",
      ),
    ],
  );
});

Deno.test("route gsay uses the group's name as created and skips offline members", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "HaHa" });
  send(state, JOJO, { t: "join", id: 1, group: "haha" });
  send(state, NANA, { t: "join", id: 1, group: "HAHA" });
  disconnect(state, NANA, 0);
  const body = text("hi");
  assert.deepEqual(
    send(state, JOJO, { t: "gsay", id: 2, group: "hAhA" }, body),
    [
      ok(JOJO, 2, "", "HaHa"),
      {
        to: [SOPHIA],
        message: {
          t: "group",
          group: "HaHa",
          from: "jojo",
          ts: 1000,
          id: 1,
          seq: 1,
        },
        body,
      },
    ],
  );
  // The only member online: confirmed, delivered to nobody.
  disconnect(state, SOPHIA, 0);
  assert.deepEqual(
    send(state, JOJO, { t: "gsay", id: 3, group: "haha" }, body),
    [
      ok(JOJO, 3, "", "HaHa"),
    ],
  );
});

Deno.test("route create validates the name and keeps groups unique ignoring case", () => {
  const state = room();
  assert.deepEqual(send(state, JOJO, { t: "create", id: 1, group: "a b" }), [
    error(
      JOJO,
      1,
      "invalid_name",
      `ERROR: Invalid group name 'a b': ${NAME_RULE}`,
    ),
  ]);
  assert.deepEqual(send(state, JOJO, { t: "create", id: 2, group: "\x00" }), [
    error(JOJO, 2, "invalid_name", `ERROR: Invalid group name: ${NAME_RULE}`),
  ]);
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  assert.deepEqual(send(state, JOJO, { t: "create", id: 3, group: "haha" }), [
    error(JOJO, 3, "group_exists", "ERROR: Group 'haha' already exists."),
  ]);
  assert.deepEqual(send(state, JOJO, { t: "create", id: 4, group: "HAHA" }), [
    error(JOJO, 4, "group_exists", "ERROR: Group 'haha' already exists."),
  ]);
  assert.equal(state.groupCount, 1);
});

Deno.test("route join fails for unknown groups and existing members", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  assert.deepEqual(send(state, JOJO, { t: "join", id: 1, group: "nanana" }), [
    error(JOJO, 1, "no_such_group", "ERROR: Group 'nanana' does not exist."),
  ]);
  assert.deepEqual(send(state, SOPHIA, { t: "join", id: 2, group: "HAHA" }), [
    error(
      SOPHIA,
      2,
      "already_member",
      "ERROR: You are already a member of group 'haha'.",
    ),
  ]);
});

Deno.test("route leave notifies online members and keeps the empty group", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  send(state, JOJO, { t: "join", id: 1, group: "haha" });
  send(state, NANA, { t: "join", id: 1, group: "haha" });
  disconnect(state, NANA, 0);
  assert.deepEqual(send(state, JOJO, { t: "leave", id: 2, group: "haha" }), [
    ok(JOJO, 2, "SUCCESS: Left group 'haha'."),
    {
      to: [SOPHIA],
      message: { t: "membership", group: "haha", name: "jojo", joined: false },
    },
  ]);
  assert.deepEqual(send(state, JOJO, { t: "leave", id: 3, group: "haha" }), [
    error(
      JOJO,
      3,
      "not_member",
      "ERROR: You are not a member of group 'haha'. Join it with /join haha",
    ),
  ]);
  assert.deepEqual(send(state, JOJO, { t: "leave", id: 4, group: "x" }), [
    error(JOJO, 4, "no_such_group", "ERROR: Group 'x' does not exist."),
  ]);
  assert.deepEqual(send(state, SOPHIA, { t: "leave", id: 2, group: "haha" }), [
    ok(SOPHIA, 2, "SUCCESS: Left group 'haha'."),
  ]);
  // nana is offline but still a member; sophia and jojo are out.
  assert.deepEqual(send(state, JOJO, { t: "groups", id: 5 }), [{
    to: [JOJO],
    message: { t: "groups", re: 5, groups: [{ name: "haha", members: 1 }] },
  }]);
});

Deno.test("route members lists any group for anyone, or the caller's own groups", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  send(state, SOPHIA, { t: "create", id: 2, group: "zeta" });
  send(state, JOJO, { t: "join", id: 1, group: "zeta" });
  disconnect(state, SOPHIA, 0);
  // nana is in no group and may still list one.
  assert.deepEqual(send(state, NANA, { t: "members", id: 1, group: "ZETA" }), [{
    to: [NANA],
    message: {
      t: "members",
      re: 1,
      groups: [{
        group: "zeta",
        members: ["sophia", "jojo"],
        online: ["jojo"],
        tag: state.membersTag(state.group("zeta")!),
      }],
    },
  }]);
  assert.deepEqual(send(state, NANA, { t: "members", id: 2 }), [{
    to: [NANA],
    message: { t: "members", re: 2, groups: [] },
  }]);
  assert.deepEqual(send(state, NANA, { t: "members", id: 3, group: "x" }), [
    error(NANA, 3, "no_such_group", "ERROR: Group 'x' does not exist."),
  ]);
});

Deno.test("route list shows online users in connection order", () => {
  const state = new ServerState({}, memoryStore());
  connect(state, 1);
  connect(state, 2);
  connect(state, 3);
  send(state, 3, { t: "register", id: 1, name: "nana", key: KEY });
  send(state, 1, { t: "register", id: 1, name: "sophia", key: KEY });
  send(state, 2, { t: "register", id: 1, name: "jojo", key: KEY });
  disconnect(state, 2, 0);
  assert.deepEqual(send(state, 3, { t: "list", id: 2 }), [{
    to: [3],
    message: {
      t: "users",
      re: 2,
      users: [
        { name: "sophia", lastMessageAt: null },
        { name: "nana", lastMessageAt: null },
      ],
    },
  }]);
});

Deno.test("route re-register after disconnect keeps groups and last message time", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  send(state, JOJO, { t: "join", id: 1, group: "haha" });
  send(state, JOJO, { t: "say", id: 2 }, text("bye all"), 500);
  assert.deepEqual(disconnect(state, JOJO, 600), [{
    to: [SOPHIA, NANA],
    message: { t: "presence", name: "jojo", online: false },
  }]);
  // Offline members get it when they are back (missed, as history).
  assert.deepEqual(
    send(state, SOPHIA, { t: "gsay", id: 2, group: "haha" }, text("?")),
    [ok(SOPHIA, 2, "", "haha")],
  );

  connect(state, 7);
  assert.deepEqual(
    send(state, 7, { t: "register", id: 1, name: "jojo", key: KEY }),
    [
      {
        to: [7],
        message: {
          t: "welcome",
          re: 1,
          name: "jojo",
          text: "SUCCESS: Username registered.",
          cids: true,
          reqs: true,
          store: state.store.id,
          // bye all (1) and ? (2): what comes after reaches it live.
          last_id: 2,
        },
      },
      {
        to: [7],
        message: {
          t: "group",
          group: "haha",
          from: "sophia",
          ts: 1000,
          id: 2,
          seq: 1,
          history: true,
        },
        body: text("?"),
      },
      {
        to: [SOPHIA, NANA],
        message: { t: "presence", name: "jojo", online: true },
      },
    ],
  );
  const body = text("back");
  assert.deepEqual(
    send(state, SOPHIA, { t: "gsay", id: 3, group: "haha" }, body),
    [
      ok(SOPHIA, 3, "", "haha"),
      {
        to: [7],
        message: {
          t: "group",
          group: "haha",
          from: "sophia",
          ts: 1000,
          id: 3,
          seq: 2,
        },
        body,
      },
    ],
  );
  assert.deepEqual(send(state, 7, { t: "members", id: 2 }), [{
    to: [7],
    message: {
      t: "members",
      re: 2,
      groups: [{
        group: "haha",
        members: ["sophia", "jojo"],
        online: ["sophia", "jojo"],
        tag: state.membersTag(state.group("haha")!),
      }],
    },
  }]);
  const users = send(state, 7, { t: "list", id: 3 })[0]?.message;
  assert.deepEqual(users, {
    t: "users",
    re: 3,
    users: [
      { name: "sophia", lastMessageAt: 1000 },
      { name: "nana", lastMessageAt: null },
      { name: "jojo", lastMessageAt: 500 },
    ],
  });
});

Deno.test("route membership by name survives a reconnect in another case", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  send(state, JOJO, { t: "join", id: 1, group: "haha" });
  disconnect(state, JOJO, 0);
  connect(state, 7);
  send(state, 7, { t: "register", id: 1, name: "JoJo", key: KEY });
  const body = text("hi");
  assert.deepEqual(send(state, 7, { t: "gsay", id: 2, group: "haha" }, body), [
    ok(7, 2, "", "haha"),
    {
      to: [SOPHIA],
      message: {
        t: "group",
        group: "haha",
        from: "JoJo",
        ts: 1000,
        id: 1,
        seq: 1,
      },
      body,
    },
  ]);
});

Deno.test("disconnect of an unregistered or unknown connection sends nothing", () => {
  const state = room();
  connect(state, 9);
  assert.deepEqual(disconnect(state, 9, 0), []);
  assert.deepEqual(disconnect(state, 9, 0), []);
  assert.deepEqual(disconnect(state, 404, 0), []);
  assert.equal(state.hasConnection(9), false);
});

Deno.test("disconnect of the last user sends nothing", () => {
  const state = new ServerState({}, memoryStore());
  connect(state, 1);
  send(state, 1, { t: "register", id: 1, name: "alone", key: KEY });
  assert.deepEqual(disconnect(state, 1, 0), []);
});

Deno.test("route answers an unknown command with bad_request", () => {
  const state = room();
  const bogus = { t: "nope", id: 5 } as unknown as ClientMessage;
  assert.deepEqual(send(state, SOPHIA, bogus), [
    error(SOPHIA, 5, "bad_request", "ERROR: Unknown command"),
  ]);
});

Deno.test("route create respects maxGroups", () => {
  const state = room({ maxGroups: 2 });
  send(state, SOPHIA, { t: "create", id: 1, group: "a" });
  send(state, JOJO, { t: "create", id: 1, group: "b" });
  assert.deepEqual(send(state, NANA, { t: "create", id: 1, group: "c" }), [
    error(
      NANA,
      1,
      "limit",
      "ERROR: The server already has 2 groups, the most it allows.",
    ),
  ]);
  // An existing name is still reported as such.
  assert.deepEqual(send(state, NANA, { t: "create", id: 2, group: "a" }), [
    error(NANA, 2, "group_exists", "ERROR: Group 'a' already exists."),
  ]);
  assert.equal(state.groupCount, 2);
});

Deno.test("route create: groups nobody is in count against their creator, not the server", () => {
  const state = room({ maxGroups: 3, maxGroupsPerUser: 2 });
  // Created and left: the server's limit is not used up by one account.
  for (const [id, group] of [[1, "a"], [3, "b"]] as const) {
    assert.equal(
      send(state, NANA, { t: "create", id, group })[0]!.message.t,
      "ok",
    );
    send(state, NANA, { t: "leave", id: id + 1, group });
  }
  assert.equal(state.occupiedGroupCount, 0);
  assert.equal(state.emptyGroupsCreatedBy("NANA"), 2);
  assert.deepEqual(send(state, NANA, { t: "create", id: 5, group: "c" }), [
    error(
      NANA,
      5,
      "limit",
      "ERROR: You are in 0 groups and created 2 that nobody is in: 2 in all is the most allowed.",
    ),
  ]);
  // Everyone else can still create groups, up to the server's limit of
  // groups someone is in.
  for (const [i, name] of ["d", "e", "f"].entries()) {
    const creator = [SOPHIA, JOJO, SOPHIA][i]!;
    assert.equal(
      send(state, creator, { t: "create", id: 10 + i, group: name })[0]!
        .message.t,
      "ok",
    );
  }
  assert.deepEqual(send(state, JOJO, { t: "create", id: 20, group: "g" }), [
    error(
      JOJO,
      20,
      "limit",
      "ERROR: The server already has 3 groups, the most it allows.",
    ),
  ]);
  // Joining an empty group makes it its creator's no more.
  send(state, JOJO, { t: "leave", id: 21, group: "e" });
  assert.equal(
    send(state, JOJO, { t: "join", id: 22, group: "a" })[0]!.message.t,
    "ok",
  );
  assert.equal(state.emptyGroupsCreatedBy("nana"), 1);
  assert.equal(state.emptyGroupsCreatedBy("jojo"), 1);
  assert.equal(state.occupiedGroupCount, 3);
  // Nor can joining one make more groups that someone is in than allowed.
  assert.deepEqual(send(state, NANA, { t: "join", id: 23, group: "b" }), [
    error(
      NANA,
      23,
      "limit",
      "ERROR: The server already has 3 groups, the most it allows.",
    ),
  ]);
});

Deno.test("route create: the server keeps at most maxStoredGroups groups, empty ones too", () => {
  const state = room({
    maxGroups: 10,
    maxStoredGroups: 3,
    maxGroupsPerUser: 2,
  });
  for (
    const [creator, group] of [[NANA, "a"], [NANA, "b"], [JOJO, "c"]] as const
  ) {
    send(state, creator, { t: "create", id: 1, group });
    send(state, creator, { t: "leave", id: 2, group });
  }
  assert.deepEqual(send(state, SOPHIA, { t: "create", id: 3, group: "d" }), [
    error(
      SOPHIA,
      3,
      "limit",
      "ERROR: The server already has 3 groups, the most it allows.",
    ),
  ]);
});

Deno.test("route join respects maxMembersPerGroup", () => {
  const state = room({ maxMembersPerGroup: 2 });
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  send(state, JOJO, { t: "join", id: 1, group: "haha" });
  assert.deepEqual(send(state, NANA, { t: "join", id: 1, group: "haha" }), [
    error(
      NANA,
      1,
      "limit",
      "ERROR: Group 'haha' is full: it has 2 members, the most allowed.",
    ),
  ]);
  // Leaving makes room.
  send(state, JOJO, { t: "leave", id: 2, group: "haha" });
  assert.deepEqual(
    send(state, NANA, { t: "join", id: 2, group: "haha" })[0],
    ok(
      NANA,
      2,
      "SUCCESS: Joined group 'haha'.",
    ),
  );
});

Deno.test("route create and join respect maxGroupsPerUser", () => {
  const state = room({ maxGroupsPerUser: 1 });
  const full =
    "ERROR: You are already in 1 groups, the most allowed. Leave one first.";
  send(state, SOPHIA, { t: "create", id: 1, group: "a" });
  assert.deepEqual(send(state, SOPHIA, { t: "create", id: 2, group: "b" }), [
    error(SOPHIA, 2, "limit", full),
  ]);
  // A refused creator leaves no group behind.
  assert.equal(state.group("b"), undefined);
  send(state, JOJO, { t: "create", id: 1, group: "c" });
  assert.deepEqual(send(state, SOPHIA, { t: "join", id: 3, group: "c" }), [
    error(SOPHIA, 3, "limit", full),
  ]);
  // The limit follows the name across reconnects.
  disconnect(state, SOPHIA, 0);
  connect(state, 7);
  send(state, 7, { t: "register", id: 1, name: "sophia", key: KEY });
  assert.deepEqual(send(state, 7, { t: "join", id: 2, group: "c" }), [
    error(7, 2, "limit", full),
  ]);
});

Deno.test("route caps /showgroupmembers at 20 groups of 200 names, counting the rest", () => {
  const state = room({ maxGroupsPerUser: 50, maxMembersPerGroup: 500 });
  for (let g = 0; g < 25; g++) {
    send(state, SOPHIA, { t: "create", id: 1, group: `g${g}` });
  }
  const big = state.group("g0")!;
  for (let m = 0; m < 300; m++) {
    state.store.ensureUser(`member${m}`, `member${m}`, 0);
    state.addMember(big, `member${m}`);
  }
  const [out] = send(state, SOPHIA, { t: "members", id: 2 });
  assert.ok(out !== undefined && out.message.t === "members");
  if (out.message.t !== "members") return;
  assert.equal(out.message.groups.length, 20);
  assert.equal(out.message.more, 5);
  const first = out.message.groups[0]!;
  assert.equal(first.members.length, 200);
  assert.equal(first.more, 101); // sophia and 300 members, 200 shown
  assert.deepEqual(first.online, ["sophia"]);
  assert.equal(out.message.groups[1]!.more, undefined);
});

Deno.test("route caps /list at MAX_LIST_ITEMS users, counting the rest", () => {
  const state = room();
  for (let i = 0; i < 2005; i++) {
    connect(state, 100 + i);
    route(
      state,
      100 + i,
      { t: "register", id: 0, name: `u${i}`, key: KEY },
      NONE,
      5,
    );
  }
  const [out] = send(state, SOPHIA, { t: "list", id: 3 });
  assert.ok(out !== undefined && out.message.t === "users");
  if (out.message.t !== "users") return;
  assert.equal(out.message.users.length, 2000);
  assert.equal(out.message.more, 2008 - 2000);
});

Deno.test("route addresses users, groups and the room, never their connections", () => {
  const state = room();
  routeCore(state, SOPHIA, { t: "create", id: 1, group: "Team" }, NONE, 5);
  const hi = text("hi");
  const addresses = (message: ClientMessage, from = SOPHIA) =>
    routeCore(state, from, message, hi, 10).map((out) => out.to);
  assert.deepEqual(addresses({ t: "say", id: 2 }), [
    { kind: "connection", id: SOPHIA },
    { kind: "room", except: "sophia" },
  ]);
  assert.deepEqual(addresses({ t: "msg", id: 3, to: "JoJo" }), [
    { kind: "connection", id: SOPHIA },
    { kind: "user", key: "jojo" },
  ]);
  assert.deepEqual(addresses({ t: "join", id: 4, group: "team" }, NANA), [
    { kind: "connection", id: NANA },
    { kind: "group", key: "team", except: "nana" },
  ]);
  assert.deepEqual(addresses({ t: "gsay", id: 5, group: "TEAM" }), [
    { kind: "connection", id: SOPHIA },
    { kind: "group", key: "team", except: "sophia" },
  ]);
  // Addressed even were the room empty: who is in it is delivery's to know.
  assert.deepEqual(
    disconnectCore(state, JOJO, 11).map((out) => out.to),
    [{ kind: "room", except: "jojo" }],
  );
});

Deno.test("route create refuses a group name that looks like another creator's group, and lets a creator make look-alikes of their own", () => {
  const state = room();
  assert.deepEqual(send(state, SOPHIA, { t: "create", id: 1, group: "team" }), [
    ok(SOPHIA, 1, "SUCCESS: Group 'team' created and joined."),
  ]);
  assert.deepEqual(send(state, JOJO, { t: "create", id: 2, group: "tearn" }), [
    error(
      JOJO,
      2,
      "group_exists",
      "ERROR: The group name 'tearn' looks like 'team', a group someone else created; choose another name",
    ),
  ]);
  assert.equal(state.group("tearn"), undefined, "not created");
  // Only look-alikes: a name that shares letters is anyone's.
  assert.deepEqual(send(state, JOJO, { t: "create", id: 6, group: "team2" }), [
    ok(JOJO, 6, "SUCCESS: Group 'team2' created and joined."),
  ]);
  // Its creator may.
  assert.deepEqual(
    send(state, SOPHIA, { t: "create", id: 7, group: "tearn" }),
    [ok(SOPHIA, 7, "SUCCESS: Group 'tearn' created and joined.")],
  );
});

Deno.test("route create: groups that look alike already, from a store kept before the rule, both stay, and a third look-alike is refused", () => {
  const store = memoryStore("sophia", "jojo", "nana");
  store.createGroup("pool", "pool", "sophia", 0);
  store.createGroup("p0ol", "p0ol", "jojo", 0);
  const state = room({}, store);
  assert.ok(state.group("pool") !== undefined);
  assert.ok(state.group("p0ol") !== undefined);
  assert.equal(
    send(state, NANA, { t: "join", id: 1, group: "p0ol" })[0]?.message.t,
    "ok",
  );
  assert.deepEqual(send(state, NANA, { t: "create", id: 2, group: "po0l" }), [
    error(
      NANA,
      2,
      "group_exists",
      "ERROR: The group name 'po0l' looks like 'pool', a group someone else created; choose another name",
    ),
  ]);
});

Deno.test("route create refuses a group named like a user online here, the creator included, with name_taken", () => {
  const state = room();
  for (const [from, group] of [[JOJO, "sophia"], [SOPHIA, "SOPHIA"]] as const) {
    assert.deepEqual(send(state, from, { t: "create", id: 1, group }), [
      error(
        from,
        1,
        "name_taken",
        `ERROR: '${group}' is a user's name; choose another name for the group`,
      ),
    ]);
    assert.equal(state.group(group), undefined, "not created");
  }
  // Only the same name or a look-alike: a name that shares letters is free.
  assert.deepEqual(
    send(state, JOJO, { t: "create", id: 2, group: "sophia2" }),
    [
      ok(JOJO, 2, "SUCCESS: Group 'sophia2' created and joined."),
    ],
  );
});

Deno.test("route create refuses a group named like or looking like a user bound to a key, online or not, through the bindings' index", () => {
  const store = memoryStore("sophia", "jojo", "nana", "released");
  const bindings = new StoreBindings(store);
  bindings.bind("bob", "bob", "SHA256:bob");
  const state = new ServerState({}, store, (name) => bindings.lookalikes(name));
  connect(state, SOPHIA);
  route(
    state,
    SOPHIA,
    { t: "register", id: 0, name: "sophia", key: KEY },
    NONE,
    0,
  );
  for (const group of ["bob", "BOB"]) {
    assert.deepEqual(send(state, SOPHIA, { t: "create", id: 1, group }), [
      error(
        SOPHIA,
        1,
        "name_taken",
        `ERROR: '${group}' is a user's name; choose another name for the group`,
      ),
    ]);
  }
  assert.deepEqual(send(state, SOPHIA, { t: "create", id: 2, group: "b0b" }), [
    error(
      SOPHIA,
      2,
      "name_taken",
      "ERROR: 'b0b' looks like 'bob', a user's name; choose another name for the group",
    ),
  ]);
  assert.equal(state.group("b0b"), undefined, "not created");
  // A name known but bound to no key (released by the operator) and offline
  // is nobody's now.
  assert.deepEqual(
    send(state, SOPHIA, { t: "create", id: 3, group: "released" }),
    [ok(SOPHIA, 3, "SUCCESS: Group 'released' created and joined.")],
  );
});

Deno.test("route create refuses a group named like or looking like a user online on another node", () => {
  const state = room();
  state.remote.put("walter.n2", {
    name: "Walter",
    nameKey: "walter",
    node: "n2",
    connectedAt: 0,
    lastMessageAt: null,
    fingerprint: "SHA256:walter",
    away: null,
  });
  assert.deepEqual(send(state, JOJO, { t: "create", id: 1, group: "walter" }), [
    error(
      JOJO,
      1,
      "name_taken",
      "ERROR: 'walter' is a user's name; choose another name for the group",
    ),
  ]);
  assert.deepEqual(
    send(state, JOJO, { t: "create", id: 2, group: "vvalter" }),
    [
      error(
        JOJO,
        2,
        "name_taken",
        "ERROR: 'vvalter' looks like 'Walter', a user's name; choose another name for the group",
      ),
    ],
  );
});

Deno.test("route create and join: a group named like a user before the rule stays, is joined and used as before, and is refused as existing", () => {
  const store = memoryStore("sophia", "jojo", "nana");
  store.createGroup("nana", "nana", "sophia", 0);
  store.addMember("nana", "sophia", "sophia", 0);
  const state = room({}, store);
  assert.deepEqual(send(state, JOJO, { t: "join", id: 1, group: "nana" }), [
    ok(JOJO, 1, "SUCCESS: Joined group 'nana'."),
    {
      to: [SOPHIA],
      message: { t: "membership", group: "nana", name: "jojo", joined: true },
    },
  ]);
  assert.deepEqual(send(state, NANA, { t: "create", id: 2, group: "nana" }), [
    error(NANA, 2, "group_exists", "ERROR: Group 'nana' already exists."),
  ]);
});

Deno.test("route groups marks the groups the requester is in with joined, and only those", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "haha" });
  send(state, SOPHIA, { t: "create", id: 2, group: "lab" });
  send(state, JOJO, { t: "join", id: 1, group: "lab" });
  assert.deepEqual(send(state, JOJO, { t: "groups", id: 2 }), [{
    to: [JOJO],
    message: {
      t: "groups",
      re: 2,
      groups: [
        { name: "haha", members: 1 },
        { name: "lab", members: 2, joined: true },
      ],
    },
  }]);
  send(state, JOJO, { t: "leave", id: 3, group: "lab" });
  assert.deepEqual(send(state, JOJO, { t: "groups", id: 4 }), [{
    to: [JOJO],
    message: {
      t: "groups",
      re: 4,
      groups: [{ name: "haha", members: 1 }, { name: "lab", members: 1 }],
    },
  }]);
});

Deno.test("route members answers within one header when 20 groups of 200 online members with long names would not fit", () => {
  const state = new ServerState({}, memoryStore());
  const names = Array.from(
    { length: MAX_MEMBERS_SHOWN },
    (_, n) => `member${String(n).padStart(3, "0")}`.padEnd(32, "x"),
  );
  names.forEach((name, n) => {
    connect(state, n + 1);
    send(state, n + 1, { t: "register", id: 1, name, key: KEY });
  });
  for (let g = 0; g < MAX_GROUPS_SHOWN; g++) {
    const group = state.createGroup(`group${g}`, names[0]!, 1000);
    for (const name of names) state.addMember(group, name, 1000);
  }
  const [answer] = send(state, 1, { t: "members", id: 7 });
  assert.ok(answer !== undefined && answer.message.t === "members");
  const header = encoder.encode(JSON.stringify(answer.message)).byteLength;
  assert.ok(header <= MAX_HEADER_BYTES, `${header} bytes of header`);
  const listed = answer.message.groups.length;
  assert.ok(listed > 0 && listed < MAX_GROUPS_SHOWN, `${listed} groups`);
  assert.equal(answer.message.more, MAX_GROUPS_SHOWN - listed);
});
