/**
 * `chat`: peer-hosted, encrypted LAN chat.
 *
 *     chat keygen [--bits 3072] [--out keys] [--force]
 *     chat keygen --public-from keys/private.pem [--out DIR | --public PATH] [--force]
 *     chat serve [--key keys/private.pem] [--host 0.0.0.0] [--port 8767]
 *     chat connect HOST[,HOST...] [--port 8767] [--pub keys/public.pem | --trust-first-use] [--user NAME]
 *
 * Parses the command line, runs the command, and is the only caller of Deno.exit.
 */

import { shownCharacter } from "./src/text/shown_character.ts";
import {
  type CliCommand,
  DEFAULT_PRIVATE_KEY,
  DEFAULT_PUBLIC_KEY,
  parseCommandLine,
} from "./src/cli.ts";
import { dirname, join, resolve } from "node:path";
import { defaultKnownHostsPath, KnownHosts } from "./src/client/known_hosts.ts";
import {
  defaultTrustedSendersPath,
  TrustedSenders,
} from "./src/client/trusted_senders.ts";
import { runSession } from "./src/client/session.ts";
import type { E2eOpening } from "./src/client/session_e2e.ts";
import type { ServerTrust } from "./src/client/server_connect.ts";
import { createKeyring } from "./src/client/e2e_keys.ts";
import {
  type E2eFolder,
  E2eKeysUnreadable,
  openE2eFiles,
} from "./src/client/e2e_files.ts";
import { defaultStorageKeyPath } from "./src/client/storage_key.ts";
import { emptyE2eState } from "./src/client/e2e_state.ts";
import { KnownIdentities } from "./src/client/known_identities.ts";
import { defaultKnownIdentitiesPath } from "./src/client/known_identities_file.ts";
import type { Identity } from "./src/crypto/identity.ts";
import {
  createIdentityFile,
  defaultConfigDir,
  defaultIdentityPath,
  loadOrCreateIdentity,
} from "./src/crypto/identity_files.ts";
import {
  invalidUsername,
  isValidName,
  nameKey,
} from "./src/protocol/limits.ts";
import { DATABASE_FILE, openStore } from "./src/store/sqlite_store.ts";
import { parseTargets } from "./src/client/target.ts";
import { expandNames } from "./src/client/target_addresses.ts";
import {
  leaveBracketedPasteLater,
  openTerminal,
} from "./src/client/terminal.ts";
import { diagnosticsOnStderr } from "./src/client/json_terminal.ts";
import {
  FINAL_FLUSH_STALL_MS,
  StdoutQueue,
  unwrittenText,
} from "./src/client/stdout_queue.ts";
import {
  existingKeyFiles,
  inspectPublicKeyFile,
  keepingKeysRefusal,
  keyPairExists,
  readPrivateKeyFile,
  readPublicKeyFile,
  replacingKeysNote,
  writeKeyPair,
  writePublicKeyFile,
} from "./src/crypto/key_files.ts";
import { describeIoError } from "./src/fs/io_errors.ts";
import { fingerprint, generateRsaKeyPair } from "./src/crypto/keys.ts";
import { parseOpenWith } from "./src/files/open.ts";
import { defaultDownloadsDir, sharedFolderWarning } from "./src/files/save.ts";
import { defaultLog, startServer } from "./src/server/serve.ts";
import { startMemoryTrim } from "./src/server/memory_trim.ts";
import { unprovableNames } from "./src/server/identity_gate.ts";
import type { ReleasedName, Store } from "./src/store/store.ts";
import {
  connectHint,
  type Launcher,
  type PublicKeyBeside,
  webAddresses,
  webHint,
} from "./src/server/connect_hint.ts";
import { upInterfaceAddresses } from "./src/server/interfaces.ts";
import { machineHostName } from "./src/server/machine_name.ts";
import { machineNames } from "./src/server/allowed_host.ts";
import type { TlsCredentials } from "./src/server/tls_certificate.ts";
import type {
  CertificateReply,
  CertificateRequest,
} from "./src/server/tls_certificate_worker.ts";
import {
  createPrivateDir,
  describeModeChange,
  looseMode,
  restrictMode,
  unprotectedKeyWarning,
} from "./src/fs/private_paths.ts";
import { messageOf } from "./src/transport/secure_channel.ts";
import { portHolder, portInUseMessage } from "./src/server/port_holder.ts";

async function keygen(
  command: Extract<CliCommand, { cmd: "keygen" }>,
): Promise<number> {
  // One file for both (--private DIR/public.pem, whose public key goes
  // beside it): the public key would be written over the private one,
  // with --force even after saying the private key was saved.
  if (resolve(command.privatePath) === resolve(command.publicPath)) {
    console.error(
      `chat: The private and the public key would both be written to ${command.privatePath}; give the public key its own path with --public PATH`,
    );
    return 1;
  }
  let force = command.force;
  const existing = force
    ? null
    : await existingKeyFiles(command.privatePath, command.publicPath);
  if (existing !== null) {
    if (!Deno.stdin.isTerminal()) {
      console.error(`chat: ${keepingKeysRefusal(existing)}`);
      return 1;
    }
    let answer: string | null;
    try {
      // The seed's question alone did not say that keys are there, nor
      // that a yes replaces the server's key everyone connects with.
      console.log(replacingKeysNote(existing, command.publicPath));
      answer = prompt("Do you want to create new key pairs? (yes/no):");
    } catch {
      // The question could not be written (stdout a pipe nobody reads any
      // more: | head -0): nobody said yes, so the keys stay.
      answer = null;
    }
    if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
      console.log("Keeping the existing keys.");
      return 0;
    }
    force = true;
  }
  const pair = await generateRsaKeyPair(command.bits);
  await writeKeyPair({
    privatePath: command.privatePath,
    publicPath: command.publicPath,
    privatePem: pair.privatePem,
    publicPem: pair.publicPem,
    force,
  });
  console.log(`Private key saved to ${command.privatePath}`);
  console.log(`Public key saved to ${command.publicPath}`);
  console.log(`Fingerprint: ${pair.fingerprint}`);
  return 0;
}

/**
 * `chat keygen --public-from`: the public half of an existing private key,
 * for an operator who has only the private one (ssh-keygen -y).
 */
async function publicKeyFrom(
  command: Extract<CliCommand, { cmd: "public-key" }>,
): Promise<number> {
  const key = await readPrivateKeyFile(command.privatePath).catch((error) => {
    // Not "run 'chat keygen' to create one": a new key is not the one
    // people already have, so its public key would be of no use to them.
    if (error?.cause instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot read private key '${command.privatePath}': file not found; give the path of the existing private key`,
      );
    }
    throw error;
  });
  warnIfUnprotected(
    command.privatePath,
    "can pose as this server to every client",
  );
  const done = await writePublicKeyFile(command.publicPath, key.publicSpki, {
    force: command.force,
  });
  switch (done) {
    case "created":
      console.log(
        `Public key of ${command.privatePath} saved to ${command.publicPath}`,
      );
      break;
    case "replaced":
      console.log(
        `Public key of ${command.privatePath} saved to ${command.publicPath}, replacing what it held`,
      );
      break;
    case "unchanged":
      console.log(
        `${command.publicPath} already holds the public key of ${command.privatePath}; left as it is`,
      );
      break;
    default: {
      const unreachable: never = done;
      return unreachable;
    }
  }
  // Worded as chat serve prints it, for comparing the two out loud.
  console.log(`Server key fingerprint: ${key.fingerprint}`);
  return 0;
}

async function serve(
  command: Extract<CliCommand, { cmd: "serve" }>,
): Promise<number> {
  if (
    command.keyPathIsDefault &&
    !await keyPairExists(command.keyPath, DEFAULT_PUBLIC_KEY)
  ) {
    // First run just works: make the default key pair and say where it is.
    const pair = await generateRsaKeyPair(3072);
    await writeKeyPair({
      privatePath: DEFAULT_PRIVATE_KEY,
      publicPath: DEFAULT_PUBLIC_KEY,
      privatePem: pair.privatePem,
      publicPem: pair.publicPem,
      force: false,
    });
    console.log(
      `No key found; created ${DEFAULT_PRIVATE_KEY} and ${DEFAULT_PUBLIC_KEY}`,
    );
  }
  const { privateKey, publicSpki } = await readPrivateKeyFile(command.keyPath);
  warnIfUnprotected(
    command.keyPath,
    "can pose as this server to every client",
  );
  // Before the server starts: the file people need exists even if it stops.
  const publicKey = await publicKeyBeside(command.keyPath, publicSpki);
  const dataDir = command.dataDir ??
    join(dirname(command.keyPath), "chat-data");
  if (dataDir !== ":memory:") prepareDataDir(dataDir);
  const store = openStore(
    dataDir === ":memory:" ? ":memory:" : join(dataDir, DATABASE_FILE),
    {
      synchronous: command.sync,
      notice: (line) => console.log(line),
      maxBytes: command.maxStoreBytes,
    },
  );
  // Before anyone connects: starting the worker stalls this thread.
  store.startCheckpointer();
  // Only with --cluster is the NATS client loaded at all.
  const cluster = command.cluster === null
    ? null
    : await (await import("./src/server/cluster/node.ts")).ClusterNode.start({
      urls: command.cluster,
      presenceTtlMs: command.presenceTtlMs,
      logRetention: command.logRetention,
      log: defaultLog,
    });
  // A node's database is its copy of the cluster's message log (issue 19).
  await cluster?.log.check(
    store.lastMessageId(),
    dataDir,
    Math.max(store.lastMessageId(), store.logPosition()) + 1,
  ).catch(
    async (error) => {
      await cluster.close();
      throw error;
    },
  );
  // The web page's certificate (issue 18); --no-web serves no page, no TLS.
  const certificate = command.web
    ? await webCertificate(command.host, dataDir)
    : null;
  // The names browsers may reach the page and its WebSocket by, besides
  // addresses and localhost (allowed_host.ts): every other is refused, as a
  // DNS rebinding site's would be.
  const machine = machineHostName();
  // The executable, or the sources through `deno task chat`: the commands
  // the server tells people to run are written the same way.
  const launcher: Launcher = Deno.build.standalone ? "executable" : "sources";
  const allowedHosts = [
    ...command.allowedHosts,
    ...(machine === null ? [] : machineNames(machine)),
    ...(certificate?.names ?? []),
    // A name given as --host is one this machine has.
    command.host,
  ];
  let server;
  try {
    server = await startServer({
      hostname: command.host,
      port: command.port,
      privateKey,
      publicSpki,
      store,
      limits: { maxFileBytes: command.maxFileBytes, ...command.addressBudgets },
      connectionLimits: command.connectionLimits,
      web: command.web,
      allowedHosts,
      launcher,
      trustedProxies: command.trustedProxies,
      roomFrames: command.roomFrames,
      ...(cluster === null ? {} : { cluster }),
      ...(certificate === null ? {} : { tls: certificate }),
    });
  } catch (error) {
    await cluster?.close();
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        portInUseMessage(
          command.port,
          await portHolder(command.host, command.port),
        ),
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new Error(
        `Cannot listen on ${command.host}: no such address on this machine`,
      );
    }
    throw error;
  }
  // Before the first line is printed: whoever waits for that line to know the
  // server is up may stop it at once, and must get a clean shutdown.
  let stopped: Promise<void> | undefined;
  const stop = () => {
    // Said once: Ctrl-C under `deno task` reaches the server twice, from
    // the terminal and forwarded by the task runner.
    if (stopped !== undefined) return;
    console.log("Shutting down...");
    // Everything acknowledged is already committed; closing checkpoints the WAL.
    stopped = server.shutdown().then(() => cluster?.close()).then(() =>
      store.close()
    );
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  // An IPv6 address in a URL is bracketed: ws://[::]:8767.
  const shownHost = command.host.includes(":") && !command.host.startsWith("[")
    ? `[${command.host}]`
    : command.host;
  console.log(
    `WebSocket server started and listening on ws://${shownHost}:${server.port}`,
  );
  console.log(`Server key fingerprint: ${server.fingerprint}`);
  console.log(
    dataDir === ":memory:"
      ? "Keeping nothing on disk (--data :memory:)"
      : `Data is kept in ${dataDir}`,
  );
  if (command.trustedProxies.length > 0) {
    console.log(
      `Behind a reverse proxy: a connection from ${
        command.trustedProxies.join(", ")
      } counts as the client's its X-Forwarded-For names`,
    );
  }
  if (cluster !== null) {
    console.log(
      `Node ${cluster.id} joined the cluster through NATS at ${cluster.server}`,
    );
  }
  await warnUnprovableNames(store, dataDir);
  for (
    const line of connectHint({
      host: command.host,
      port: server.port,
      interfaces: upInterfaceAddresses(),
      publicKey,
      privateKeyPath: command.keyPath,
      launcher,
    })
  ) console.log(line);
  // --no-web: no page to point browsers at.
  const webLines = certificate !== null
    ? webHint({
      host: command.host,
      port: server.port,
      interfaces: upInterfaceAddresses(),
      certificateFingerprint: certificate.fingerprint,
    })
    : [];
  for (const line of webLines) console.log(line);

  await server.finished;
  // A stop ends server.finished once the sockets are closed, before the
  // cluster is told this node is gone and the database is closed: exiting
  // then left the other nodes to wait out the TTL ("not heard from").
  await stopped;
  return 0;
}

/**
 * The `public.pem` beside the private key: the file to hand out. Written when
 * there is none (only a private key was copied, or it was made elsewhere), as
 * `chat keygen --public-from` would; anything else there is left alone.
 */
async function publicKeyBeside(
  keyPath: string,
  publicSpki: Uint8Array,
): Promise<PublicKeyBeside> {
  const path = join(dirname(keyPath), "public.pem");
  // Not a reason to refuse to serve: the hint says how to write it.
  const unwritable = (error: unknown): PublicKeyBeside => ({
    kind: "unwritable",
    path,
    reason: describeIoError(
      error instanceof Error ? error.cause ?? error : error,
      "write",
    ),
  });
  let state;
  try {
    state = await inspectPublicKeyFile(path, publicSpki);
  } catch (error) {
    return unwritable(error);
  }
  switch (state.kind) {
    case "same":
      return { kind: "found", path };
    case "private":
      return { kind: "private", path };
    case "other":
      return { kind: "other", path, holds: state.holds };
    case "none":
      try {
        await writePublicKeyFile(path, publicSpki, { force: false });
        return { kind: "written", path };
      } catch (error) {
        return unwritable(error);
      }
    default: {
      const unreachable: never = state;
      return unreachable;
    }
  }
}

/**
 * The TLS certificate for the web page, for every address of this machine:
 * the one kept in the data folder, or a new one (said so).
 */
async function webCertificate(
  host: string,
  dataDir: string,
): Promise<TlsCredentials> {
  // Every address the web hint prints, IPv6 too with --host :: (a browser
  // at one the certificate does not name also says it is another site's).
  const addresses = webAddresses(host, upInterfaceAddresses());
  // In a worker of its own: tls_certificate_worker.ts says why.
  const worker = new Worker(
    new URL("./src/server/tls_certificate_worker.ts", import.meta.url),
    { type: "module" },
  );
  const reply = await new Promise<CertificateReply>((resolve) => {
    worker.onmessage = (event: MessageEvent<CertificateReply>) =>
      resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      resolve({ kind: "error", message: event.message });
    };
    const request: CertificateRequest = {
      dataDir: dataDir === ":memory:" ? null : dataDir,
      addresses,
      now: new Date(),
    };
    worker.postMessage(request);
  });
  worker.terminate();
  if (reply.kind === "error") {
    throw new Error(
      `Cannot make the web page's TLS certificate in '${dataDir}': ${reply.message} (or start with --no-web)`,
    );
  }
  const { credentials, origin } = reply;
  if (origin.kind === "made") {
    console.log(
      `Made a TLS certificate for the web page (${origin.why}), valid until ${
        credentials.notAfter.toISOString().slice(0, 10)
      }`,
    );
  } else if (origin.kind === "supplied" && origin.problem !== null) {
    console.log(
      `Using the TLS certificate you put in ${dataDir} as it is, though ${origin.problem}`,
    );
  }
  return credentials;
}

/** The data folder holds every message: created 0700, or narrowed to it. */
function prepareDataDir(dataDir: string): void {
  try {
    createPrivateDir(dataDir);
    const change = restrictMode(dataDir);
    if (change !== null) {
      console.log(describeModeChange(change, "the data folder"));
    }
  } catch (error) {
    throw new Error(
      `Cannot prepare the data folder '${dataDir}': ${messageOf(error)}`,
    );
  }
}

/**
 * Names bound to a key of small order (or not canonically encoded) before
 * such keys were refused cannot be signed in with by anyone any more; they
 * are not released behind the operator's back: each is named with the
 * command that frees it.
 */
async function warnUnprovableNames(
  store: Store,
  dataDir: string,
): Promise<void> {
  for (const user of await unprovableNames(store.listUsers())) {
    console.log(
      `WARNING: the name '${user.name}' is bound to an identity key nobody can sign in with (${user.fingerprint}: a key of small order, accepted before such keys were refused). Free it with: chat admin release ${user.name} --data ${dataDir}`,
    );
  }
}

/**
 * The configuration folder holds the identity key and the servers one talks
 * to: one made by an older version, or by hand, that others can read is
 * narrowed to 0700 (a missing one is created 0700 when first written).
 */
function narrowConfigDir(say: (line: string) => void = console.log): void {
  const dir = defaultConfigDir();
  try {
    const change = restrictMode(dir);
    if (change !== null) {
      say(describeModeChange(change, "your configuration folder"));
    }
  } catch (error) {
    console.error(
      `chat: Cannot make your configuration folder '${dir}' private (${
        messageOf(error)
      }); run chmod 700 on it`,
    );
  }
}

/** As ssh does for a private key others can read, but warn rather than refuse. */
function warnIfUnprotected(path: string, risk: string): void {
  const mode = looseMode(path);
  if (mode !== null) console.error(unprotectedKeyWarning(path, mode, risk));
}

/**
 * The exit status of a `chat connect` whose stdout nobody reads any more
 * (`| head -1`): what a shell reports for a program SIGPIPE ended (128 + 13),
 * as `yes | head -1` ends. Deno ignores SIGPIPE (a write fails with EPIPE
 * instead), so the status is given here.
 */
const OUTPUT_GONE_STATUS = 141;

async function connect(
  command: Extract<CliCommand, { cmd: "connect" }>,
): Promise<number> {
  // A --user the server would refuse is refused here, in its words and with
  // the exit code of a refused name, before a connection, a key or a folder
  // is made for it.
  if (command.user !== null && !isValidName(command.user)) {
    // The character itself beside its code point: it reaches our terminal.
    console.error(invalidUsername(command.user, shownCharacter));
    return 1;
  }
  // As the server does: a file's chunks (128 KiB buffers, just past glibc's
  // mmap threshold) otherwise land in fresh pages, faulted in and given
  // back for every chunk. Receiving 256 MiB took 10,700-15,800 minor page
  // faults without it and about 2,900 with it (bench/BASELINE.md, "Files").
  // The trims give freed memory back; quietly, not on the user's screen.
  startMemoryTrim({ log: () => {} });
  // Several addresses, or a name with several: nodes of one chat (issue 19).
  const urls = await expandNames(
    parseTargets(command.target, command.port),
    (name, type) => Deno.resolveDns(name, type),
  );
  // In --json, stdout carries JSON lines only.
  const say = command.json ? console.error : console.log;
  const trust = await serverTrust(
    command.pubPath,
    command.trustFirstUse,
    say,
  );
  if (command.identityPath === null || trust.kind === "known-hosts") {
    narrowConfigDir(say);
  }
  const identityPath = command.identityPath ?? defaultIdentityPath();
  const { identity, created } = await loadOrCreateIdentity(identityPath);
  if (created) {
    say(
      `Created your identity key ${identity.fingerprint} in ${identityPath}`,
    );
  } else {
    warnIfUnprotected(identityPath, "can sign in with your names");
  }
  if (command.downloads !== null) {
    // A folder the user named keeps its mode: say when others can write it.
    const warning = await sharedFolderWarning(command.downloads);
    if (warning !== null) console.error(warning);
  }
  let e2e: (name: string) => Promise<E2eOpening>;
  try {
    e2e = await e2eKeysFor(identity, command.user);
  } catch (error) {
    if (!(error instanceof E2eKeysUnreadable)) throw error;
    console.error(`ERROR: ${error.message}`);
    return 1;
  }
  // A program's lines (--json, or a script's: stdin not a terminal), and
  // all a person's terminal shows, are written in the background: a program
  // that stops reading, or a terminal that stops taking output (a stalled
  // ssh connection), does not stop the client (stdout_queue.ts).
  const stdout = new StdoutQueue(Deno.stdout);
  // A person's stdout is written by the terminal: gone, the session ends.
  let terminalOutputGone = false;
  const terminal = command.json
    ? diagnosticsOnStderr(openTerminal(true))
    : openTerminal(false, stdout, () => (terminalOutputGone = true));
  const trusted = await loadTrustedSenders();
  const json = command.json ? stdout : null;
  // A script's lines, and a person's terminal's, are queued there too: the
  // session holds off the server's messages while too many wait unread.
  const scriptReader = json === null && !terminal.interactive ? stdout : null;
  const terminalReader = json === null && terminal.interactive ? stdout : null;
  let code: number;
  try {
    code = await runSession({
      e2e,
      ...(json === null ? {} : { json }),
      ...(scriptReader === null ? {} : { scriptReader }),
      ...(terminalReader === null ? {} : { terminalReader }),
      urls,
      trust,
      identity,
      user: command.user,
      terminal,
      reconnect: command.reconnect,
      ui: { time: command.time, historyFile: command.historyFile },
      files: {
        downloadsDir: command.downloads ?? defaultDownloadsDir(),
        ownDownloadsDir: command.downloads === null,
        maxFileBytes: command.maxFileBytes,
        // Nobody can answer for a script: it takes files only when told to.
        // A program in --json answers offer events with commands.
        accept: command.acceptFiles ??
          (terminal.interactive || command.json ? "ask" : "none"),
        trusted,
        // A script's received files are opened only when it asks (--open-with).
        open: command.open &&
          (terminal.interactive || command.openWith !== null),
        openWith: command.openWith === null
          ? null
          : parseOpenWith(command.openWith),
      },
    });
  } finally {
    // A session that ended before it signed in (no server, a wrong key, the
    // name prompt left) leaves no prompt behind for the shell's to follow.
    terminal.close();
    // Every line the session wrote reaches the reader before the exit, as
    // long as it reads: a program that closed our stdin and never reads
    // our stdout would keep us forever.
    const unwritten = await stdout.finalFlush(FINAL_FLUSH_STALL_MS);
    // A reader gone (`| head -1`) is no failure to tell anyone about.
    if (unwritten.gone || terminalOutputGone) code = OUTPUT_GONE_STATUS;
    else if (unwritten.bytes > 0) {
      // Bracketed paste's end was queued behind what was given up.
      leaveBracketedPasteLater();
    }
    if (!(unwritten.gone || terminalOutputGone) && unwritten.lines > 0) {
      // Not on a terminal that took none of the output: the note would wait
      // behind it (the same terminal, as a rule), for ever maybe.
      if (!(Deno.stdout.isTerminal() && Deno.stderr.isTerminal())) {
        console.error(unwrittenText(unwritten, FINAL_FLUSH_STALL_MS));
      }
      code = 1;
    }
  }
  return code;
}

/**
 * How long a chat connect waits, once welcomed, for another one of its
 * identity and name to let the end-to-end keys go (e2e_lock.ts): one the
 * server replaced ends at once; one cut off and reconnecting does not.
 */
const REPLACED_ENDS_MS = 5000;

/**
 * Opens the end-to-end keys (issue 17) of `identity` for the name the
 * server welcomes (e2e_files.ts: kept per identity and name); in memory when
 * there is no config folder. A name given with --user is opened now, before
 * the terminal is taken over, so that keys that cannot be used stop chat
 * connect before it signs in; one typed at the prompt once it is welcomed.
 *
 * @throws {E2eKeysUnreadable} when the --user name's files cannot be used
 */
async function e2eKeysFor(
  identity: Identity,
  user: string | null,
): Promise<(name: string) => Promise<E2eOpening>> {
  let folder: E2eFolder;
  try {
    folder = {
      dir: defaultConfigDir(),
      storageKey: defaultStorageKeyPath(),
      knownIdentities: defaultKnownIdentitiesPath(),
    };
  } catch {
    return async () => ({
      kind: "keys",
      keys: {
        keyring: await createKeyring(identity),
        save: async () => {},
        state: emptyE2eState(),
        saveState: async () => {},
        identities: KnownIdentities.inMemory(),
      },
    });
  }
  // Once welcomed: a chat connect of that name the server has just
  // replaced by this one ends, and lets its keys go, in a moment.
  const open = (name: string) =>
    openE2eFiles(folder, identity, name, REPLACED_ENDS_MS);
  // A name the server refuses anyway has no files.
  if (user === null || !isValidName(user)) return open;
  const given = await openE2eFiles(folder, identity, user);
  return (name) =>
    nameKey(name) === nameKey(user) && given.kind === "keys"
      ? Promise.resolve(given)
      : open(name);
}

/** The senders trusted, per server key; in memory when there is no config folder. */
async function loadTrustedSenders(): Promise<TrustedSenders> {
  let path: string;
  try {
    path = defaultTrustedSendersPath();
  } catch {
    // No $HOME (a service account, say): [a]lways lasts for the session.
    return TrustedSenders.inMemory();
  }
  return await TrustedSenders.load(path);
}

/**
 * --pub pins a key; without it keys/public.pem if there is one, else known
 * hosts, where a server not known yet is asked about on a terminal, trusted
 * with --trust-first-use, and otherwise refused.
 */
async function serverTrust(
  pubPath: string | null,
  trustFirstUse: boolean,
  say: (line: string) => void,
): Promise<ServerTrust> {
  const path = pubPath ??
    (await exists(DEFAULT_PUBLIC_KEY) ? DEFAULT_PUBLIC_KEY : null);
  if (path !== null) {
    const { spki } = await readPublicKeyFile(path);
    // A key file picked up from the current folder decides whom we trust:
    // say so, rather than pin it silently.
    if (pubPath === null) {
      say(`Using the server key in ${path} (${await fingerprint(spki)})`);
    }
    return { kind: "pinned", spki, path };
  }
  return {
    kind: "known-hosts",
    hosts: await KnownHosts.load(defaultKnownHostsPath()),
    firstContact: trustFirstUse
      ? "trust"
      : Deno.stdin.isTerminal()
      ? "ask"
      : "refuse",
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function identityKeygen(
  command: Extract<CliCommand, { cmd: "identity" }>,
): Promise<number> {
  const path = command.path ?? defaultIdentityPath();
  const identity = await createIdentityFile(path, { force: command.force });
  console.log(`Identity key saved to ${path}`);
  console.log(`Fingerprint: ${identity.fingerprint}`);
  return 0;
}

/**
 * What `chat admin release` did with what the store held for the old key
 * (Store.releaseName), for the operator.
 */
function releaseReport(name: string, released: ReleasedName): string {
  const { waiting, groups } = released;
  return [
    `Released '${name}': the next identity key to sign in with that name will own it.`,
    waiting === 0
      ? "No message was waiting for the old key."
      : `Deleted the ${waiting} ${
        waiting === 1 ? "message" : "messages"
      } waiting for the old key.`,
    groups.length === 0
      ? "It was in no group."
      : `Took it out of ${groups.length} ${
        groups.length === 1 ? "group" : "groups"
      }: ${groups.join(", ")}.`,
    "Its private and group history so far stays the old key's: the next key is not shown it.",
  ].join("\n");
}

async function release(
  command: Extract<CliCommand, { cmd: "release" }>,
): Promise<number> {
  if (command.cluster !== null) {
    // Only here is the NATS client loaded, as for chat serve --cluster.
    const { releaseClusterName } = await import(
      "./src/server/cluster/names.ts"
    );
    const released = await releaseClusterName(command.cluster, command.name);
    if (released === null) {
      console.error(
        `chat: The name '${command.name}' is not bound to any key in the cluster`,
      );
      return 1;
    }
    const { was, groups } = released;
    console.log(
      `Released '${command.name}' in the cluster (it was bound to ${was}): the next identity key to sign in with that name, on any node, will own it.`,
    );
    console.log(
      groups.length === 0
        ? "It was in no group."
        : `Took it out of ${groups.length} ${
          groups.length === 1 ? "group" : "groups"
        }: ${groups.join(", ")}.`,
    );
    console.log(
      "Every node cuts off what it holds for the old key (messages waiting, history so far) where the next key takes the name over, before it hands that key anything.",
    );
    return 0;
  }
  const path = join(command.dataDir, DATABASE_FILE);
  if (!await exists(path)) {
    console.error(
      `chat: No chat database in ${command.dataDir} (give the server's --data folder)`,
    );
    return 1;
  }
  const store = openStore(path);
  try {
    const released = store.releaseName(nameKey(command.name), Date.now());
    if (released === null) {
      console.error(
        `chat: The name '${command.name}' is not bound to any key in ${command.dataDir} (nobody signed in with it, or it was released already)`,
      );
      return 1;
    }
    console.log(releaseReport(command.name, released));
    return 0;
  } finally {
    store.close();
  }
}

async function main(args: string[]): Promise<number> {
  const command = parseCommandLine(args);
  try {
    switch (command.cmd) {
      case "exit":
        if (command.code === 0) console.log(command.output.trimEnd());
        else console.error(command.output.trimEnd());
        return command.code;
      case "keygen":
        return await keygen(command);
      case "serve":
        return await serve(command);
      case "connect":
        return await connect(command);
      case "public-key":
        return await publicKeyFrom(command);
      case "identity":
        return await identityKeygen(command);
      case "release":
        return await release(command);
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  } catch (error) {
    // Users get one line they can act on, not a stack trace.
    console.error(`chat: ${messageOf(error)}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
