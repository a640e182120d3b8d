import assert from "node:assert/strict";
import { MAX_PAGE_TEXT_CHARS, pageText } from "../../src/web/page_text.ts";
import { changedServerKeyMessage } from "../../src/web/server_pin.ts";

Deno.test("pageText shows a server's bidi override, newline and escape instead of obeying them", () => {
  assert.equal(
    pageText("ERROR: \u202etxt.exe\nConnected to \x1b[32mexample.org"),
    "ERROR: <U+202E>txt.exe^JConnected to ^[[32mexample.org",
  );
});

Deno.test("pageText cuts a text as long as a server may send (4096 characters) at MAX_PAGE_TEXT_CHARS, and says so", () => {
  const shown = pageText("x".repeat(4096));
  assert.equal(shown, `${"x".repeat(MAX_PAGE_TEXT_CHARS)}…`);
});

Deno.test("pageText bounds what making a text visible lengthens, too", () => {
  // Each invisible character becomes eight visible ones.
  const shown = pageText("\u200b".repeat(1000));
  assert.equal(shown.length, MAX_PAGE_TEXT_CHARS + 1);
  assert.ok(shown.endsWith("…"));
});

Deno.test("pageText never cuts between the halves of a surrogate pair", () => {
  const shown = pageText(`${"a".repeat(MAX_PAGE_TEXT_CHARS - 1)}😀😀`);
  assert.equal(shown, `${"a".repeat(MAX_PAGE_TEXT_CHARS - 1)}…`);
  assert.ok(shown.isWellFormed());
});

Deno.test("pageText keeps the page's own longest sentence whole", () => {
  const fingerprint = "SHA256:" + "A".repeat(43);
  const text = changedServerKeyMessage(
    `${"sub.".repeat(60)}example.org:8767`,
    fingerprint,
    fingerprint.replace("A", "B"),
  );
  assert.equal(pageText(text), text);
});
