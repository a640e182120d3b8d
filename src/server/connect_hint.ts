// This module is browser compatible.

/**
 * The lines `chat serve` ends its start-up with: what to give people and the
 * command each of them can paste to connect (issue 15, item 6). Pure: the
 * addresses and how the program was started are found by the caller.
 *
 * @module
 */

import { DEFAULT_PORT } from "../protocol/limits.ts";

/** One address of a network interface that is up. */
export interface InterfaceAddress {
  readonly family: "IPv4" | "IPv6";
  readonly address: string;
}

/** How the program runs, hence how people start it the same way. */
export type Launcher = "executable" | "sources";

/**
 * The command that runs `chat <subcommand>` the way this program runs: the
 * executable's own name, or its task from the sources.
 */
export function chatCommand(
  launcher: Launcher,
  subcommand: "keygen" | "serve",
): string {
  return launcher === "executable"
    ? `chat ${subcommand}`
    : `deno task chat ${subcommand}`;
}

/**
 * The public key to hand out: the `public.pem` beside the private key, as
 * `chat serve` found it or wrote it (main.ts).
 */
export type PublicKeyBeside =
  /** It holds this key's public half. */
  | { readonly kind: "found"; readonly path: string }
  /** There was none; serve wrote it. */
  | { readonly kind: "written"; readonly path: string }
  /** It holds something else (`holds`: "another key (SHA256:...)"), left as it is. */
  | { readonly kind: "other"; readonly path: string; readonly holds: string }
  /** It holds a private key, which nothing replaces. */
  | { readonly kind: "private"; readonly path: string }
  /** There was none, and writing it failed (`reason`). */
  | {
    readonly kind: "unwritable";
    readonly path: string;
    readonly reason: string;
  };

export interface ConnectHint {
  /** What `--host` the server listens on. */
  readonly host: string;
  readonly port: number;
  /** Addresses of this machine's interfaces that are up. */
  readonly interfaces: readonly InterfaceAddress[];
  readonly publicKey: PublicKeyBeside;
  /** The private key, named when its public key has to be written. */
  readonly privateKeyPath: string;
  readonly launcher: Launcher;
}

const isLoopback = ({ family, address }: InterfaceAddress) =>
  family === "IPv4"
    ? address.startsWith("127.")
    : address === "::1" || address.toLowerCase() === "::ffff:127.0.0.1";

/** fe80::/10 needs a zone (`%eth0`) that a WebSocket URL cannot carry. */
const isLinkLocalV6 = ({ family, address }: InterfaceAddress) =>
  family === "IPv6" && /^fe[89ab]/i.test(address);

/**
 * The addresses people on the LAN can reach the server at: every
 * non-loopback address of the family it listens on (`0.0.0.0`: IPv4; `::`:
 * IPv4 and IPv6), or the one address given with `--host`.
 */
export function reachableAddresses(
  host: string,
  interfaces: readonly InterfaceAddress[],
): string[] {
  const wildcard = host === "0.0.0.0"
    ? ["IPv4"]
    : host === "::" || host === "[::]"
    ? ["IPv4", "IPv6"]
    : null;
  if (wildcard === null) return [host];
  const found = interfaces
    .filter((a) => wildcard.includes(a.family))
    .filter((a) => !isLoopback(a) && !isLinkLocalV6(a))
    // IPv4 first: the shorter, more familiar one to read out to people.
    .sort((a, b) => a.family.localeCompare(b.family))
    .map((a) => a.address);
  return [...new Set(found)];
}

/** `host` as `chat connect` takes it, with the port unless it is the default. */
export function connectTarget(address: string, port: number): string {
  const bare = address.replace(/^\[(.*)\]$/, "$1");
  const host = bare.includes(":") ? `[${bare}]` : bare;
  return port === DEFAULT_PORT ? host : `${host}:${port}`;
}

/**
 * The command that runs `chat connect` the way this program runs: from the
 * sources, connecting has a task of its own, with only the permissions it
 * needs.
 */
export function connectCommand(launcher: Launcher): string {
  return launcher === "executable" ? "chat connect" : "deno task connect";
}

/** The hint's lines, ready to print. */
export function connectHint(hint: ConnectHint): string[] {
  const program = connectCommand(hint.launcher);
  const keygen = chatCommand(hint.launcher, "keygen");
  const addresses = reachableAddresses(hint.host, hint.interfaces);
  const targets = addresses.length === 0
    ? ["<this machine's IP address>"]
    : addresses.map((address) => connectTarget(address, hint.port));
  const which = targets.length > 1 ? " one of" : "";
  const { before, give } = publicKeyLines(
    hint.publicKey,
    hint.privateKeyPath,
    keygen,
  );
  // After a command to run first, the file is to be given once it has run:
  // not the stale or missing one there now.
  const first = hint.publicKey.kind === "found" ||
    hint.publicKey.kind === "written";
  return [
    ...before,
    // Two lines: one would be 81 columns or more, and an 80-column
    // terminal would put the ':' on a row of its own.
    `${
      first ? "Give" : "Then give"
    } people a copy of ${give} (never the private key).`,
    `They connect with${which}:`,
    ...targets.map((target) =>
      `    ${program} ${target} --pub ${shellWord(baseName(give))}`
    ),
  ];
}

/**
 * What is said of the public key before the connect lines, and the file to
 * give people. Without a usable one, the exact command that writes it: an
 * operator left with only a private key is otherwise stuck.
 */
function publicKeyLines(
  publicKey: PublicKeyBeside,
  privateKeyPath: string,
  keygen: string,
): { before: string[]; give: string } {
  const writeIt = `${keygen} --public-from ${shellWord(privateKeyPath)}`;
  switch (publicKey.kind) {
    case "found":
      return { before: [], give: publicKey.path };
    case "written":
      return {
        before: [
          `Wrote the public key of ${privateKeyPath} to ${publicKey.path} (there was none)`,
        ],
        give: publicKey.path,
      };
    case "other":
      return {
        before: [
          `${publicKey.path} holds ${publicKey.holds}, not the public key of ${privateKeyPath}; to replace it with this key's, run:`,
          `    ${writeIt} --force`,
        ],
        give: publicKey.path,
      };
    case "private":
      return {
        before: [
          `${publicKey.path} holds a private key; write the public key of ${privateKeyPath} with:`,
          `    ${writeIt} --public public.pem`,
        ],
        give: "public.pem",
      };
    case "unwritable":
      return {
        before: [
          `Cannot write the public key of ${privateKeyPath} to ${publicKey.path}: ${publicKey.reason}; as a user who can, run:`,
          `    ${writeIt}`,
        ],
        give: publicKey.path,
      };
    default: {
      const unreachable: never = publicKey;
      return unreachable;
    }
  }
}

/**
 * The addresses the web hint gives browsers, unbracketed: IPv6 ones too when
 * the server listens on them. The page's certificate must name each of them
 * (tls_certificate.ts), or a browser that uses one is told the certificate
 * is for another site on top of the self-signed warning.
 */
export function webAddresses(
  host: string,
  interfaces: readonly InterfaceAddress[],
): string[] {
  return reachableAddresses(host, interfaces).map((address) =>
    address.replace(/^\[(.*)\]$/, "$1")
  );
}

/**
 * The lines after the hint for those without the program: the web client's
 * https:// address (issue 18), one per address, with the default port too (a
 * browser would otherwise try port 443), and the fingerprint of the
 * self-signed certificate the browser will warn about (tls_certificate.ts).
 */
export function webHint(
  hint: Pick<ConnectHint, "host" | "port" | "interfaces"> & {
    /** SHA-256 of the TLS certificate, "AB:CD:...". */
    readonly certificateFingerprint: string;
  },
): string[] {
  const addresses = webAddresses(hint.host, hint.interfaces);
  const targets = addresses.length === 0
    ? ["<this machine's IP address>"]
    : addresses.map((address) =>
      address.includes(":") ? `[${address}]` : address
    );
  return [
    // Each line under 80 columns, the width of a classroom's terminals.
    "Or, with nothing to install, they open in a browser (and check the key above):",
    ...targets.map((target) => `    https://${target}:${hint.port}/`),
    // Self-signed: no authority vouches for it (README, In a browser).
    "The browser warns once: the certificate is self-signed (Advanced, Proceed).",
    "Its SHA-256 fingerprint is:",
    `    ${hint.certificateFingerprint}`,
  ];
}

/** `path` as one word to paste into a shell: quoted if it has to be. */
function shellWord(path: string): string {
  return /^[\w./:@%+=,-]+$/.test(path)
    ? path
    : `'${path.replaceAll("'", `'\\''`)}'`;
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}
