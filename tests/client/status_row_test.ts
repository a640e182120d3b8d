import assert from "node:assert/strict";
import { type FileProgress, StatusRow } from "../../src/client/status_row.ts";
import { typist } from "../_helpers/typist.ts";

const MIB = 1024 * 1024;

function progress(bytes: number): FileProgress {
  return {
    type: "file_progress",
    direction: "in",
    name: "holiday-in-spain.mov",
    peer: "jojo",
    bytes,
    size: 8 * MIB,
    elapsedMs: 4000,
    fromBytes: 0,
    xfer: 1,
  };
}

/** A person's terminal whose status row the test can wait on. */
function watched() {
  const terminal = typist();
  const rows: string[] = [];
  let wake = () => {};
  terminal.setStatus = (row) => {
    if (row !== null) rows.push(row);
    wake();
  };
  const until = async (done: (row: string) => boolean) => {
    while (rows.length === 0 || !done(rows.at(-1)!)) {
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return rows.at(-1)!;
  };
  return { terminal, rows, until };
}

Deno.test("StatusRow draws the last progress of a burst once its interval is over, not an older figure", async () => {
  const { terminal, rows, until } = watched();
  const status = new StatusRow(terminal, false, () => {});
  status.showProgress("in:1", progress(1 * MIB));
  status.showProgress("in:1", progress(2 * MIB));
  status.showProgress("in:1", progress(3 * MIB));
  // The burst's first figure at once, and then (the transfer stalls: no
  // more come) its last, without waiting for another.
  assert.match(rows[0]!, /1\.0 MiB/);
  assert.match(await until((row) => /3\.0 MiB/.test(row)), /37%/);
  assert.equal(rows.length, 2);
  status.showProgress("in:1", null);
});

Deno.test("StatusRow forgets a held figure of a transfer that ended", () => {
  const { terminal, rows } = watched();
  const status = new StatusRow(terminal, false, () => {});
  status.showProgress("in:1", progress(1 * MIB));
  status.showProgress("in:1", progress(2 * MIB));
  status.showProgress("in:1", null);
  // Its timer is gone too: the test's sanitizer fails on one left running.
  assert.ok(!rows.some((row) => /2\.0 MiB/.test(row)), rows.join(" | "));
});

Deno.test("StatusRow fits its row to the new width when the window is resized", async () => {
  const { terminal, until } = watched();
  const status = new StatusRow(terminal, false, () => {});
  status.showProgress("in:1", progress(2 * MIB));
  const wide = await until(() => true);
  assert.match(wide, /holiday-in-spain\.mov from jojo/);
  terminal.resize(30);
  const narrow = await until((row) => row !== wide);
  assert.ok(narrow.length < 30, narrow);
  assert.match(narrow, /25% \d+s left$/);
  status.showProgress("in:1", null);
});

Deno.test("StatusRow measures a file name's emoji-presentation pairs as 2 columns each", async () => {
  const { terminal, until } = watched();
  terminal.resize(40);
  const status = new StatusRow(terminal, false, () => {});
  // ❤ alone is 1 column; with U+FE0F kitty and iTerm2 draw it 2 wide.
  status.showProgress("in:1", {
    ...progress(2 * MIB),
    name: `${"\u2764\ufe0f".repeat(20)}.jpg`,
  });
  const row = await until(() => true);
  // Counted here, not with the width measure under test.
  const pairs = row.split("\u2764\ufe0f");
  const columns = 2 * (pairs.length - 1) + [...pairs.join("")].length;
  assert.ok(columns < 40, `${columns} columns: ${row}`);
  status.showProgress("in:1", null);
});

Deno.test("StatusRow cuts a long file name between graphemes, never inside an emoji joined with ZWJ", async () => {
  const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}";
  const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  for (let columns = 30; columns <= 45; columns++) {
    const { terminal, until } = watched();
    terminal.resize(columns);
    const status = new StatusRow(terminal, false, () => {});
    status.showProgress("in:1", {
      ...progress(2 * MIB),
      name: `${family.repeat(12)}.jpg`,
    });
    const row = await until(() => true);
    const label = row.slice(0, row.indexOf("\u2026"));
    assert.ok(label.length > 0, row);
    // Every grapheme of what is left is a whole family.
    for (const { segment } of graphemes.segment(label)) {
      assert.equal(segment, family, `at ${columns} columns: ${row}`);
    }
    status.showProgress("in:1", null);
  }
});

Deno.test("StatusRow's narrow row gives the time left at the rate since `fromBytes`", async () => {
  const { terminal, until } = watched();
  terminal.resize(30);
  const status = new StatusRow(terminal, false, () => {});
  // Resumed at 6 MiB: 1 MiB in 4 s, 1 MiB left.
  status.showProgress("in:1", { ...progress(7 * MIB), fromBytes: 6 * MIB });
  assert.match(await until(() => true), /87% 4s left$/);
  status.showProgress("in:1", null);
});
