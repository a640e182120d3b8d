import assert from "node:assert/strict";
import {
  ACTIVE_DOCUMENT_EXTENSIONS,
  DISK_IMAGE_EXTENSIONS,
  EXECUTABLE_SIGNATURES,
  INSTALLER_EXTENSIONS,
  isRiskyToOpen,
  LAUNCHER_EXTENSIONS,
  PROGRAM_EXTENSIONS,
  RISKY_EXTENSIONS,
  SCRIPT_EXTENSIONS,
  sniffExecutable,
} from "../../src/files/kind.ts";

const NO_BYTES = new Uint8Array();
const text = (s: string) => new TextEncoder().encode(s);

/** The extensions the file-transfer design asks for at the very least. */
const REQUIRED = (
  "exe com bat cmd ps1 psm1 vbs vbe js jse wsf wsh msi msp msix appx scr pif " +
  "cpl hta lnk url reg inf scf jar desktop app command tool sh bash zsh csh " +
  "ksh fish py pyw pl rb php run bin elf deb rpm apk dmg pkg mpkg appimage " +
  "flatpakref snap html htm xhtml svg mht mhtml shtml xml docm xlsm pptm iso " +
  "img vhd so dylib dll sys drv ocx workflow scpt applescript terminal " +
  "webloc inetloc action"
).split(" ");

Deno.test("isRiskyToOpen flags every required extension", () => {
  for (const extension of REQUIRED) {
    assert.ok(RISKY_EXTENSIONS.has(extension), extension);
    assert.ok(isRiskyToOpen(`file.${extension}`, NO_BYTES), extension);
  }
});

Deno.test("RISKY_EXTENSIONS is the lower-case union of the category lists", () => {
  const all = [
    ...PROGRAM_EXTENSIONS,
    ...SCRIPT_EXTENSIONS,
    ...INSTALLER_EXTENSIONS,
    ...LAUNCHER_EXTENSIONS,
    ...ACTIVE_DOCUMENT_EXTENSIONS,
    ...DISK_IMAGE_EXTENSIONS,
  ];
  assert.equal(RISKY_EXTENSIONS.size, all.length, "no duplicates");
  for (const extension of all) {
    assert.equal(extension, extension.toLowerCase());
    assert.ok(!extension.startsWith("."));
  }
});

Deno.test("isRiskyToOpen goes by the final extension, in any case", () => {
  assert.ok(isRiskyToOpen("invoice.pdf.exe", NO_BYTES));
  assert.ok(isRiskyToOpen("SETUP.EXE", NO_BYTES));
  assert.ok(isRiskyToOpen("Report.DocM", NO_BYTES));
  assert.ok(isRiskyToOpen("evil.exe. ", NO_BYTES));
  assert.ok(isRiskyToOpen(".desktop", NO_BYTES));
  assert.ok(!isRiskyToOpen("setup.exe.txt", NO_BYTES));
  assert.ok(!isRiskyToOpen("exe", NO_BYTES));
});

Deno.test("isRiskyToOpen lets ordinary documents and media through", () => {
  for (
    const name of [
      "photo.jpg",
      "scan.PNG",
      "notes.txt",
      "report.pdf",
      "letter.docx",
      "budget.xlsx",
      "song.mp3",
      "clip.mp4",
      "archive.zip",
      "backup.tar.gz",
      "data.csv",
      "README",
    ]
  ) {
    assert.ok(!isRiskyToOpen(name, text("plain content")), name);
  }
});

Deno.test("isRiskyToOpen sniffs executables whatever their name", () => {
  const heads: [string, number[]][] = [
    ["ELF", [0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01]],
    ["Mach-O 32", [0xfe, 0xed, 0xfa, 0xce]],
    ["Mach-O 64", [0xfe, 0xed, 0xfa, 0xcf]],
    ["Mach-O 32 LE", [0xce, 0xfa, 0xed, 0xfe]],
    ["Mach-O 64 LE", [0xcf, 0xfa, 0xed, 0xfe, 0x07, 0x00]],
    ["fat / Java class", [0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00]],
    ["PE", [0x4d, 0x5a, 0x90, 0x00]],
    ["shebang", [...text("#!/bin/sh\nrm -rf ~\n")]],
    ["shortcut", [0x4c, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02, 0x00, 0x00]],
  ];
  for (const [label, bytes] of heads) {
    const head = new Uint8Array(bytes);
    assert.ok(isRiskyToOpen("holiday.jpg", head), label);
    assert.notEqual(sniffExecutable(head), undefined, label);
  }
});

Deno.test("sniffExecutable names what it found", () => {
  assert.equal(sniffExecutable(text("MZ")), "Windows program");
  assert.equal(sniffExecutable(text("#!/usr/bin/env python3")), "script");
  assert.equal(sniffExecutable(text("\x7fELF")), "ELF program");
});

Deno.test("sniffExecutable ignores heads too short or unlike a program", () => {
  assert.equal(sniffExecutable(NO_BYTES), undefined);
  assert.equal(sniffExecutable(new Uint8Array([0x7f, 0x45, 0x4c])), undefined);
  assert.equal(sniffExecutable(new Uint8Array([0x4d])), undefined);
  assert.equal(sniffExecutable(text("# heading\n")), undefined);
  assert.equal(sniffExecutable(new Uint8Array([0xff, 0xd8, 0xff])), undefined);
  assert.equal(sniffExecutable(text("%PDF-1.7")), undefined);
  assert.equal(sniffExecutable(text("PK\x03\x04")), undefined);
});

Deno.test("EXECUTABLE_SIGNATURES entries are non-empty byte patterns", () => {
  for (const { kind, bytes } of EXECUTABLE_SIGNATURES) {
    assert.ok(kind.length > 0);
    assert.ok(bytes.length >= 2);
    assert.ok(bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255));
  }
});
