/**
 * Command line -> a typed command. The only importer of the command-line
 * parser package; nothing here performs the command or exits the process.
 */

import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "commander";
import { dirname, join } from "node:path";
import { DEFAULT_MAX_FILE_BYTES, DEFAULT_PORT } from "./protocol/limits.ts";
import {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  DEFAULT_MAX_STORE_BYTES,
} from "./server/config.ts";
import { hostName } from "./server/allowed_host.ts";
import { ipLiteral } from "./server/address_group.ts";
import {
  natsServers,
  shownNatsUrl,
  splitNatsUrls,
} from "./server/nats_urls.ts";
import {
  type AccountBudgetLimits,
  DEFAULT_ACCOUNT_BUDGETS,
  MAX_ACCOUNT_BUDGET,
} from "./server/account_budgets.ts";
import { ACCEPT_POLICIES, type AcceptPolicy } from "./client/consent.ts";

export const VERSION = "0.1.0";
export const DEFAULT_KEY_DIR = "keys";
export const DEFAULT_PRIVATE_KEY = `${DEFAULT_KEY_DIR}/private.pem`;
export const DEFAULT_PUBLIC_KEY = `${DEFAULT_KEY_DIR}/public.pem`;

export type RsaBits = 2048 | 3072 | 4096;

export type CliCommand =
  | {
    cmd: "keygen";
    bits: RsaBits;
    privatePath: string;
    publicPath: string;
    force: boolean;
  }
  | {
    cmd: "serve";
    keyPath: string;
    keyPathIsDefault: boolean;
    host: string;
    port: number;
    maxFileBytes: number;
    /** The store's folder, ":memory:" for none, or null for the default beside the key. */
    dataDir: string | null;
    /** FULL: every commit synced to disk; NORMAL: survives a crash, not a power cut. */
    sync: "FULL" | "NORMAL";
    /** Only the limits given on the command line; the rest keep their defaults. */
    connectionLimits: Partial<ConnectionLimits>;
    /**
     * What the accounts of one address may take together an hour (groups
     * created and joined, one-time prekeys): only those given on the
     * command line; the rest keep their defaults.
     */
    addressBudgets: Partial<AccountBudgetLimits>;
    /** The most the database's pages in use may take; 0 for no cap. */
    maxStoreBytes: number;
    /** Serve the web client's page (--no-web: not). */
    web: boolean;
    /**
     * `--allowed-host`: more names browsers may reach the server by
     * (allowed_host.ts), as given.
     */
    allowedHosts: string[];
    /**
     * `--trusted-proxy`: reverse proxies whose X-Forwarded-For names the
     * client (forwarded_for.ts), IP literals as given.
     */
    trustedProxies: string[];
    /** Send public messages in room frames (docs/PROTOCOL.md 3.8). */
    roomFrames: boolean;
    /** NATS servers to join other nodes through (issue 19); null alone. */
    cluster: string[] | null;
    /** How long a dead node's users stay listed elsewhere, in ms. */
    presenceTtlMs: number;
    /**
     * The cluster log's retention given on the command line (0: no limit);
     * what is not given keeps the stream's (docs/SCALING.md "Retention").
     */
    logRetention: { maxAgeMs?: number; maxBytes?: number };
  }
  | {
    cmd: "connect";
    target: string;
    port: number | null;
    /** null: keys/public.pem if it exists, else the known-hosts file. */
    pubPath: string | null;
    /** Remember an unknown server's key without asking (scripts). */
    trustFirstUse: boolean;
    user: string | null;
    /** null: the default identity file in the user's config folder. */
    identityPath: string | null;
    /** null: the default downloads folder. */
    downloads: string | null;
    open: boolean;
    openWith: string | null;
    /** null: `ask` when stdin is a terminal, `none` when it is not. */
    acceptFiles: AcceptPolicy | null;
    maxFileBytes: number;
    reconnect: boolean;
    /** One JSON object per line on stdout for every event (bots, scripts). */
    json: boolean;
    /** `[HH:MM]` before received lines on a terminal (--no-time: not). */
    time: boolean;
    /** Keep typed lines per server in the config folder (--no-history-file: not). */
    historyFile: boolean;
  }
  /**
   * `chat keygen --public-from KEY`: the public key of an existing private
   * key, written to `publicPath` (as `ssh-keygen -y` prints it).
   */
  | {
    cmd: "public-key";
    privatePath: string;
    publicPath: string;
    force: boolean;
  }
  /** `chat keygen --identity [PATH]`: a user's identity key instead of a server key. */
  | { cmd: "identity"; path: string | null; force: boolean }
  /**
   * `chat admin release NAME`: frees a name from its identity key, in a
   * node's database or (`cluster`: NATS URLs) in a cluster's names bucket.
   */
  | {
    cmd: "release";
    name: string;
    dataDir: string;
    cluster: string[] | null;
  }
  /** Help, version, or a usage error: print `output` and exit with `code`. */
  | { cmd: "exit"; code: number; output: string };

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 0 || port > 65535) {
    throw new InvalidArgumentError("A port is a number from 0 to 65535.");
  }
  return port;
}

/**
 * `--cluster`: NATS server URLs, comma-separated; `host:port` alone means
 * nats://host:port. Credentials in them (USER:PASS@, TOKEN@) are kept for
 * connectNats, which takes them out of the URLs it dials; a comma in them
 * is theirs where that is the only reading (splitNatsUrls), and a usage
 * error asking for `%2C` where the value reads both ways.
 */
function parseClusterUrls(value: string): string[] {
  const { urls, ambiguous } = splitNatsUrls(value);
  if (ambiguous) {
    throw new InvalidArgumentError(
      "A comma in --cluster before an @ may be in a password or between two URLs: write a comma in a user, password or token as %2C (nats://USER:PA%2CSS@HOST:PORT), and begin each further URL with nats://.",
    );
  }
  if (urls.length === 0) {
    throw new InvalidArgumentError("Give one or more nats://HOST:PORT.");
  }
  const full = urls.map((one, i) => {
    const full = one.includes("://") ? one : `nats://${one}`;
    // Printed without its credentials, or any part of a password cut at a
    // comma: a node never shows the password.
    const shown = shownNatsUrl(urls, i);
    const notNats = new InvalidArgumentError(
      `'${shown}' is not a nats://HOST:PORT URL${
        shown === one
          ? ""
          : " (write @ : / , ? # in a user, password or token as %40 %3A %2F %2C %3F %23)"
      }.`,
    );
    let url: URL;
    try {
      url = new URL(full);
    } catch {
      throw notNats;
    }
    if (url.protocol !== "nats:" || url.hostname === "") throw notNats;
    return full;
  });
  // The credentials checked now, as connectNats will read them: a stray %
  // or USER:@ is a usage error, not a failure at start.
  try {
    natsServers(full);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
  return full;
}

/**
 * `output` (a usage error) with the credentials in the `--cluster` values of
 * `args` hidden: the parser quotes an invalid value whole.
 */
function withoutClusterCredentials(
  output: string,
  args: readonly string[],
): string {
  const values = args.flatMap((arg, i) =>
    arg === "--cluster"
      ? [args[i + 1] ?? ""]
      : arg.startsWith("--cluster=")
      ? [arg.slice("--cluster=".length)]
      : []
  ).filter((value) => value.includes("@"));
  for (const value of values) {
    const hidden = splitNatsUrls(value).urls.map((_, i, urls) =>
      shownNatsUrl(urls, i)
    ).join(",");
    output = output.replaceAll(value, hidden);
  }
  return output;
}

const DURATION_UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** "7d", "12h", "30m", "90s", or "0" for no limit: a duration in ms. */
export function parseDuration(value: string): number {
  if (value.trim() === "0") return 0;
  const match = /^\s*(\d+)\s*([smhd])\s*$/i.exec(value);
  const ms = match
    ? Number(match[1]) * DURATION_UNITS[match[2]!.toLowerCase()]!
    : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > 3650 * 86_400_000) {
    throw new InvalidArgumentError(
      "Give a duration like 7d, 12h, 30m or 90s (at most 3650d), or 0 for no limit.",
    );
  }
  return ms;
}

/**
 * `--allowed-host NAME`, repeatable: one host name each time, added to
 * those given before.
 */
function parseAllowedHost(value: string, previous: string[] = []): string[] {
  if (hostName(value) === null) {
    throw new InvalidArgumentError(
      "Give a host name, such as chat.example.org (no scheme or path).",
    );
  }
  return [...previous, value];
}

/**
 * `--trusted-proxy ADDRESS[,ADDRESS...]`, repeatable: IP addresses, added
 * to those given before.
 */
function parseTrustedProxies(
  value: string,
  previous: string[] = [],
): string[] {
  const addresses = value.split(",").map((one) => one.trim());
  for (const address of addresses) {
    if (ipLiteral(address) === null) {
      throw new InvalidArgumentError(
        `'${address}' is not an IP address. Give the address the proxy connects from, as this server sees it, such as 127.0.0.1 or ::1 (several separated by commas).`,
      );
    }
  }
  return [...previous, ...addresses];
}

/**
 * Most new names (or sign-ins) one address may be allowed a minute: past
 * it, a typo.
 */
export const MAX_NEW_NAMES_PER_MINUTE = 10_000;

/** A per-address rate a minute (`--new-names-per-minute`, `--sign-ins-per-minute`). */
function perMinute(value: string): number {
  const count = Number(value);
  if (!/^\d+$/.test(value) || count > MAX_NEW_NAMES_PER_MINUTE) {
    throw new InvalidArgumentError(
      `Give a whole number from 0 to ${MAX_NEW_NAMES_PER_MINUTE} a minute; 0 for no limit.`,
    );
  }
  return count;
}

function parseBits(value: string): RsaBits {
  if (value === "2048" || value === "3072" || value === "4096") {
    return Number(value) as RsaBits;
  }
  throw new InvalidArgumentError("Choose 2048, 3072 or 4096.");
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** "2G", "500MiB", "1048576": sizes in bytes, with binary units. */
export function parseSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new InvalidArgumentError("Give a size like 2G, 500M or 1048576.");
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) {
    throw new InvalidArgumentError("That size is too large.");
  }
  return bytes;
}

function countOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser((value: string) => {
    const count = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(count)) {
      throw new InvalidArgumentError("Give a whole number.");
    }
    return count;
  });
}

/**
 * A budget of one address, so many an hour (account_budgets.ts): its
 * default from there, 0 for no limit, and a bound past which a number is a
 * typo rather than a budget.
 */
function budgetOption(
  flags: string,
  what: string,
  budget: keyof AccountBudgetLimits,
): Option {
  return new Option(
    flags,
    `${what}, 0 for no limit (default ${
      DEFAULT_ACCOUNT_BUDGETS[budget]
    }; with --cluster, counted across the nodes: give each the same)`,
  ).argParser((value: string) => {
    const count = Number(value);
    if (!/^\d+$/.test(value) || count > MAX_ACCOUNT_BUDGET) {
      throw new InvalidArgumentError(
        `Give a whole number from 0 to ${MAX_ACCOUNT_BUDGET} an hour; 0 for no limit.`,
      );
    }
    return count;
  });
}

function sizeOption(what: string): Option {
  return new Option("--max-file-size <size>", `${what}, e.g. 2G or 500M`)
    .default(DEFAULT_MAX_FILE_BYTES, "2G").argParser(parseSize);
}

function joinPath(dir: string, file: string): string {
  return dir.endsWith("/") ? `${dir}${file}` : `${dir}/${file}`;
}

/**
 * After a usage error every command points to its own help (`chat serve
 * --help`, not `chat --help`): that is where the flag it got wrong is.
 * Set after all subcommands exist, as each copies its parent's setting.
 */
function pointToOwnHelp(command: Command, parents = ""): void {
  const path = `${parents}${command.name()}`;
  command.showHelpAfterError(helpHint(path));
  for (const sub of command.commands) pointToOwnHelp(sub, `${path} `);
}

/** The line after a usage error of command `path` (`chat serve`). */
function helpHint(path: string): string {
  return `(run '${path} --help' for usage)`;
}

/**
 * What to type, said after the parser's own words for the mistakes of a
 * newcomer: `chat connect` alone ("missing required argument 'host'" names
 * a parser's word, not what to type), and the seed's `client.py IP
 * public.pem` and `server.py private.pem` (a key or a port given without
 * its flag: "too many arguments"). Null for other mistakes.
 */
function newcomerHint(
  command: string | undefined,
  code: string,
  operands: readonly string[],
): string | null {
  const example = "chat connect 192.168.1.104 --pub public.pem";
  if (command === "connect" && code === "commander.missingArgument") {
    return `Put the server's address after connect, as chat serve printed it: ${example}`;
  }
  if (command === "connect" && code === "commander.excessArguments") {
    return operands.slice(1).every((operand) => /^\d+$/.test(operand))
      ? "The port goes after --port (or the address, as 192.168.1.104:8767): chat connect 192.168.1.104 --port 8767"
      : `The server's public key goes after --pub: ${example}`;
  }
  if (command === "serve" && code === "commander.excessArguments") {
    return "The private key goes after --key: chat serve --key keys/private.pem";
  }
  return null;
}

export function parseCommandLine(args: readonly string[]): CliCommand {
  let result: CliCommand | null = null;
  let output = "";
  const program = new Command()
    .name("chat")
    .description("Peer-hosted, encrypted chat for a LAN.")
    .version(VERSION, "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => (output += text),
      writeErr: (text) => (output += text),
    });

  program.command("keygen")
    .description("create the server's RSA key pair (RSA-OAEP, SHA-256)")
    .addOption(
      new Option("--bits <bits>", "key size: 2048, 3072 or 4096").default(3072)
        .argParser(
          parseBits,
        ),
    )
    .option(
      "--out <dir>",
      "folder for private.pem and public.pem",
      DEFAULT_KEY_DIR,
    )
    .option(
      "--private <path>",
      "where to write the private key (overrides --out; public.pem then goes beside it, unless --out or --public says where)",
    )
    .option(
      "--public <path>",
      "where to write the public key (overrides --out)",
    )
    .option("--force", "overwrite existing key files without asking", false)
    .addOption(
      new Option(
        "--public-from <path>",
        "write the public key of this existing private key instead (to public.pem beside it, or --out/--public)",
      ).conflicts(["bits", "private", "identity"]),
    )
    .option(
      "--identity [path]",
      "create your identity key (Ed25519) instead, at PATH or in your config folder",
    )
    .action((opts: {
      bits: RsaBits;
      out: string;
      private?: string;
      public?: string;
      force: boolean;
      publicFrom?: string;
      identity?: string | true;
    }, command: Command) => {
      if (opts.publicFrom !== undefined) {
        // Beside the private key by default: where chat serve looks for it.
        const beside = command.getOptionValueSource("out") === "default";
        result = {
          cmd: "public-key",
          privatePath: opts.publicFrom,
          publicPath: opts.public ??
            (beside
              ? join(dirname(opts.publicFrom), "public.pem")
              : joinPath(opts.out, "public.pem")),
          force: opts.force,
        };
        return;
      }
      if (opts.identity !== undefined) {
        result = {
          cmd: "identity",
          path: opts.identity === true ? null : opts.identity,
          force: opts.force,
        };
        return;
      }
      // A --private path alone gets its public.pem beside it, as
      // --public-from does: where chat serve --key looks for it.
      const besidePrivate = opts.private !== undefined &&
        command.getOptionValueSource("out") === "default";
      result = {
        cmd: "keygen",
        bits: opts.bits,
        privatePath: opts.private ?? joinPath(opts.out, "private.pem"),
        publicPath: opts.public ??
          (besidePrivate
            ? join(dirname(opts.private!), "public.pem")
            : joinPath(opts.out, "public.pem")),
        force: opts.force,
      };
    });

  program.command("serve")
    .description("run a chat server")
    .option("--key <path>", "the server's private key", DEFAULT_PRIVATE_KEY)
    .option("--host <address>", "address to listen on", "0.0.0.0")
    .addOption(
      new Option("--port <port>", "port to listen on").default(DEFAULT_PORT)
        .argParser(parsePort),
    )
    .option(
      "--data <dir>",
      "folder for the server's database (default: chat-data beside the key; :memory: keeps nothing)",
    )
    .addOption(
      new Option(
        "--sync <mode>",
        "full: a reply waits until its data is synced to disk; normal: faster, survives a crash of the server but not a power cut",
      ).choices(["full", "normal"]).default("full"),
    )
    .addOption(sizeOption("largest file the server relays"))
    .addOption(
      countOption(
        "--max-connections <n>",
        "connections open at once (default 20000)",
      ),
    )
    .addOption(
      countOption(
        "--max-per-address <n>",
        "connections from one address (default 64)",
      ),
    )
    .addOption(
      countOption(
        "--rate <n>",
        "messages per second per connection, 0 for no limit (default 20)",
      ),
    )
    .addOption(
      countOption(
        "--burst <n>",
        "messages allowed in a burst above the rate (default 40)",
      ),
    )
    .addOption(
      countOption(
        "--rate-per-address <n>",
        "messages per second from one address, all its connections together, 0 for no limit (default 60)",
      ),
    )
    .addOption(
      countOption(
        "--burst-per-address <n>",
        "messages one address may send in a burst above that rate (default 120)",
      ),
    )
    .addOption(
      countOption(
        "--max-backlog-per-address-mb <n>",
        "MiB queued for the clients of one address together before the one with the most is cut off as not reading, 0 for no limit (default 64)",
      ),
    )
    .addOption(
      countOption(
        "--max-queued-mb <n>",
        "MiB queued for all clients together before the server stops reading senders until half of it is written, 0 for no limit (default 64)",
      ),
    )
    .addOption(
      countOption(
        "--max-store-mb <n>",
        "largest the database may grow, in MiB: past it the oldest messages no one is owed are deleted, then new ones refused; 0 for no cap",
      ).default(DEFAULT_MAX_STORE_BYTES / (1024 * 1024)),
    )
    .addOption(
      countOption(
        "--handshake-rate <n>",
        "new connections (handshakes) per second from one address, 0 for no limit (default 10)",
      ),
    )
    .addOption(
      countOption(
        "--handshake-burst <n>",
        "new connections allowed in a burst above the handshake rate (default 30)",
      ),
    )
    .addOption(
      countOption(
        "--max-unfinished <n>",
        "connections still in their handshake, on the server, 0 for no limit (default 256)",
      ),
    )
    .addOption(
      countOption(
        "--max-unfinished-per-address <n>",
        "connections still in their handshake, from one address, 0 for no limit (default 8)",
      ),
    )
    .addOption(
      new Option(
        "--new-names-per-minute <n>",
        `names never seen before that one address may register a minute, in bursts of three times that; 0 for no limit (default ${DEFAULT_CONNECTION_LIMITS.newNamesPerMinutePerAddress}; the server's own machine is not held to it)`,
      ).argParser(perMinute),
    )
    .addOption(
      new Option(
        "--sign-ins-per-minute <n>",
        `sign-ins (each told to everyone signed in, and its end too) that one address may make a minute, in bursts of three times that; 0 for no limit (default ${DEFAULT_CONNECTION_LIMITS.signInsPerMinutePerAddress}; the server's own machine is not held to it)`,
      ).argParser(perMinute),
    )
    .addOption(
      budgetOption(
        "--groups-per-address <n>",
        "groups the accounts of one address may create an hour, all together",
        "groupsCreatedPerHourPerAddress",
      ),
    )
    .addOption(
      budgetOption(
        "--joins-per-address <n>",
        "groups the accounts of one address may join an hour, all together",
        "groupsJoinedPerHourPerAddress",
      ),
    )
    .addOption(
      budgetOption(
        "--prekeys-per-address <n>",
        "one-time prekeys of all users that one address may take an hour (then key bundles go out without one)",
        "oneTimeKeysPerHourPerAddress",
      ),
    )
    .addOption(
      budgetOption(
        "--prekeys-per-user-per-address <n>",
        "one-time prekeys of one user that one address may take an hour (then that user's go out without one)",
        "oneTimeKeysPerHourPerOwnerPerAddress",
      ),
    )
    .option(
      "--room-frames",
      "seal each batch of public messages once for all who can take it, with an HMAC per member (docs/PROTOCOL.md 3.8); off by default: it saves the server some of its sealing but costs every member more to receive",
    )
    .option(
      "--no-web",
      "serve no web page: a browser at http://HOST:PORT/ gets a 404 (the terminal client still connects)",
    )
    .addOption(
      new Option(
        "--allowed-host <name>",
        "a name browsers may open the page by besides IP addresses, localhost, this machine's name (and NAME.local) and the names in the web certificate; repeatable. Requests naming any other host are refused (DNS rebinding)",
      ).argParser(parseAllowedHost),
    )
    .addOption(
      new Option(
        "--trusted-proxy <addresses>",
        "a reverse proxy in front of this server (nginx, caddy), by the IP address it connects from, several separated by commas; repeatable. A connection from it counts as the client's that its X-Forwarded-For header names, for every limit of one address and in the log, and as over TLS when its X-Forwarded-Proto is https (a proxy that ends TLS: the browser's page is https://); from anywhere else those headers are ignored",
      ).argParser(parseTrustedProxies),
    )
    .addOption(
      new Option(
        "--cluster <urls>",
        "join other chat serve nodes through these NATS servers (nats://USER:PASS@HOST:4222, comma-separated; JetStream on, and a password: whoever can write into NATS can post as anyone); nodes share the server key",
      ).argParser(parseClusterUrls),
    )
    .addOption(
      new Option(
        "--presence-ttl <seconds>",
        "with --cluster: how long a node that died without a word still shows its users elsewhere; the same on every node",
      ).default(15).argParser((value: string) => {
        const seconds = Number(value);
        if (!/^\d+$/.test(value) || seconds < 1 || seconds > 3600) {
          throw new InvalidArgumentError("Give whole seconds from 1 to 3600.");
        }
        return seconds;
      }),
    )
    .addOption(
      new Option(
        "--log-max-age <duration>",
        "with --cluster: how long the cluster's message log keeps records (7d, 12h, 30m; 0 for ever); a node that missed more starts on a copy of a current node's database. Default: the stream's, 7d when new",
      ).argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--log-max-size <size>",
        "with --cluster: the most the message log keeps (2G, 500M; 0 for no cap), oldest records removed first. Default: the stream's, no cap when new",
      ).argParser(parseSize),
    )
    .action((
      opts: {
        web: boolean;
        allowedHost?: string[];
        trustedProxy?: string[];
        roomFrames?: boolean;
        key: string;
        host: string;
        port: number;
        maxFileSize: number;
        data?: string;
        sync: "full" | "normal";
        maxConnections?: number;
        maxPerAddress?: number;
        rate?: number;
        burst?: number;
        ratePerAddress?: number;
        burstPerAddress?: number;
        maxBacklogPerAddressMb?: number;
        maxQueuedMb?: number;
        maxStoreMb: number;
        handshakeRate?: number;
        handshakeBurst?: number;
        maxUnfinished?: number;
        maxUnfinishedPerAddress?: number;
        newNamesPerMinute?: number;
        signInsPerMinute?: number;
        groupsPerAddress?: number;
        joinsPerAddress?: number;
        prekeysPerAddress?: number;
        prekeysPerUserPerAddress?: number;
        cluster?: string[];
        presenceTtl: number;
        logMaxAge?: number;
        logMaxSize?: number;
      },
      command: Command,
    ) => {
      result = {
        cmd: "serve",
        keyPath: opts.key,
        keyPathIsDefault: command.getOptionValueSource("key") === "default",
        host: opts.host,
        port: opts.port,
        maxFileBytes: opts.maxFileSize,
        dataDir: opts.data ?? null,
        sync: opts.sync === "normal" ? "NORMAL" : "FULL",
        connectionLimits: {
          ...(opts.maxConnections === undefined
            ? {}
            : { maxConnections: opts.maxConnections }),
          ...(opts.maxPerAddress === undefined
            ? {}
            : { maxConnectionsPerAddress: opts.maxPerAddress }),
          ...(opts.rate === undefined ? {} : { messagesPerSecond: opts.rate }),
          ...(opts.burst === undefined ? {} : { messageBurst: opts.burst }),
          ...(opts.ratePerAddress === undefined
            ? {}
            : { messagesPerSecondPerAddress: opts.ratePerAddress }),
          ...(opts.burstPerAddress === undefined
            ? {}
            : { messageBurstPerAddress: opts.burstPerAddress }),
          ...(opts.maxBacklogPerAddressMb === undefined ? {} : {
            maxBacklogBytesPerAddress: opts.maxBacklogPerAddressMb * 1024 *
              1024,
          }),
          ...(opts.maxQueuedMb === undefined
            ? {}
            : { maxQueuedBytes: opts.maxQueuedMb * 1024 * 1024 }),
          ...(opts.handshakeRate === undefined
            ? {}
            : { handshakesPerSecond: opts.handshakeRate }),
          ...(opts.handshakeBurst === undefined
            ? {}
            : { handshakeBurst: opts.handshakeBurst }),
          ...(opts.maxUnfinished === undefined
            ? {}
            : { maxUnfinished: opts.maxUnfinished }),
          ...(opts.maxUnfinishedPerAddress === undefined
            ? {}
            : { maxUnfinishedPerAddress: opts.maxUnfinishedPerAddress }),
          // The burst keeps the default's ratio (10 a minute, 30 at once):
          // a class signing up together.
          ...(opts.newNamesPerMinute === undefined ? {} : {
            newNamesPerMinutePerAddress: opts.newNamesPerMinute,
            newNameBurstPerAddress: 3 * opts.newNamesPerMinute,
          }),
          ...(opts.signInsPerMinute === undefined ? {} : {
            signInsPerMinutePerAddress: opts.signInsPerMinute,
            signInBurstPerAddress: 3 * opts.signInsPerMinute,
          }),
        },
        addressBudgets: {
          ...(opts.groupsPerAddress === undefined
            ? {}
            : { groupsCreatedPerHourPerAddress: opts.groupsPerAddress }),
          ...(opts.joinsPerAddress === undefined
            ? {}
            : { groupsJoinedPerHourPerAddress: opts.joinsPerAddress }),
          ...(opts.prekeysPerAddress === undefined
            ? {}
            : { oneTimeKeysPerHourPerAddress: opts.prekeysPerAddress }),
          ...(opts.prekeysPerUserPerAddress === undefined ? {} : {
            oneTimeKeysPerHourPerOwnerPerAddress: opts.prekeysPerUserPerAddress,
          }),
        },
        maxStoreBytes: opts.maxStoreMb * 1024 * 1024,
        web: opts.web,
        allowedHosts: opts.allowedHost ?? [],
        trustedProxies: opts.trustedProxy ?? [],
        roomFrames: opts.roomFrames === true,
        cluster: opts.cluster ?? null,
        presenceTtlMs: opts.presenceTtl * 1000,
        logRetention: {
          ...(opts.logMaxAge === undefined ? {} : { maxAgeMs: opts.logMaxAge }),
          ...(opts.logMaxSize === undefined
            ? {}
            : { maxBytes: opts.logMaxSize }),
        },
      };
    });

  program.command("connect")
    .description("connect to a chat server")
    .argument(
      "<host>",
      "IP, host name, host:port or ws:// URL of the server; several, separated by commas, for nodes of one server (a name with several addresses counts as several): chat connects to the first that answers and moves to the next when its node goes away",
    )
    .addOption(
      new Option("--port <port>", `server port (default ${DEFAULT_PORT})`)
        .argParser(parsePort),
    )
    .option(
      "--pub <path>",
      `the server's public key (default: ${DEFAULT_PUBLIC_KEY} if it exists, else the key remembered for that server)`,
    )
    .option(
      "--trust-first-use",
      "trust and remember the key an unknown server presents, without asking (needed in a script without --pub)",
      false,
    )
    .option(
      "--identity <path>",
      "your identity key (default: identity.pem in your config folder)",
    )
    .option("--user <name>", "username (otherwise you are asked)")
    .option(
      "--downloads <dir>",
      "folder for received files (default: chat-downloads in your Downloads or home folder)",
    )
    .option(
      "--no-open",
      "never open received files (by default, on a terminal, images, audio, video, PDF and plain text are opened with xdg-open, open or Start-Process)",
    )
    .option(
      "--open-with <command>",
      "open the received files chat opens (images, audio, video, PDF, plain text) with this command instead of the platform's opener, in a script too",
    )
    .addOption(
      new Option(
        "--accept-files <policy>",
        "which file offers to take: ask (each time), trusted (only senders you chose always for), all, none (default: ask on a terminal and with --json, none otherwise)",
      ).choices(ACCEPT_POLICIES),
    )
    .addOption(sizeOption("largest file you accept"))
    .option(
      "--no-reconnect",
      "exit when the connection drops instead of reconnecting",
    )
    .option(
      "--json",
      "one JSON object per line on stdout for every event; commands as lines or JSON objects on stdin (README: JSON mode)",
      false,
    )
    .option("--no-time", "do not show [HH:MM] before received lines")
    .option(
      "--no-history-file",
      "do not keep the lines you type in your config folder (history/<server key>)",
    )
    .action((target: string, opts: {
      port?: number;
      pub?: string;
      trustFirstUse: boolean;
      identity?: string;
      user?: string;
      downloads?: string;
      open: boolean;
      openWith?: string;
      acceptFiles?: AcceptPolicy;
      maxFileSize: number;
      reconnect: boolean;
      json: boolean;
      time: boolean;
      historyFile: boolean;
    }) => {
      result = {
        cmd: "connect",
        target,
        port: opts.port ?? null,
        pubPath: opts.pub ?? null,
        trustFirstUse: opts.trustFirstUse,
        user: opts.user ?? null,
        identityPath: opts.identity ?? null,
        downloads: opts.downloads ?? null,
        open: opts.open,
        openWith: opts.openWith ?? null,
        acceptFiles: opts.acceptFiles ?? null,
        maxFileBytes: opts.maxFileSize,
        reconnect: opts.reconnect,
        json: opts.json,
        time: opts.time,
        historyFile: opts.historyFile,
      };
    });

  const admin = program.command("admin").description(
    "look after a server's data",
  );
  admin.command("release")
    .description(
      "free a username from its identity key, for a user who lost their key",
    )
    .argument("<name>", "the username")
    .option(
      "--data <dir>",
      "the server's data folder",
      `${DEFAULT_KEY_DIR}/chat-data`,
    )
    .addOption(
      new Option(
        "--cluster <urls>",
        "release it in the cluster joined through these NATS servers (as given to chat serve --cluster), for every node, instead of in --data",
      ).argParser(parseClusterUrls),
    )
    .action((name: string, opts: { data: string; cluster?: string[] }) => {
      result = {
        cmd: "release",
        name,
        dataDir: opts.data,
        cluster: opts.cluster ?? null,
      };
    });

  pointToOwnHelp(program);
  try {
    program.parse([...args], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // The command is the first word: the program takes no option before
      // it but --help and --version, which end it.
      const name = args[0];
      const command = program.commands.find((one) => one.name() === name);
      const hint = newcomerHint(name, error.code, command?.args ?? []);
      if (hint !== null) {
        const said = error.message.replace(/\.?$/, ".");
        output = `${said} ${hint}\n${helpHint(`chat ${name}`)}\n`;
      }
      return {
        cmd: "exit",
        code: error.exitCode,
        output: withoutClusterCredentials(output, args),
      };
    }
    throw error;
  }
  if (result === null) {
    return { cmd: "exit", code: 2, output: program.helpInformation() };
  }
  return result;
}
