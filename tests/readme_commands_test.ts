/**
 * README's command table and /help (COMMANDS) write each command's
 * arguments alike: a reader moving between them meets one spelling.
 */

import assert from "node:assert/strict";
import { COMMANDS } from "../src/client/commands.ts";

Deno.test("README's command table writes each command's usage as /help does", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const rows = [...readme.matchAll(/^\| `(\/[a-z]+[^`]*)` +\|/gm)].map((m) =>
    m[1]!.replaceAll("\\|", "|")
  );
  const checked: string[] = [];
  for (const usage of rows) {
    const name = usage.split(" ")[0]!;
    const command = COMMANDS.find((c) => c.name === name);
    if (command === undefined) continue;
    checked.push(name);
    assert.equal(usage, command.usage, `README's row for ${name}`);
  }
  // The table is found: most commands have a row.
  assert.ok(checked.length >= COMMANDS.length / 2, checked.join(" "));
});
