import assert from "node:assert/strict";
import { parseJsonInput } from "../../src/client/json_input.ts";

Deno.test("parseJsonInput reads each JSON command into the Command a typed line gives", () => {
  const cases: [string, unknown][] = [
    ['{"cmd":"send","text":"hi all"}', { kind: "say", text: "hi all" }],
    ['{"cmd":"msg","to":"jojo","text":"hi"}', {
      kind: "msg",
      to: "jojo",
      text: "hi",
    }],
    ['{"cmd":"group","group":"haha","text":"x"}', {
      kind: "gsay",
      group: "haha",
      text: "x",
    }],
    ['{"cmd":"file","to":"jojo","path":"a b.txt"}', {
      kind: "file",
      to: "jojo",
      path: "a b.txt",
    }],
    ['{"cmd":"groupfile","group":"haha","path":"a"}', {
      kind: "groupfile",
      group: "haha",
      path: "a",
    }],
    ['{"cmd":"list"}', { kind: "list" }],
    ['{"cmd":"groups"}', { kind: "groups" }],
    ['{"cmd":"create","group":"g"}', { kind: "create", group: "g" }],
    ['{"cmd":"join","group":"g"}', { kind: "join", group: "g" }],
    ['{"cmd":"leave","group":"g"}', { kind: "leave", group: "g" }],
    ['{"cmd":"members"}', { kind: "members" }],
    ['{"cmd":"members","group":"g"}', { kind: "members", group: "g" }],
    ['{"cmd":"history","target":"g","limit":5}', {
      kind: "history",
      target: "g",
      limit: 5,
    }],
    ['{"cmd":"help","topic":"msg"}', { kind: "help", topic: "msg" }],
    ['{"cmd":"quit"}', { kind: "quit" }],
  ];
  for (const [line, command] of cases) {
    assert.deepEqual(
      parseJsonInput(line),
      { kind: "command", command, id: null },
      line,
    );
  }
});

Deno.test("parseJsonInput keeps the id to echo as re, and reads answers to offers", () => {
  assert.deepEqual(parseJsonInput('{"cmd":"list","id":"q1"}'), {
    kind: "command",
    command: { kind: "list" },
    id: "q1",
  });
  assert.deepEqual(parseJsonInput('{"cmd":"accept","xfer":7,"id":3}'), {
    kind: "answer",
    xfer: 7,
    accept: true,
    id: 3,
  });
  assert.deepEqual(parseJsonInput('{"cmd":"decline","xfer":7}'), {
    kind: "answer",
    xfer: 7,
    accept: false,
    id: null,
  });
});

Deno.test("parseJsonInput reads a line that is not JSON as typed, and a blank one as nothing", () => {
  assert.deepEqual(parseJsonInput("/msg jojo hi"), {
    kind: "command",
    command: { kind: "msg", to: "jojo", text: "hi" },
    id: null,
  });
  assert.deepEqual(parseJsonInput("hello"), {
    kind: "command",
    command: { kind: "say", text: "hello" },
    id: null,
  });
  assert.equal(parseJsonInput("   "), null);
});

Deno.test("parseJsonInput explains bad JSON, unknown commands and bad fields, keeping the id", () => {
  const bad: [string, RegExp][] = [
    ["{nope", /^ERROR: Bad JSON: /],
    ["{}", /^ERROR: Unknown command undefined; "cmd" is one of send, msg/],
    ['{"cmd":"msg","to":"jojo"}', /needs "text", a string/],
    ['{"cmd":"msg","to":"a b","text":"x"}', /Invalid username 'a b'/],
    ['{"cmd":"send","text":"   "}', /text is empty/],
    [
      '{"cmd":"send","text":"' + "x".repeat(5000) + '"}',
      /^ERROR: Message is too long \(the limit is 4000 characters, or 16000 bytes of UTF-8\)$/,
    ],
    ['{"cmd":"history","limit":0}', /"limit" must be a number from 1 to/],
    ['{"cmd":"accept","xfer":"7"}', /needs "xfer"/],
    ['{"cmd":"list","id":{"a":1}}', /'id' must be a number or a string/],
  ];
  for (const [line, pattern] of bad) {
    const action = parseJsonInput(line);
    assert.equal(action?.kind, "invalid", line);
    assert.match(
      action?.kind === "invalid" ? action.message : "",
      pattern,
      line,
    );
  }
  assert.deepEqual(parseJsonInput('{"cmd":"bogus","id":9}')?.id, 9);
});

Deno.test("parseJsonInput reads transfers, cancel and away as /transfers, /cancel N and /away give them", () => {
  const same: [string, string][] = [
    ['{"cmd":"transfers"}', "/transfers"],
    ['{"cmd":"cancel","number":3}', "/cancel 3"],
    ['{"cmd":"away","reason":"lunch"}', "/away lunch"],
    ['{"cmd":"away"}', "/away"],
  ];
  for (const [json, typed] of same) {
    const fromJson = parseJsonInput(json);
    const fromLine = parseJsonInput(typed);
    assert.ok(fromJson !== null && fromJson.kind === "command", json);
    assert.ok(fromLine !== null && fromLine.kind === "command", typed);
    assert.deepEqual(fromJson.command, fromLine.command, json);
  }
  for (
    const bad of [
      '{"cmd":"cancel"}',
      '{"cmd":"cancel","number":0}',
      '{"cmd":"cancel","number":"2"}',
      '{"cmd":"away","reason":7}',
      `{"cmd":"away","reason":"${"x".repeat(201)}"}`,
    ]
  ) {
    assert.equal(parseJsonInput(bad)?.kind, "invalid", bad);
  }
});

Deno.test("parseJsonInput refuses a field its command does not take, naming the ones it does", () => {
  assert.deepEqual(parseJsonInput('{"cmd":"history","n":2,"id":"h"}'), {
    kind: "invalid",
    message:
      `ERROR: 'history' has no field "n"; its fields are "target", "limit"`,
    id: "h",
  });
  assert.deepEqual(parseJsonInput('{"cmd":"list","group":"g"}'), {
    kind: "invalid",
    message: `ERROR: 'list' has no field "group"; it takes none`,
    id: null,
  });
  const long = "k".repeat(500);
  const refused = parseJsonInput(`{"cmd":"send","text":"x","${long}":1}`);
  assert.ok(refused?.kind === "invalid");
  assert.ok(refused.message.length < 120, refused.message);
  // cmd and id go with every command; an unknown command is refused as such.
  assert.equal(
    parseJsonInput('{"cmd":"history","limit":2,"id":1}')?.kind,
    "command",
  );
  const bogus = parseJsonInput('{"cmd":"bogus","n":2}');
  assert.ok(bogus?.kind === "invalid");
  assert.match(bogus.message, /Unknown command "bogus"/);
});
