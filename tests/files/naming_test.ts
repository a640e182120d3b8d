import assert from "node:assert/strict";
import {
  DEFAULT_FILE_NAME,
  finalExtension,
  MAX_NAME_BYTES,
  numberedName,
  safeFileName,
} from "../../src/files/naming.ts";

const utf8 = new TextEncoder();

function byteLength(text: string): number {
  return utf8.encode(text).length;
}

Deno.test("safeFileName keeps only the last path component", () => {
  assert.equal(safeFileName("../../x"), "x");
  assert.equal(safeFileName("/etc/passwd"), "passwd");
  assert.equal(safeFileName("C:\\x"), "x");
  assert.equal(safeFileName("..\\x"), "x");
  assert.equal(safeFileName("..\\..\\Windows\\System32\\evil.dll"), "evil.dll");
  assert.equal(safeFileName("a/b\\c/d.txt"), "d.txt");
  assert.equal(safeFileName("dir/file.txt/"), "file.txt");
  assert.equal(safeFileName("//server/share/report.pdf"), "report.pdf");
});

Deno.test("safeFileName drops a Windows drive prefix", () => {
  assert.equal(safeFileName("C:evil.exe"), "evil.exe");
  assert.equal(safeFileName("d:\\data\\notes.txt"), "notes.txt");
  assert.equal(safeFileName("C:"), DEFAULT_FILE_NAME);
});

Deno.test("safeFileName removes an escape sequence's ESC", () => {
  assert.equal(safeFileName("\x1b[31mred"), "[31mred");
  assert.equal(safeFileName("\x1b]0;pwned\x07.txt"), "]0;pwned.txt");
  assert.equal(safeFileName("a\x9bb"), "ab");
});

Deno.test("safeFileName removes C0 controls, DEL and newlines", () => {
  assert.equal(safeFileName("a\x00b\x7fc\r\nd.txt"), "abcd.txt");
  for (let code = 0; code < 0x20; code++) {
    const name = safeFileName(`x${String.fromCharCode(code)}y`);
    // A tab becomes a space, like everywhere else text is sanitised.
    assert.equal(name, code === 0x09 ? "x y" : "xy");
  }
});

Deno.test("safeFileName removes bidi controls that disguise an extension", () => {
  // "invoice<RLO>fdp.exe" displays as "invoiceexe.pdf".
  assert.equal(safeFileName("invoice\u202efdp.exe"), "invoicefdp.exe");
  for (
    const code of [
      0x202a,
      0x202b,
      0x202c,
      0x202d,
      0x202e,
      0x2066,
      0x2067,
      0x2068,
      0x2069,
      0x200e,
      0x200f,
      0x061c,
    ]
  ) {
    assert.equal(safeFileName(`a${String.fromCharCode(code)}b`), "ab");
  }
});

Deno.test("safeFileName removes zero-width and invisible characters", () => {
  for (
    const code of [
      0x200b,
      0x200c,
      0x200d,
      0x2060,
      0x2061,
      0x2062,
      0x2063,
      0x2064,
      0xfeff,
      0x00ad,
    ]
  ) {
    assert.equal(safeFileName(`a${String.fromCharCode(code)}b`), "ab");
  }
  assert.equal(safeFileName("\u200b"), DEFAULT_FILE_NAME);
  assert.equal(safeFileName("x/\u200b"), "x");
});

Deno.test("safeFileName replaces characters Windows forbids", () => {
  assert.equal(safeFileName('a<b>c:d"e|f?g*h.txt'), "a_b_c_d_e_f_g_h.txt");
  assert.equal(safeFileName("file.txt:hidden"), "file.txt_hidden");
});

Deno.test("safeFileName strips leading dots and dashes", () => {
  assert.equal(safeFileName(".bashrc"), "bashrc");
  assert.equal(safeFileName("..hidden"), "hidden");
  assert.equal(safeFileName("-rf"), "rf");
  assert.equal(safeFileName("--help.txt"), "help.txt");
  assert.equal(safeFileName(" -. -x"), "x");
  assert.equal(safeFileName("a-b.c"), "a-b.c");
});

Deno.test("safeFileName strips whitespace and trailing dots", () => {
  assert.equal(safeFileName("  report.pdf  "), "report.pdf");
  assert.equal(safeFileName("evil.exe."), "evil.exe");
  assert.equal(safeFileName("evil.exe . . "), "evil.exe");
});

Deno.test("safeFileName neutralises Windows device names", () => {
  assert.equal(safeFileName("NUL.txt"), "_NUL.txt");
  assert.equal(safeFileName("COM1 "), "_COM1");
  assert.equal(safeFileName("con"), "_con");
  assert.equal(safeFileName("Prn.tar.gz"), "_Prn.tar.gz");
  assert.equal(safeFileName("aux."), "_aux");
  assert.equal(safeFileName("lpt9.log"), "_lpt9.log");
  assert.equal(safeFileName("COM0"), "_COM0");
  assert.equal(safeFileName("com\u00b9"), "_com\u00b9");
  assert.equal(safeFileName("CONIN$"), "_CONIN$");
  assert.equal(safeFileName("conout$.txt"), "_conout$.txt");
  assert.equal(safeFileName("nul .txt"), "_nul .txt");
  assert.equal(safeFileName("dir/CON"), "_CON");
  // Only the whole stem counts.
  assert.equal(safeFileName("console.log"), "console.log");
  assert.equal(safeFileName("COM10"), "COM10");
  assert.equal(safeFileName("my nul.txt"), "my nul.txt");
});

Deno.test("safeFileName neutralises a Windows device name that shortening leaves", () => {
  // Not a device name as sent: `CON   …x` is its stem. Cut to 200 bytes,
  // the stem is `CON` and spaces, which are dropped: `CON.txt`.
  assert.equal(safeFileName("CON" + " ".repeat(300) + "x.txt"), "_CON.txt");
  assert.equal(
    safeFileName("nul" + "\u00a0".repeat(150) + "x.log"),
    "_nul.log",
  );
  assert.equal(safeFileName("COM1" + " ".repeat(300) + "x"), "_COM1");
  // Reserved as sent and long: still at most 200 bytes with its `_`.
  const long = safeFileName("CON." + "y".repeat(300));
  assert.ok(long.startsWith("_CON.yyy"), long);
  assert.equal(byteLength(long), MAX_NAME_BYTES);
});

Deno.test("safeFileName gives the fallback to names that end up empty", () => {
  for (
    const name of ["", ".", "..", "...", "/", "\\", "../..", " ", "-", "\x1b"]
  ) {
    assert.equal(safeFileName(name), DEFAULT_FILE_NAME, JSON.stringify(name));
  }
  assert.equal(safeFileName("..", () => "file-1"), "file-1");
  // A fallback is cleaned too.
  assert.equal(safeFileName("", () => "../x"), "x");
  assert.equal(safeFileName("", () => ".."), DEFAULT_FILE_NAME);
});

Deno.test("safeFileName shortens a long name to 200 bytes keeping the extension", () => {
  const name = safeFileName("a".repeat(300) + ".txt");
  assert.equal(name, "a".repeat(MAX_NAME_BYTES - 4) + ".txt");
  assert.equal(byteLength(name), MAX_NAME_BYTES);
});

Deno.test("safeFileName shortens multibyte names without splitting characters", () => {
  // 3, 4 (surrogate pair) and 2 bytes each, so the budget falls inside one.
  const long = "日😀é".repeat(100) + ".jpeg";
  const name = safeFileName(long);
  assert.ok(byteLength(name) <= MAX_NAME_BYTES);
  assert.ok(byteLength(name) > MAX_NAME_BYTES - 9);
  assert.ok(name.endsWith(".jpeg"));
  assert.ok(long.startsWith(name.slice(0, -".jpeg".length)));
  assert.equal(name, name.toWellFormed());

  const emoji = safeFileName("😀".repeat(300));
  assert.equal(emoji, "😀".repeat(MAX_NAME_BYTES / 4));
  assert.equal(emoji, emoji.toWellFormed());
});

Deno.test("safeFileName keeps accents with their letters when shortening", () => {
  // NFC makes each letter "\u00e9\u0302\u0303": 6 bytes, one grapheme. 33
  // fit in 198 bytes; a cut between code points would add a bare 34th "é".
  const name = safeFileName("e\u0301\u0302\u0303".repeat(100));
  assert.equal(name, "\u00e9\u0302\u0303".repeat(33));
});

Deno.test("safeFileName shortens a name with a huge extension as a whole", () => {
  const name = safeFileName("x." + "y".repeat(300));
  assert.equal(byteLength(name), MAX_NAME_BYTES);
  assert.ok(name.startsWith("x.yyy"));
});

Deno.test("safeFileName normalises to NFC", () => {
  assert.equal(safeFileName("Cafe\u0301.txt"), "Caf\u00e9.txt");
});

Deno.test("safeFileName leaves ordinary names alone", () => {
  for (
    const name of [
      "example.txt",
      "Holiday photo (2).JPG",
      "archive.tar.gz",
      "résumé.pdf",
      "数据.csv",
      "😀 party.png",
      "a'b$c;d&e.txt",
    ]
  ) {
    assert.equal(safeFileName(name), name);
  }
});

Deno.test("safeFileName replaces lone surrogates", () => {
  assert.equal(safeFileName("a\ud800b.txt"), "a\ufffdb.txt");
});

Deno.test("numberedName inserts the number before the extension", () => {
  assert.equal(numberedName("example.txt", 1), "example (1).txt");
  assert.equal(numberedName("archive.tar.gz", 1), "archive (1).tar.gz");
  assert.equal(numberedName("backup.TAR.XZ", 3), "backup (3).TAR.XZ");
  assert.equal(numberedName("noext", 1), "noext (1)");
  assert.equal(numberedName("my.report.v2.pdf", 12), "my.report.v2 (12).pdf");
  assert.equal(numberedName("Mr. Smith", 1), "Mr. Smith (1)");
  assert.equal(numberedName("_NUL.txt", 2), "_NUL (2).txt");
});

Deno.test("numberedName returns the name unchanged for 0", () => {
  assert.equal(numberedName("example.txt", 0), "example.txt");
});

Deno.test("numberedName rejects negative and fractional numbers", () => {
  assert.throws(() => numberedName("a.txt", -1), RangeError);
  assert.throws(() => numberedName("a.txt", 1.5), RangeError);
});

Deno.test("finalExtension returns the real last extension in lower case", () => {
  assert.equal(finalExtension("photo.JPG"), "jpg");
  assert.equal(finalExtension("invoice.pdf.exe"), "exe");
  assert.equal(finalExtension("archive.tar.gz"), "gz");
  assert.equal(finalExtension("noext"), "");
  assert.equal(finalExtension("evil.exe. . "), "exe");
  assert.equal(finalExtension(".desktop"), "desktop");
  assert.equal(finalExtension("dir.d/file"), "");
});
