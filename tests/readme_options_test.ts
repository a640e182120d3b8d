import assert from "node:assert/strict";
import { parseCommandLine } from "../src/cli.ts";

const README = await Deno.readTextFile(
  new URL("../README.md", import.meta.url),
);

/** The long options `chat <args> --help` lists, without -h/--help. */
function helpOptions(...args: string[]): Set<string> {
  const command = parseCommandLine([...args, "--help"]);
  assert.equal(command.cmd, "exit");
  if (command.cmd !== "exit") return new Set();
  const options = new Set<string>();
  for (const match of command.output.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)) {
    if (match[1] !== "--help") options.add(match[1]!);
  }
  return options;
}

/** The README's section under `heading`, up to the next heading of its level. */
function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `README.md has ${heading}`);
  const level = heading.split(" ")[0]!;
  const end = README.indexOf(`\n${level} `, start + heading.length + 2);
  return README.slice(start, end === -1 ? undefined : end);
}

/** Whether `text` names `option` (not just a longer option it begins). */
function names(text: string, option: string): boolean {
  return new RegExp(`${option}(?![\\w-])`).test(text);
}

/** The options the first column of a section's option table names. */
function tableOptions(text: string): Set<string> {
  const options = new Set<string>();
  // An escaped bar (`--sync full\|normal`) is inside the cell.
  const rows = text.replaceAll("\\|", "/");
  for (const row of rows.matchAll(/^\| (`--[^|]*?) +\|/gm)) {
    for (const option of row[1]!.matchAll(/`(--[\w-]+)/g)) {
      options.add(option[1]!);
    }
  }
  return options;
}

// A flag added to the program and not to the README (or dropped from the
// program and left in the README) is what a reader of either trips on.
Deno.test("chat serve --help and README.md's chat serve table list the same options", () => {
  const table = tableOptions(section("### `chat serve`"));
  assert.deepEqual([...table].sort(), [...helpOptions("serve")].sort());
});

Deno.test("chat connect --help and README.md's chat connect table list the same options", () => {
  const table = tableOptions(section("### `chat connect HOST`"));
  assert.deepEqual([...table].sort(), [...helpOptions("connect")].sort());
});

Deno.test("every option of chat keygen --help is in README.md's chat keygen section", () => {
  const text = section("### `chat keygen`");
  for (const option of helpOptions("keygen")) {
    assert.ok(names(text, option), `${option} is in the README`);
  }
});

Deno.test("every option of chat admin release --help is in README.md's chat admin section", () => {
  const text = section("### `chat admin release NAME`");
  for (const option of helpOptions("admin", "release")) {
    assert.ok(names(text, option), `${option} is in the README`);
  }
});

// The help once said room frames were slower for the server; measured, they
// save the server sealing and cost the members (README "Performance").
Deno.test("chat serve --help and README.md give the same trade-off for --room-frames", () => {
  const command = parseCommandLine(["serve", "--help"]);
  assert.equal(command.cmd, "exit");
  if (command.cmd !== "exit") return;
  const help = command.output.replace(/\s+/g, " ");
  assert.match(
    help,
    /--room-frames .*saves the server .* costs every member more to receive/,
  );
  const table = section("### `chat serve`").replace(/\s+/g, " ");
  assert.match(
    table,
    /`--room-frames` .*saves the server .* costs every member .* more to receive/,
  );
});

Deno.test("README.md shows chat --help as it is", () => {
  const command = parseCommandLine(["--help"]);
  assert.equal(command.cmd, "exit");
  if (command.cmd !== "exit") return;
  const shown = /\$ chat --help\n([\s\S]*?)```/.exec(README);
  assert.ok(shown, "README.md shows chat --help");
  assert.equal(shown[1], command.output);
});

// The help once said --open-with opened "received files" and --no-open did
// not say what is opened by default: a newcomer took --open-with for a way to
// open any file (a .zip, a program). Both open only the passive kinds.
Deno.test("chat connect --help and README.md say --open-with opens only the kinds chat opens, in a script too", () => {
  const command = parseCommandLine(["connect", "--help"]);
  assert.equal(command.cmd, "exit");
  if (command.cmd !== "exit") return;
  const help = command.output.replace(/\s+/g, " ");
  assert.match(
    help,
    /--open-with <command> open the received files chat opens \(images, audio, video, PDF, plain text\) .* in a script too/,
  );
  assert.match(
    help,
    /--no-open never open received files \(by default, on a terminal, images/,
  );
  const table = section("### `chat connect HOST`").replace(/\s+/g, " ");
  assert.match(
    table,
    /`--open-with CMD` \| open the files chat opens .* in a script too/,
  );
});

/** The options the "set with" column (the last) of a table names. */
function setWithOptions(text: string): Set<string> {
  const options = new Set<string>();
  for (const row of text.matchAll(/^\|.*\| ([^|]*?) *\|$/gm)) {
    for (const option of row[1]!.matchAll(/`(--[\w-]+)/g)) {
      options.add(option[1]!);
    }
  }
  return options;
}

// The serve table sends readers to "Limits" for these; the new-name and
// sign-in rates were said there only in prose, not in its table.
Deno.test("every chat serve option README's table sends to Limits is in the Limits table", () => {
  const serve = section("### `chat serve`").replaceAll("\\|", "/");
  const limits = setWithOptions(section("### Limits"));
  for (const row of serve.matchAll(/^\| (`--[^|]*?) +\|(.*)\|$/gm)) {
    if (!/see Limits/.test(row[2]!)) continue;
    for (const option of row[1]!.matchAll(/`(--[\w-]+)/g)) {
      assert.ok(limits.has(option[1]!), `${option[1]} is in the Limits table`);
    }
  }
});
