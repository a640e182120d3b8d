import assert from "node:assert/strict";
import {
  COMMANDS,
  completeInput,
  findCommand,
  HELP_COLUMNS,
  helpText,
  parseInput,
  terminalHelp,
} from "../../src/client/commands.ts";
import { NAME_RULE } from "../../src/protocol/limits.ts";

/** The server's refusal word for word (router_test.ts): one text for both. */
const TOO_LONG =
  "ERROR: Message is too long (the limit is 4000 characters, or 16000 bytes of UTF-8)";

Deno.test("parseInput returns null for an empty or blank line", () => {
  assert.equal(parseInput(""), null);
  assert.equal(parseInput("   \t "), null);
});

Deno.test("parseInput makes plain text a public message kept as typed", () => {
  assert.deepEqual(parseInput("hi"), { kind: "say", text: "hi" });
  assert.deepEqual(parseInput("  hi there "), {
    kind: "say",
    text: "  hi there ",
  });
  assert.deepEqual(parseInput("中文 👋"), { kind: "say", text: "中文 👋" });
});

Deno.test("parseInput sends a line starting with // with one slash removed", () => {
  assert.deepEqual(parseInput("//msg is a command"), {
    kind: "say",
    text: "/msg is a command",
  });
  assert.deepEqual(parseInput("//"), { kind: "say", text: "/" });
});

Deno.test("parseInput treats a command after leading blanks as a command", () => {
  assert.deepEqual(parseInput("  /msg jojo secret"), {
    kind: "msg",
    to: "jojo",
    text: "secret",
  });
});

Deno.test("parseInput rejects a public message over the limit", () => {
  assert.deepEqual(parseInput("a".repeat(4000)), {
    kind: "say",
    text: "a".repeat(4000),
  });
  assert.deepEqual(parseInput("a".repeat(4001)), {
    kind: "invalid",
    message: TOO_LONG,
    tooLong: true,
  });
});

Deno.test("parseInput parses /msg", () => {
  assert.deepEqual(parseInput("/msg jojo How are you?"), {
    kind: "msg",
    to: "jojo",
    text: "How are you?",
  });
  assert.deepEqual(parseInput("/msg   jojo   two  spaces"), {
    kind: "msg",
    to: "jojo",
    text: "two  spaces",
  });
});

Deno.test("parseInput shows the usage line for a wrong format", () => {
  for (
    const [line, usage] of [
      ["/msg", "/msg <username> <message>"],
      ["/msg jojo", "/msg <username> <message>"],
      ["/msg jojo   ", "/msg <username> <message>"],
      ["/group", "/group <groupname> <message>"],
      ["/group haha", "/group <groupname> <message>"],
      ["/file jojo", "/file <username> <filename>"],
      ['/file jojo ""', "/file <username> <filename>"],
      ["/groupfile haha", "/groupfile <groupname> <filename>"],
      ["/list all", "/list"],
      ["/showgroups x", "/showgroups"],
      ["/create", "/create <groupname>"],
      ["/create a b", "/create <groupname>"],
      ["/join", "/join <groupname>"],
      ["/leave", "/leave <groupname>"],
      ["/showgroupmembers a b", "/showgroupmembers [groupname]"],
      ["/help msg list", "/help [command]"],
      ["/quit now", "/quit"],
    ]
  ) {
    assert.deepEqual(parseInput(line!), {
      kind: "invalid",
      message: `Usage: ${usage}`,
    }, line);
  }
});

Deno.test("parseInput parses /group", () => {
  assert.deepEqual(parseInput("/group haha Hello there!"), {
    kind: "gsay",
    group: "haha",
    text: "Hello there!",
  });
});

Deno.test("parseInput rejects a private or group message over the limit", () => {
  const long = "x".repeat(4001);
  assert.deepEqual(parseInput(`/msg jojo ${long}`), {
    kind: "invalid",
    message: TOO_LONG,
    tooLong: true,
  });
  assert.deepEqual(parseInput(`/group haha ${long}`), {
    kind: "invalid",
    message: TOO_LONG,
    tooLong: true,
  });
});

Deno.test("parseInput parses /file with a path that contains spaces", () => {
  assert.deepEqual(parseInput("/file jojo example.txt"), {
    kind: "file",
    to: "jojo",
    path: "example.txt",
  });
  assert.deepEqual(parseInput("/file jojo my notes/a b.txt  "), {
    kind: "file",
    to: "jojo",
    path: "my notes/a b.txt",
  });
  assert.deepEqual(parseInput('/file jojo "my file.txt"'), {
    kind: "file",
    to: "jojo",
    path: "my file.txt",
  });
  assert.deepEqual(parseInput("/file jojo 'it''s.txt'"), {
    kind: "file",
    to: "jojo",
    path: "it''s.txt",
  });
  assert.deepEqual(parseInput('/file jojo "half.txt'), {
    kind: "file",
    to: "jojo",
    path: '"half.txt',
  });
});

Deno.test("parseInput parses /groupfile", () => {
  assert.deepEqual(parseInput("/groupfile haha 'C:\\My Files\\file.txt'"), {
    kind: "groupfile",
    group: "haha",
    path: "C:\\My Files\\file.txt",
  });
});

Deno.test("parseInput parses commands without arguments", () => {
  assert.deepEqual(parseInput("/list"), { kind: "list" });
  assert.deepEqual(parseInput("/showgroups"), { kind: "groups" });
  assert.deepEqual(parseInput("/quit"), { kind: "quit" });
  assert.deepEqual(parseInput("/list  "), { kind: "list" });
});

Deno.test("parseInput parses group commands", () => {
  assert.deepEqual(parseInput("/create haha"), {
    kind: "create",
    group: "haha",
  });
  assert.deepEqual(parseInput("/join haha "), { kind: "join", group: "haha" });
  assert.deepEqual(parseInput("/leave haha"), { kind: "leave", group: "haha" });
});

Deno.test("parseInput parses /showgroupmembers with and without a group", () => {
  const all = parseInput("/showgroupmembers");
  assert.deepEqual(all, { kind: "members" });
  assert.ok(all !== null && !("group" in all));
  assert.deepEqual(parseInput("/showgroupmembers haha"), {
    kind: "members",
    group: "haha",
  });
});

Deno.test("parseInput parses /help with and without a topic", () => {
  const all = parseInput("/help");
  assert.deepEqual(all, { kind: "help" });
  assert.ok(all !== null && !("topic" in all));
  assert.deepEqual(parseInput("/help msg"), { kind: "help", topic: "msg" });
});

Deno.test("parseInput ignores the case of command names but not of names", () => {
  assert.deepEqual(parseInput("/MSG JoJo Hi"), {
    kind: "msg",
    to: "JoJo",
    text: "Hi",
  });
  assert.deepEqual(parseInput("/ShowGroups"), { kind: "groups" });
  assert.deepEqual(parseInput("/QUIT"), { kind: "quit" });
});

Deno.test("parseInput quits on a plain quit in any case", () => {
  assert.deepEqual(parseInput("quit"), { kind: "quit" });
  assert.deepEqual(parseInput("  QuIt \t"), { kind: "quit" });
  assert.deepEqual(parseInput("quit now"), { kind: "say", text: "quit now" });
});

Deno.test("parseInput rejects invalid user and group names", () => {
  assert.deepEqual(parseInput("/msg jo\x1b[2Jjo hi"), {
    kind: "invalid",
    message: `ERROR: Invalid username 'jo^[[2Jjo': ${NAME_RULE}`,
  });
  assert.deepEqual(parseInput("/msg josé hi"), {
    kind: "invalid",
    message: `ERROR: Invalid username 'josé': ${NAME_RULE}`,
  });
  assert.deepEqual(parseInput("/file jo\u202Ejo a.txt"), {
    kind: "invalid",
    message: `ERROR: Invalid username 'jo<U+202E>jo': ${NAME_RULE}`,
  });
  assert.deepEqual(parseInput(`/msg ${"a".repeat(33)} hi`), {
    kind: "invalid",
    message: `ERROR: Invalid username '${"a".repeat(33)}': ${NAME_RULE}`,
  });
  for (
    const line of [
      "/group 中文 hi",
      "/groupfile g/h a.txt",
      "/create ha\u200Bha",
      "/join ha\x07ha",
      "/leave ha!",
      "/showgroupmembers ha,ha",
    ]
  ) {
    const command = parseInput(line);
    assert.equal(command?.kind, "invalid", line);
    assert.ok(
      command.kind === "invalid" &&
        command.message.startsWith("ERROR: Invalid group name '") &&
        command.message.endsWith(`': ${NAME_RULE}`),
      line,
    );
  }
});

Deno.test("parseInput reports an unknown command with its name made safe", () => {
  assert.deepEqual(parseInput("/foo bar"), {
    kind: "invalid",
    message:
      "ERROR: Unknown command '/foo'. Type /help for the list of commands",
  });
  assert.deepEqual(parseInput("/\x1b]0;x\x07"), {
    kind: "invalid",
    message:
      "ERROR: Unknown command '/^[]0;x^G'. Type /help for the list of commands",
  });
  assert.deepEqual(parseInput("/"), {
    kind: "invalid",
    message: "ERROR: Unknown command '/'. Type /help for the list of commands",
  });
});

Deno.test("COMMANDS lists every command with a usage and a summary", () => {
  assert.deepEqual(COMMANDS.map((c) => c.name), [
    "/msg",
    "/group",
    "/file",
    "/groupfile",
    "/query",
    "/me",
    "/away",
    "/ignore",
    "/unignore",
    "/verify",
    "/trust",
    "/transfers",
    "/cancel",
    "/list",
    "/showgroups",
    "/create",
    "/join",
    "/leave",
    "/showgroupmembers",
    "/history",
    "/help",
    "/quit",
  ]);
  for (const command of COMMANDS) {
    assert.ok(command.usage.startsWith(command.name));
    assert.notEqual(command.summary, "");
  }
  assert.equal(findCommand("MSG")?.name, "/msg");
  assert.equal(findCommand("/nope"), undefined);
});

Deno.test("helpText lists every command", () => {
  const lines = helpText();
  // A summary's rows after the first are indented: joined, they read whole.
  const text = lines.join("\n").replace(/\n {3,}/g, " ");
  for (const command of COMMANDS) {
    assert.ok(
      text.split("\n").some((line) =>
        line.includes(command.usage) && line.includes(command.summary)
      ),
      command.name,
    );
  }
  assert.deepEqual(helpText(""), lines);
});

// Seen at 80 columns: "/query ... user or group; /q" and "uery alone returns
// ..." on the next row, the terminal cutting the help's long rows anywhere.
Deno.test("helpText fits 80 columns, long summaries cut at spaces under their column", () => {
  const every = [
    helpText(),
    ...COMMANDS.map((command) => helpText(command.name)),
  ];
  for (const lines of every) {
    for (const line of lines) {
      assert.ok(line.length <= HELP_COLUMNS, line);
    }
  }
  const lines = helpText();
  const query = lines.findIndex((line) => line.includes("/query ["));
  const column = lines[query]!.indexOf("Send plain lines");
  assert.ok(lines[query]!.endsWith("user or group;"), lines[query]);
  assert.equal(
    lines[query + 1],
    " ".repeat(column) + "/query alone returns to the public room",
  );
  assert.deepEqual(helpText("away"), [
    "Usage: /away [reason]",
    "  Mark yourself away (shown in /list, told to whoever messages you); /away",
    "  alone: back",
  ]);
});

// Seen at 80x24: /help was 42 rows, its start scrolled off the screen.
Deno.test("terminalHelp fits an 80x24 screen with the line that asked and the prompt, and names every command", () => {
  const lines = terminalHelp();
  assert.ok(lines.length <= 22, `${lines.length} rows`);
  for (const line of lines) assert.ok(line.length <= HELP_COLUMNS, line);
  const text = lines.join("\n");
  for (const command of COMMANDS) {
    assert.ok(text.includes(command.usage), command.name);
  }
  assert.equal(lines[0], helpText()[0]);
  assert.ok(text.includes("/help COMMAND"), text);
  assert.deepEqual(terminalHelp("trust"), helpText("trust"));
  // Too narrow for two columns: one usage a row.
  const narrow = terminalHelp(undefined, 60);
  for (const command of COMMANDS) {
    assert.ok(narrow.includes(`  ${command.usage}`), command.name);
  }
});

Deno.test("terminalHelp's intro: rows of at most 75 from 79 columns up (as the README shows), else cut at the width", () => {
  const wide = [
    "Type a message and press Enter to send it to everyone, or to the user or",
    "group chosen with /query. Start it with // to send a message that begins",
    "with /.",
    "Private messages (/msg), group messages and files are end-to-end encrypted:",
    "the server cannot read them. The public room is not: the server's host can",
    "read it.",
  ];
  assert.deepEqual(terminalHelp(undefined, HELP_COLUMNS).slice(0, 6), wide);
  assert.deepEqual(terminalHelp(undefined, 200).slice(0, 6), wide);
  assert.equal(
    terminalHelp(undefined, 78)[0],
    "Type a message and press Enter to send it to everyone, or to the user or group",
  );
  const narrow = terminalHelp(undefined, 40);
  assert.equal(narrow[0], "Type a message and press Enter to send");
  for (const row of narrow.slice(0, 8)) assert.ok(row.length <= 40, row);
});

Deno.test("helpText explains one command given with or without a slash", () => {
  const expected = [
    "Usage: /msg <username> <message>",
    "  Send a private message",
  ];
  assert.deepEqual(helpText("msg"), expected);
  assert.deepEqual(helpText("/MSG"), expected);
  assert.deepEqual(helpText("nope\x1b"), [
    "ERROR: Unknown command '/nope^['. Type /help for the list of commands",
  ]);
});

Deno.test("helpText says a command otherwise where told to (the web page's /file)", () => {
  const summaries = { "/file": "The File… button", "/nope": "never shown" };
  assert.deepEqual(helpText("file", summaries), [
    "Usage: /file <username> <filename>",
    "  The File… button",
  ]);
  const lines = helpText(undefined, summaries);
  assert.ok(
    lines.some((line) =>
      /^ {2}\/file <username> <filename> +The File… button$/.test(line)
    ),
  );
  // The others as ever, and a name that is no command adds nothing.
  assert.deepEqual(
    lines.filter((line) => !line.includes("/file ")),
    helpText().filter((line) => !line.includes("/file ")),
  );
  assert.deepEqual(helpText("msg", summaries), helpText("msg"));
});

const ctx = {
  users: ["sophia", "jojo", "Jack", "nana"],
  groups: ["haha", "team"],
};

Deno.test("completeInput completes command names", () => {
  assert.deepEqual(completeInput("/sh", ctx), [
    ["/showgroups", "/showgroupmembers"],
    "/sh",
  ]);
  assert.deepEqual(completeInput("/gr", ctx), [
    ["/group", "/groupfile"],
    "/gr",
  ]);
  assert.deepEqual(completeInput("/Ms", ctx), [["/msg "], "/Ms"]);
  assert.deepEqual(completeInput("/zz", ctx), [[], "/zz"]);
  assert.equal(completeInput("/", ctx)[0].length, COMMANDS.length);
});

Deno.test("completeInput completes user names for /msg and /file", () => {
  assert.deepEqual(completeInput("/msg j", ctx), [["Jack", "jojo"], "j"]);
  assert.deepEqual(completeInput("/msg JO", ctx), [["jojo "], "JO"]);
  assert.deepEqual(completeInput("/file s", ctx), [["sophia "], "s"]);
  assert.deepEqual(completeInput("/msg ", ctx), [
    ["Jack", "jojo", "nana", "sophia"],
    "",
  ]);
});

Deno.test("completeInput offers names in natural order", () => {
  const bots = { users: ["bot10", "bot2", "bot1"], groups: ["g10", "g9"] };
  assert.deepEqual(completeInput("/msg bot", bots), [
    ["bot1", "bot2", "bot10"],
    "bot",
  ]);
  assert.deepEqual(completeInput("/join g", bots), [["g9", "g10"], "g"]);
});

Deno.test("completeInput completes group names for group commands", () => {
  for (
    const command of [
      "/group",
      "/join",
      "/leave",
      "/showgroupmembers",
      "/groupfile",
    ]
  ) {
    assert.deepEqual(completeInput(`${command} h`, ctx), [["haha "], "h"]);
  }
  assert.deepEqual(completeInput("/create h", ctx), [[], "h"]);
});

Deno.test("completeInput completes command names after /help", () => {
  assert.deepEqual(completeInput("/help li", ctx), [["list "], "li"]);
  assert.deepEqual(completeInput("/help /li", ctx), [["/list "], "/li"]);
});

Deno.test("completeInput offers nothing for message text or plain lines", () => {
  assert.deepEqual(completeInput("/msg jojo he", ctx), [[], ""]);
  assert.deepEqual(completeInput("hello j", ctx), [[], ""]);
  assert.deepEqual(completeInput("//ms", ctx), [[], ""]);
  assert.deepEqual(completeInput("/list x", ctx), [[], "x"]);
  assert.deepEqual(completeInput("/nope x", ctx), [[], "x"]);
});

Deno.test("parseInput reads /history with an optional target and count in either order", () => {
  assert.deepEqual(parseInput("/history"), { kind: "history" });
  assert.deepEqual(parseInput("/history haha"), {
    kind: "history",
    target: "haha",
  });
  assert.deepEqual(parseInput("/history 50"), { kind: "history", limit: 50 });
  assert.deepEqual(parseInput("/history jojo 5"), {
    kind: "history",
    target: "jojo",
    limit: 5,
  });
  assert.deepEqual(parseInput("/history 5 jojo"), {
    kind: "history",
    target: "jojo",
    limit: 5,
  });
  assert.equal(parseInput("/history a b c")?.kind, "invalid");
  assert.equal(parseInput("/history 0")?.kind, "invalid");
  assert.equal(parseInput("/history bad\u001bname")?.kind, "invalid");
});

Deno.test("parseInput reads /query, /me, /away, /ignore and /unignore", () => {
  assert.deepEqual(parseInput("/query #haha"), {
    kind: "query",
    conversation: { kind: "group", name: "haha" },
  });
  assert.deepEqual(parseInput("/QUERY jojo"), {
    kind: "query",
    conversation: { kind: "user", name: "jojo" },
  });
  assert.deepEqual(parseInput("/query"), {
    kind: "query",
    conversation: { kind: "public" },
  });
  assert.deepEqual(parseInput("/query a b"), {
    kind: "invalid",
    message: "Usage: /query [username|#groupname]",
  });
  assert.deepEqual(parseInput("/me waves  "), { kind: "me", text: "waves" });
  assert.deepEqual(parseInput("/me"), {
    kind: "invalid",
    message: "Usage: /me <action>",
  });
  assert.deepEqual(parseInput("/away  lunch, back at 2 "), {
    kind: "away",
    reason: "lunch, back at 2",
  });
  assert.deepEqual(parseInput("/away"), { kind: "away" });
  assert.match(
    (parseInput("/away " + "x".repeat(201)) as { message: string }).message,
    /Away reason too long/,
  );
  assert.deepEqual(parseInput("/ignore"), { kind: "ignore" });
  assert.deepEqual(parseInput("/ignore jojo"), {
    kind: "ignore",
    name: "jojo",
  });
  assert.deepEqual(parseInput("/unignore jojo"), {
    kind: "unignore",
    name: "jojo",
  });
  assert.equal(parseInput("/unignore")?.kind, "invalid");
});

Deno.test("parseInput suggests the closest command for a typo", () => {
  assert.deepEqual(parseInput("/mgs jojo hi"), {
    kind: "invalid",
    message:
      "ERROR: Unknown command '/mgs'. Did you mean /msg? Type /help for the list of commands",
  });
  assert.deepEqual(parseInput("/frobnicate"), {
    kind: "invalid",
    message:
      "ERROR: Unknown command '/frobnicate'. Type /help for the list of commands",
  });
});

Deno.test("parseInput points other chat programs' commands at ours: /names at /list, /whois at /verify, /back at /away alone", () => {
  const told = (line: string) => {
    const command = parseInput(line);
    return command?.kind === "invalid" ? command.message : command?.kind;
  };
  assert.equal(
    told("/names"),
    "ERROR: Unknown command '/names'. Did you mean /list? Type /help for the list of commands",
  );
  assert.equal(
    told("/WHOIS jojo"),
    "ERROR: Unknown command '/WHOIS'. Did you mean /verify? Type /help for the list of commands",
  );
  assert.equal(
    told("/back"),
    "ERROR: Unknown command '/back'. Did you mean /away (alone, it marks you back)? Type /help for the list of commands",
  );
  assert.match(told("/part haha") ?? "", /Did you mean \/leave\?/);
  assert.match(told("/w jojo hi") ?? "", /Did you mean \/msg\?/);
  // /help of such a name says the same.
  assert.deepEqual(helpText("names"), [
    "ERROR: Unknown command '/names'. Did you mean /list? Type /help for the list of commands",
  ]);
  // Each points at a command there is.
  for (const line of ["/who", "/exit", "/groups", "/members", "/commands"]) {
    const meant = /Did you mean (\/\w+)/.exec(told(line) ?? "")?.[1];
    assert.ok(meant !== undefined && findCommand(meant) !== undefined, line);
  }
});

Deno.test("parseInput reads /trust NAME and /verify NAME with or without a 60-digit number", () => {
  const digits = "12345".repeat(12);
  assert.deepEqual(parseInput("/trust bob"), { kind: "trust", name: "bob" });
  assert.deepEqual(parseInput("/verify bob"), { kind: "verify", name: "bob" });
  assert.deepEqual(
    parseInput(`/verify bob ${digits.match(/.{5}/g)!.join(" ")}`),
    { kind: "verify", name: "bob", number: digits },
  );
  assert.deepEqual(parseInput(`/verify bob ${digits}`), {
    kind: "verify",
    name: "bob",
    number: digits,
  });
  assert.equal(parseInput("/verify bob 12345")?.kind, "invalid");
  assert.equal(parseInput("/trust")?.kind, "invalid");
  assert.equal(parseInput("/verify")?.kind, "invalid");
});

// Since aebe97b /ignore hides the ignored user's comings and goings too
// ('*** mallory joined the chat ***'); /help said only "messages".
Deno.test("helpText ignore says it hides comings and goings too", () => {
  assert.deepEqual(helpText("ignore"), [
    "Usage: /ignore [username]",
    "  Hide a user's messages and comings and goings (by their key); /ignore alone",
    "  lists them",
  ]);
});
