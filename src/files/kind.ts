// This module is browser compatible.

/**
 * Whether opening a received file could run code instead of showing it.
 *
 * A desktop opens a file by its final extension, and some loaders (a
 * terminal, `binfmt_misc`, Wine) go by its first bytes, so both are checked.
 * The lists err on the side of asking: a false alarm costs the user a
 * confirmation, a miss can run a stranger's program.
 *
 * @module
 */

import { finalExtension } from "./naming.ts";

/** Native programs and the libraries and drivers they load. */
export const PROGRAM_EXTENSIONS: readonly string[] = [
  "exe",
  "com",
  "scr",
  "pif",
  "cpl",
  "dll",
  "sys",
  "drv",
  "ocx",
  "efi",
  "so",
  "dylib",
  "bundle",
  "kext",
  "bin",
  "elf",
  "run",
  "app",
  "appimage",
  "jar",
  "class",
  "xll",
];

/** Scripts some interpreter on the desktop runs when they are opened. */
export const SCRIPT_EXTENSIONS: readonly string[] = [
  "bat",
  "cmd",
  "ps1",
  "psm1",
  "psd1",
  "ps1xml",
  "psc1",
  "vb",
  "vbs",
  "vbe",
  "js",
  "jse",
  "mjs",
  "cjs",
  "ws",
  "wsf",
  "wsh",
  "wsc",
  "sct",
  "sh",
  "bash",
  "zsh",
  "csh",
  "tcsh",
  "ksh",
  "fish",
  "py",
  "pyw",
  "pyc",
  "pyo",
  "pyz",
  "pyzw",
  "pl",
  "pm",
  "rb",
  "php",
  "phar",
  "lua",
  "tcl",
  "command",
  "tool",
  "scpt",
  "applescript",
  "workflow",
  "action",
];

/** Installers and packages: opening one starts installing it. */
export const INSTALLER_EXTENSIONS: readonly string[] = [
  "msi",
  "msp",
  "mst",
  "msix",
  "msixbundle",
  "appx",
  "appxbundle",
  "appinstaller",
  "deb",
  "rpm",
  "apk",
  "xapk",
  "pkg",
  "mpkg",
  "dmg",
  "snap",
  "flatpak",
  "flatpakref",
  "flatpakrepo",
  "crx",
  "xpi",
  "vsix",
];

/**
 * Shortcuts, launchers and system settings: small files that point at or
 * configure something else, so what they do is not what they look like.
 */
export const LAUNCHER_EXTENSIONS: readonly string[] = [
  "lnk",
  "url",
  "website",
  "scf",
  "inf",
  "reg",
  "desktop",
  "terminal",
  "webloc",
  "inetloc",
  "fileloc",
  "application",
  "appref-ms",
  "jnlp",
  "gadget",
  "msc",
  "hta",
  "chm",
  "hlp",
  "diagcab",
  "settingcontent-ms",
  "library-ms",
  "searchconnector-ms",
  "search-ms",
  "iqy",
  "slk",
];

/**
 * Documents that can carry active content: web pages run script in a browser
 * with a `file:` origin, and Office files ending in `m` carry macros.
 *
 * XML is listed too: many desktops hand it to a browser, where an XSLT
 * stylesheet or an element in the XHTML namespace can run script just as an
 * HTML page does. Refusing to open it directly costs little, since the user
 * can still open it from the downloads folder with a program of their choice.
 */
export const ACTIVE_DOCUMENT_EXTENSIONS: readonly string[] = [
  "html",
  "htm",
  "xhtml",
  "shtml",
  "mht",
  "mhtml",
  "svg",
  "xml",
  "xsl",
  "xslt",
  "docm",
  "dotm",
  "xlsm",
  "xltm",
  "xlam",
  "xlsb",
  "pptm",
  "potm",
  "ppam",
  "ppsm",
  "sldm",
];

/**
 * Disk images: opening one mounts it, and on Windows the files inside lose
 * the "downloaded from the internet" mark that would otherwise warn about
 * them.
 */
export const DISK_IMAGE_EXTENSIONS: readonly string[] = [
  "iso",
  "img",
  "vhd",
  "vhdx",
];

/** Every extension {@linkcode isRiskyToOpen} treats as risky, lower-case. */
export const RISKY_EXTENSIONS: ReadonlySet<string> = new Set([
  ...PROGRAM_EXTENSIONS,
  ...SCRIPT_EXTENSIONS,
  ...INSTALLER_EXTENSIONS,
  ...LAUNCHER_EXTENSIONS,
  ...ACTIVE_DOCUMENT_EXTENSIONS,
  ...DISK_IMAGE_EXTENSIONS,
]);

/** The first bytes of a file that can be run as it is, whatever its name. */
export interface ExecutableSignature {
  /** What such a file is, for a warning. */
  readonly kind: string;
  readonly bytes: readonly number[];
}

export const EXECUTABLE_SIGNATURES: readonly ExecutableSignature[] = [
  { kind: "ELF program", bytes: [0x7f, 0x45, 0x4c, 0x46] },
  { kind: "Mach-O program", bytes: [0xfe, 0xed, 0xfa, 0xce] },
  { kind: "Mach-O program", bytes: [0xfe, 0xed, 0xfa, 0xcf] },
  { kind: "Mach-O program", bytes: [0xce, 0xfa, 0xed, 0xfe] },
  { kind: "Mach-O program", bytes: [0xcf, 0xfa, 0xed, 0xfe] },
  // Also the magic of a Java class file, which is as runnable.
  { kind: "Mach-O universal program", bytes: [0xca, 0xfe, 0xba, 0xbe] },
  { kind: "Mach-O universal program", bytes: [0xca, 0xfe, 0xba, 0xbf] },
  { kind: "Windows program", bytes: [0x4d, 0x5a] }, // "MZ"
  { kind: "script", bytes: [0x23, 0x21] }, // "#!"
  {
    kind: "Windows shortcut",
    bytes: [0x4c, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02, 0x00],
  },
];

/**
 * Whether opening the file with the desktop's default program could run
 * code: its final extension is in {@linkcode RISKY_EXTENSIONS}, or its first
 * bytes (`head`; pass at least 8) match an {@linkcode EXECUTABLE_SIGNATURES}
 * entry.
 *
 * @example
 * ```ts
 * isRiskyToOpen("invoice.pdf.exe", new Uint8Array()); // true
 * isRiskyToOpen("notes", new TextEncoder().encode("#!/bin/sh\n")); // true
 * isRiskyToOpen("photo.jpg", new Uint8Array([0xff, 0xd8, 0xff])); // false
 * ```
 */
export function isRiskyToOpen(name: string, head: Uint8Array): boolean {
  return RISKY_EXTENSIONS.has(finalExtension(name)) ||
    sniffExecutable(head) !== undefined;
}

/**
 * What kind of runnable file `head` starts like (see
 * {@linkcode EXECUTABLE_SIGNATURES}), or `undefined`.
 */
export function sniffExecutable(head: Uint8Array): string | undefined {
  return EXECUTABLE_SIGNATURES.find(({ bytes }) =>
    bytes.length <= head.length &&
    bytes.every((byte, i) => head[i] === byte)
  )?.kind;
}
