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

/** Each invisible or format character -> what the reader sees, between "a" and "b". */
const SHOWN: readonly [number, string][] = [
  [0x00ad, "<U+00AD>"], // soft hyphen
  [0x034f, "<U+034F>"], // combining grapheme joiner
  [0x061c, "<U+061C>"], // Arabic letter mark
  [0x0600, "<U+0600>"], // Arabic number sign (Cf, not default-ignorable)
  [0x06dd, "<U+06DD>"], // Arabic end of ayah
  [0x070f, "<U+070F>"], // Syriac abbreviation mark
  [0x115f, "<U+115F>"], // Hangul choseong filler
  [0x1160, "<U+1160>"], // Hangul jungseong filler
  [0x17b4, "<U+17B4>"], // Khmer vowel inherent AQ
  [0x17b5, "<U+17B5>"], // Khmer vowel inherent AA
  [0x180b, "<U+180B>"], // Mongolian free variation selector one
  [0x180e, "<U+180E>"], // Mongolian vowel separator
  [0x200b, "<U+200B>"], // zero width space
  [0x200c, "<U+200C>"], // zero width non-joiner
  [0x200d, "<U+200D>"], // zero width joiner, not between emoji
  [0x200e, "<U+200E>"], // left-to-right mark
  [0x200f, "<U+200F>"], // right-to-left mark
  [0x2028, "<U+2028>"], // line separator
  [0x2029, "<U+2029>"], // paragraph separator
  [0x202a, "<U+202A>"], // left-to-right embedding
  [0x202e, "<U+202E>"], // right-to-left override
  [0x2060, "<U+2060>"], // word joiner
  [0x2064, "<U+2064>"], // invisible plus
  [0x2066, "<U+2066>"], // left-to-right isolate
  [0x2069, "<U+2069>"], // pop directional isolate
  [0x206f, "<U+206F>"], // nominal digit shapes
  [0x3164, "<U+3164>"], // Hangul filler
  [0xfe00, "<U+FE00>"], // variation selector 1 after a letter
  [0xfe0f, "<U+FE0F>"], // variation selector 16 after a letter
  [0xfeff, "<U+FEFF>"], // zero width no-break space (BOM)
  [0xffa0, "<U+FFA0>"], // halfwidth Hangul filler
  [0xfff0, "<U+FFF0>"], // reserved default-ignorable
  [0xfff9, "<U+FFF9>"], // interlinear annotation anchor
  [0x110bd, "<U+110BD>"], // Kaithi number sign
  [0x13430, "<U+13430>"], // Egyptian hieroglyph vertical joiner
  [0x1bca0, "<U+1BCA0>"], // shorthand format letter overlap
  [0x1d173, "<U+1D173>"], // musical symbol begin beam
  [0xe0001, "<U+E0001>"], // language tag
  [0xe0020, "<U+E0020>"], // tag space
  [0xe0041, "<U+E0041>"], // tag latin capital letter A
  [0xe007f, "<U+E007F>"], // cancel tag
  [0xe0100, "<U+E0100>"], // variation selector 17 after a letter
  [0xe01ef, "<U+E01EF>"], // variation selector 256
  [0xe0fff, "<U+E0FFF>"], // reserved default-ignorable
];

Deno.test("sanitizeForTerminal shows each invisible or format character in the list", () => {
  for (const [code, shown] of SHOWN) {
    const char = String.fromCodePoint(code);
    assert.equal(sanitizeForTerminal(`a${char}b`), `a${shown}b`, shown);
    assert.equal(stripControls(`a${char}b`), "ab", shown);
  }
});

Deno.test("sanitizeForTerminal shows every format and default-ignorable code point", () => {
  const invisible = /^[\p{Cf}\p{Default_Ignorable_Code_Point}]$/u;
  let checked = 0;
  for (let code = 0x80; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const char = String.fromCodePoint(code);
    if (!invisible.test(char)) continue;
    const hex = code.toString(16).toUpperCase().padStart(4, "0");
    // After a letter nothing may select a form of it or join it to an emoji.
    assert.equal(sanitizeForTerminal(`a${char}`), `a<U+${hex}>`);
    checked++;
  }
  assert.ok(checked > 4000, `only ${checked} code points`);
});

Deno.test("sanitizeForTerminal shows hidden ASCII spelled in tag characters", () => {
  const hidden = [..."ignore this"].map((c) =>
    String.fromCodePoint(0xe0000 + c.charCodeAt(0))
  ).join("");
  assert.equal(
    sanitizeForTerminal(`hi${hidden}`),
    "hi<U+E0069><U+E0067><U+E006E><U+E006F><U+E0072><U+E0065><U+E0020>" +
      "<U+E0074><U+E0068><U+E0069><U+E0073>",
  );
  // Behind a flag but not a subdivision (upper case, too long, no CANCEL TAG),
  // or well-formed but not one of the three RGI flags: 6 hidden letters.
  const tag = (ascii: string) =>
    [...ascii].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0)))
      .join("");
  for (
    const tags of [
      "\u{E0041}\u{E007F}",
      "\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E0067}\u{E0067}\u{E007F}",
      "\u{E0067}\u{E0062}",
      tag("secret") + "\u{E007F}",
      tag("usca") + "\u{E007F}",
      tag("gbeng"),
      tag("gbengx") + "\u{E007F}",
    ]
  ) {
    const out = sanitizeForTerminal(`🏴${tags}`);
    assert.ok(out.startsWith("🏴<U+E00"), out);
    assert.equal(stripControls(`🏴${tags}`), "🏴");
  }
});

Deno.test("sanitizeForTerminal keeps the emoji sequences that need joiners, selectors and tags", () => {
  for (
    const text of [
      "🏳\uFE0F\u200D🌈", // rainbow flag: VS16 then ZWJ
      "🧑\u{1F3FD}\u200D💻", // skin tone then ZWJ
      "👁\uFE0F\u200D🗨\uFE0F", // eye in speech bubble
      "🏳\uFE0F\u200D\u26A7\uFE0F", // transgender flag: VS16 on both sides
      "\u2764\uFE0F\u200D🔥", // heart on fire
      "🧔\u200D\u2642\uFE0F", // man: beard
      "👩\u{1F3FF}\u200D🦰", // red hair component
      "1\uFE0F\u20E3", // keycap
      "#\uFE0F\u20E3",
      "☺\uFE0E", // text presentation
      "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}", // Scotland
      "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}", // England
      "🏴\u{E0067}\u{E0062}\u{E0077}\u{E006C}\u{E0073}\u{E007F}", // Wales
      "葛\u{E0100}", // ideographic variation sequence
      "\u2229\uFE00", // standardised variant of a maths symbol
      "Vi\u1EC7t", // precomposed
      "Vie\u0323\u0302t", // two stacked marks
    ]
  ) {
    assert.equal(sanitizeForTerminal(text), text);
  }
});

Deno.test("sanitizeForTerminal shows a joiner that is not between two emoji", () => {
  assert.equal(sanitizeForTerminal("👍\u200D"), "👍<U+200D>");
  assert.equal(sanitizeForTerminal("\u200D👍"), "<U+200D>👍");
  assert.equal(sanitizeForTerminal("👍\u200Da"), "👍<U+200D>a");
  assert.equal(sanitizeForTerminal("a\u200D👍"), "a<U+200D>👍");
});

Deno.test("sanitizeForTerminal shows a second variation selector in a row", () => {
  assert.equal(sanitizeForTerminal("❤\uFE0F\uFE0F"), "❤\uFE0F<U+FE0F>");
  // Bytes smuggled as selectors after an emoji: every one of them shows.
  assert.equal(
    sanitizeForTerminal("😀\uFE00\u{E0100}\u{E01EF}"),
    "😀<U+FE00><U+E0100><U+E01EF>",
  );
  assert.equal(
    sanitizeForTerminal("葛\u{E0100}\u{E0101}"),
    "葛\u{E0100}<U+E0101>",
  );
});

Deno.test("sanitizeForTerminal caps a run of combining marks", () => {
  const eight = "\u0301\u0300\u0302\u0303\u0304\u0306\u0307\u0308";
  assert.equal(sanitizeForTerminal(`e${eight}`), `e${eight}`);
  assert.equal(
    sanitizeForTerminal(`Z${eight}\u0309\u030A\u030Bap`),
    `Z${eight}<+3 marks>ap`,
  );
  assert.equal(stripControls(`Z${eight}\u0309\u030A`), `Z${eight}`);
  // Each base gets its own allowance.
  assert.equal(sanitizeForTerminal(`a${eight}b${eight}`), `a${eight}b${eight}`);
  const zalgo = "h" + "\u0336".repeat(10_000) + "i";
  assert.equal(
    sanitizeForTerminal(zalgo),
    "h" + "\u0336".repeat(8) + "<+9992 marks>i",
  );
});

Deno.test("sanitizeForTerminal shows characters that draw nothing though they are not format characters", () => {
  for (
    const [char, shown] of [
      ["\u2800", "<U+2800>"], // braille pattern blank
      ["\u{1D159}", "<U+1D159>"], // musical symbol null notehead
      ["\u{16FE4}", "<U+16FE4>"], // khitan small script filler
    ]
  ) {
    assert.equal(
      sanitizeForTerminal(`photo.jpg${char}${char}.exe`),
      `photo.jpg${shown}${shown}.exe`,
    );
    assert.equal(stripControls(`a${char}b`), "ab");
  }
  // Visible braille stays.
  assert.equal(sanitizeForTerminal("\u2801\u28FF"), "\u2801\u28FF");
});

Deno.test("sanitizeForTerminal shows private-use and unassigned code points", () => {
  for (
    const code of [
      0xe000,
      0xf8ff,
      0xf0000,
      0x10fffd,
      0x0378,
      0x2fffe,
      0xfdd0,
      0xffff,
      0x10ffff,
    ]
  ) {
    const hex = code.toString(16).toUpperCase().padStart(4, "0");
    assert.equal(
      sanitizeForTerminal(`a${String.fromCodePoint(code)}b`),
      `a<U+${hex}>b`,
    );
  }
  // Every private-use and unassigned code point, as far as this runtime knows.
  const hidden = /^[\p{Co}\p{Cn}]$/u;
  let checked = 0;
  for (let code = 0x80; code <= 0x10ffff; code += 7) {
    const char = String.fromCodePoint(code);
    if (!hidden.test(char)) continue;
    assert.match(sanitizeForTerminal(char), /^<U\+[0-9A-F]{4,6}>$/);
    checked++;
  }
  assert.ok(checked > 100_000, `only ${checked} code points`);
});
