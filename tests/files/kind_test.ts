import assert from "node:assert/strict";
import {
  explainNotOpened,
  isPlainText,
  notOpenedByName,
  PASSIVE_RULES,
  passiveKind,
} from "../../src/files/kind.ts";
import { safeFileName } from "../../src/files/naming.ts";

const text = (s: string) => new TextEncoder().encode(s);
const bytes = (...parts: (number[] | string)[]) =>
  new Uint8Array(
    parts.flatMap((p) => typeof p === "string" ? [...text(p)] : p),
  );

const ELF = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0];
const BOM = [0xef, 0xbb, 0xbf];
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
const JPEG = [0xff, 0xd8, 0xff, 0xe0, 0, 16];
const HTML = "<!DOCTYPE html><html><script>alert(1)</script></html>";

/**
 * Hostile names and contents, from the issue and beyond: none may be opened.
 * Each row: name as received, content, and what the refusal must mention.
 */
const HOSTILE: [string, Uint8Array, RegExp][] = [
  [
    "page.xht",
    text(
      `<html xmlns="http://www.w3.org/1999/xhtml"><script>x()</script></html>`,
    ),
    /\.xht is not/,
  ],
  ["readme", text(HTML), /no extension/],
  [
    "notes",
    text("[Desktop Entry]\nType=Application\nExec=sh -c 'id'\n"),
    /no extension/,
  ],
  ["drawing.svgz", bytes([0x1f, 0x8b, 8, 0]), /\.svgz is not/],
  ["dark.theme", text("[Theme]\nDisplayName=x\n"), /\.theme is not/],
  ["letter.rtf", text("{\\rtf1\\ansi{\\object\\objemb}}"), /\.rtf is not/],
  [
    "report.doc",
    bytes([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
    /\.doc is not/,
  ],
  ["notebook.one", bytes([0xe4, 0x52, 0x5c, 0x7b]), /\.one is not/],
  [
    "wifi.mobileconfig",
    text('<?xml version="1.0"?><plist></plist>'),
    /\.mobileconfig is not/,
  ],
  ["photos.zip", bytes("PK", [3, 4]), /\.zip is not/],
  ["tool", bytes(ELF), /no extension/],
  ["space.txt", bytes(" ", ELF), /not plain text/],
  ["bom.txt", bytes(BOM, ELF), /not plain text/],
  ["image.png", text(HTML), /not a PNG image/],
  ["notes.txt", bytes(ELF), /not plain text/],
  ["invoice.pdf.exe", bytes([0x4d, 0x5a, 0x90, 0]), /\.exe is not/],
  ["photo.jpg.html", text(HTML), /\.html is not/],
  ["photo.jpg.", bytes(JPEG), /ends with a dot/],
  ["photo.jpg ", bytes(JPEG), /ends with a dot or a space/],
  ["photo\u202egpj.exe", bytes(JPEG), /invisible or control/],
  ["cute\u202ekcod.jpg", bytes(JPEG), /invisible or control/],
  ["page.html", text(HTML), /\.html is not/],
  ["page.htm", text(HTML), /\.htm is not/],
  ["drawing.svg", text("<svg onload='x()'/>"), /\.svg is not/],
  ["run.sh", text("#!/bin/sh\nid\n"), /\.sh is not/],
  ["setup.msi", bytes([0xd0, 0xcf, 0x11, 0xe0]), /\.msi is not/],
  ["link.desktop", text("[Desktop Entry]\nExec=id\n"), /\.desktop is not/],
  [
    "link.url",
    text("[InternetShortcut]\nURL=file:///c:/x.exe\n"),
    /\.url is not/,
  ],
  ["disk.iso", bytes([0, 0, 0, 0]), /\.iso is not/],
  ["page.txt", text(HTML), /not plain text/],
  [
    "indented.txt",
    text("   \n\t<html><body>x</body></html>"),
    /not plain text/,
  ],
  ["later.txt", text("hello\n\n<script>alert(1)</script>"), /not plain text/],
  ["launcher.txt", text("[Desktop Entry]\nExec=id\n"), /not plain text/],
  ["script.txt", text("#!/bin/sh\nid\n"), /not plain text/],
  ["doc.txt", text("{\\rtf1 x}"), /not plain text/],
  ["nul.txt", text("a\u0000b"), /not plain text/],
  ["latin1.txt", bytes("caf", [0xe9, 0x0a]), /not plain text/],
  ["fake.pdf", text("not a pdf"), /not a PDF document/],
  ["late.pdf", bytes(" %PDF-1.7"), /not a PDF document/],
  ["fake.jpg", bytes(PNG), /not a JPEG image/],
  ["fake.mp4", text(HTML), /not an MPEG-4 video/],
  ["fake.mp3", text(HTML), /not MP3 audio/],
  ["fake.gif", text("GIF8"), /not a GIF image/],
  [".png", bytes(PNG), /no extension/],
  ["", text("x"), /no extension/],
];

Deno.test("passiveKind opens none of the hostile names and contents", () => {
  for (const [name, head, why] of HOSTILE) {
    const verdict = passiveKind(name, head);
    assert.equal(verdict.ok, false, JSON.stringify(name));
    assert.match(verdict.ok ? "" : verdict.why, why, JSON.stringify(name));
  }
});

Deno.test("passiveKind after naming.ts cleaned the name opens only what really is a JPEG named .jpg", () => {
  // The receiver checks the name it saved the file under: cleaning drops a
  // trailing dot or a bidi override, and a real JPEG then opens as one.
  for (const [name, head] of HOSTILE) {
    const saved = safeFileName(name);
    const verdict = passiveKind(saved, head);
    if (!verdict.ok) continue;
    assert.equal(verdict.kind, "image", name);
    assert.match(saved, /\.jpg$/, name);
    assert.deepEqual([...head], JPEG, name);
  }
});

Deno.test("passiveKind opens images, audio, video, PDF and plain text whose content agrees", () => {
  const cases: [string, Uint8Array, string][] = [
    ["photo.png", bytes(PNG), "image"],
    ["PHOTO.JPG", bytes(JPEG), "image"],
    ["photo.jpeg", bytes(JPEG), "image"],
    ["anim.gif", text("GIF89a\x01\x00"), "image"],
    ["pic.webp", bytes("RIFF", [0, 0, 0, 0], "WEBPVP8 "), "image"],
    [
      "pic.bmp",
      bytes("BM", [0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0]),
      "image",
    ],
    ["song.mp3", bytes("ID3", [4, 0]), "audio"],
    ["song.mp3", bytes([0xff, 0xfb, 0x90, 0x64]), "audio"],
    ["song.ogg", text("OggS\x00\x02"), "audio"],
    ["song.flac", text("fLaC\x00"), "audio"],
    ["song.wav", bytes("RIFF", [0, 0, 0, 0], "WAVEfmt "), "audio"],
    ["song.m4a", bytes([0, 0, 0, 32], "ftypM4A "), "audio"],
    ["clip.mp4", bytes([0, 0, 0, 32], "ftypisom"), "video"],
    ["clip.mov", bytes([0, 0, 0, 20], "ftypqt  "), "video"],
    ["clip.webm", bytes([0x1a, 0x45, 0xdf, 0xa3]), "video"],
    ["clip.avi", bytes("RIFF", [0, 0, 0, 0], "AVI LIST"), "video"],
    ["paper.pdf", text("%PDF-1.7\n"), "PDF"],
    ["notes.txt", text("meeting notes\n\tnext week: <- not a tag\n"), "text"],
    ["bom.txt", bytes(BOM, "hello"), "text"],
    ["utf8.txt", text("café 日本語 😀\r\n"), "text"],
    ["empty.txt", new Uint8Array(), "text"],
    ["app.log", text("[2026-12-02 18:00] started\n"), "text"],
    // Double extensions are judged by the last one, as every opener does.
    ["holiday.exe.jpg", bytes(JPEG), "image"],
  ];
  for (const [name, head, kind] of cases) {
    assert.deepEqual(passiveKind(name, head), { ok: true, kind }, name);
  }
});

Deno.test("isPlainText accepts a head cut in the middle of a character", () => {
  const full = text("ab😀");
  assert.ok(isPlainText(full.subarray(0, full.length - 2)));
  assert.ok(isPlainText(full));
});

Deno.test("PASSIVE_RULES lists no extension that can carry active content", () => {
  for (
    const active of [
      "html",
      "htm",
      "xht",
      "xhtml",
      "svg",
      "svgz",
      "xml",
      "md",
      "csv",
      "rtf",
      "doc",
      "docx",
      "one",
      "zip",
      "theme",
      "mobileconfig",
      "desktop",
      "exe",
      "js",
      "tif",
      "ico",
      "heic",
    ]
  ) {
    assert.ok(!PASSIVE_RULES.has(active), active);
  }
});

Deno.test("explainNotOpened says why, not again where the file is", () => {
  assert.equal(
    explainNotOpened("run.sh", "it is a script"),
    "Not opening run.sh automatically: it is a script.",
  );
});

Deno.test("notOpenedByName says before the file arrives when its name alone rules opening out", () => {
  assert.equal(notOpenedByName("photo.jpg"), null);
  assert.equal(notOpenedByName("notes.TXT"), null);
  assert.equal(
    notOpenedByName("photo.jpg.exe"),
    ".exe: will be saved, not opened",
  );
  assert.equal(
    notOpenedByName("readme"),
    "no extension: will be saved, not opened",
  );
  assert.equal(
    notOpenedByName(".bashrc"),
    "no extension: will be saved, not opened",
  );
  assert.equal(notOpenedByName("page.xht"), ".xht: will be saved, not opened");
});

Deno.test("isPlainText refuses the tags file and shared-mime-info take for HTML, anywhere in the head", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  for (
    const opener of [
      "<title>x</title>",
      "<!-- a comment -->",
      "<style>body{}</style>",
      '<a href="x">',
      "<h1>x</h1>",
      "<p>x",
      "<b>x</b>",
      "<table>",
      "<img src=x>",
      "<DIV>",
    ]
  ) {
    assert.equal(isPlainText(encode(`notes\n${opener}\n`)), false, opener);
  }
  // Angle brackets that are no tag stay plain.
  for (
    const text of ["a < b and c > d", "x <= y", "<3", "email <at> x", "-->"]
  ) {
    assert.equal(isPlainText(encode(`notes: ${text}\n`)), true, text);
  }
});
