import assert from "node:assert/strict";
import { sanitizeForTerminal, stripControls } from "../../src/text/sanitize.ts";

Deno.test("sanitizeForTerminal shows an ANSI colour sequence in caret notation", () => {
  assert.equal(sanitizeForTerminal("\x1b[31mred\x1b[0m"), "^[[31mred^[[0m");
});

Deno.test("sanitizeForTerminal defuses an OSC title sequence", () => {
  assert.equal(sanitizeForTerminal("\x1b]0;title\x07"), "^[]0;title^G");
});

Deno.test("sanitizeForTerminal shows a C1 CSI as a code point", () => {
  assert.equal(sanitizeForTerminal("\x9b31mred"), "<U+009B>31mred");
  assert.equal(sanitizeForTerminal("\x80\x9f"), "<U+0080><U+009F>");
});

Deno.test("sanitizeForTerminal shows every C0 control and DEL", () => {
  assert.equal(sanitizeForTerminal("\x00"), "^@");
  assert.equal(sanitizeForTerminal("a\nb\r\n"), "a^Jb^M^J");
  assert.equal(sanitizeForTerminal("\x08\x1f\x7f"), "^H^_^?");
  for (let code = 0; code < 0x20; code++) {
    if (code === 0x09) continue;
    const out = sanitizeForTerminal(String.fromCharCode(code));
    assert.equal(out.length, 2);
    assert.ok(out.startsWith("^"));
  }
});

Deno.test("sanitizeForTerminal renders a tab as a space", () => {
  assert.equal(sanitizeForTerminal("a\tb"), "a b");
});

Deno.test("sanitizeForTerminal shows bidi controls", () => {
  assert.equal(
    sanitizeForTerminal("file\u202Etxt.exe"),
    "file<U+202E>txt.exe",
  );
  for (
    const code of [
      0x202a,
      0x202b,
      0x202c,
      0x202d,
      0x2066,
      0x2067,
      0x2068,
      0x2069,
      0x200e,
      0x200f,
      0x061c,
    ]
  ) {
    const hex = code.toString(16).toUpperCase().padStart(4, "0");
    assert.equal(sanitizeForTerminal(String.fromCharCode(code)), `<U+${hex}>`);
  }
});

Deno.test("sanitizeForTerminal shows zero-width and invisible characters", () => {
  assert.equal(sanitizeForTerminal("ad\u200Bmin"), "ad<U+200B>min");
  assert.equal(
    sanitizeForTerminal("\u200C\u2060\u2064\uFEFF\u180E\u00AD"),
    "<U+200C><U+2060><U+2064><U+FEFF><U+180E><U+00AD>",
  );
});

Deno.test("sanitizeForTerminal shows line and paragraph separators", () => {
  assert.equal(sanitizeForTerminal("a\u2028b\u2029"), "a<U+2028>b<U+2029>");
});

Deno.test("sanitizeForTerminal keeps ZWJ emoji sequences and variation selectors", () => {
  const family = "👨\u200D👩\u200D👧";
  assert.equal(sanitizeForTerminal(family), family);
  assert.equal(sanitizeForTerminal("❤\uFE0F"), "❤\uFE0F");
  assert.equal(sanitizeForTerminal("葛\u{E0100}"), "葛\u{E0100}");
  const england = "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
  assert.equal(sanitizeForTerminal(england), england);
});

Deno.test("sanitizeForTerminal replaces lone surrogates", () => {
  assert.equal(sanitizeForTerminal("a\uD800b"), "a\uFFFDb");
  assert.equal(sanitizeForTerminal("a\uDC00"), "a\uFFFD");
  assert.equal(sanitizeForTerminal("\uD83D"), "\uFFFD");
  assert.equal(sanitizeForTerminal("\uDC00\uD800"), "\uFFFD\uFFFD");
});

Deno.test("sanitizeForTerminal returns plain text unchanged", () => {
  for (
    const text of [
      "",
      "hello, world! ~{}",
      "café é",
      "中文消息",
      "👋 hi",
      "\u00A0non-breaking\u202Fspaces",
    ]
  ) {
    assert.equal(sanitizeForTerminal(text), text);
  }
});

Deno.test("sanitizeForTerminal output never contains an escape byte", () => {
  let all = "";
  for (let code = 0; code < 0x3000; code++) all += String.fromCharCode(code);
  const out = sanitizeForTerminal(all);
  for (let i = 0; i < out.length; i++) {
    const code = out.charCodeAt(i);
    assert.ok(
      code >= 0x20 && code !== 0x7f && (code < 0x80 || code > 0x9f) &&
        (code < 0x202a || code > 0x202e),
      `U+${code.toString(16)} at ${i}`,
    );
  }
});

Deno.test("stripControls removes what sanitizeForTerminal would show", () => {
  assert.equal(stripControls("\x1b[31mred\x9b\u202E\u200B!\n"), "[31mred!");
  assert.equal(stripControls("a\tb"), "a b");
  assert.equal(stripControls("a\uD800"), "a\uFFFD");
  assert.equal(stripControls("👨\u200D👩 é"), "👨\u200D👩 é");
});
