/**
 * The interactive chat session: terminal input -> commands -> requests, and
 * server messages -> rendered lines. Returns the process exit code; never exits.
 */

import { basename } from "node:path";
import { isValidName, nameKey } from "../protocol/limits.ts";
import type { FileOfferNotice, ServerMessage } from "../protocol/messages.ts";
import { messageOf } from "../transport/secure_channel.ts";
import { ChatClient, decodeText, type Reply } from "./chat_client.ts";
import { DeliveryLedger } from "./delivery.ts";
import {
  type Command,
  completeInput,
  helpText,
  parseInput,
} from "./commands.ts";
import { type AcceptPolicy, decideOffer, senderKey } from "./consent.ts";
import { type ConsentAnswer, FileReceiver } from "./file_receiver.ts";
import { OfferPrompts } from "./offer_prompts.ts";
import type { TrustedSenders } from "./trusted_senders.ts";
import { FileSender, type SendTarget } from "./file_sender.ts";
import { removePartial, scanPartials } from "../files/partials.ts";
import {
  formatTransfers,
  type TransferEntry,
  TransferNumbers,
} from "./transfers_view.ts";
import type { SentFileOutcome } from "./render.ts";
import {
  formatBytes,
  formatProgress,
  hasTextBody,
  renderDeclined,
  renderSent,
  renderSentFile,
  renderServerMessage,
  type Style,
} from "./render.ts";
import type { Identity } from "../crypto/identity.ts";
import {
  changedKeyMessage,
  hostKeyOf,
  type KnownHosts,
} from "./known_hosts.ts";
import {
  type Asker,
  askFirstContact,
  type FirstContact,
  firstContactDeclined,
  firstContactRefusal,
} from "./first_contact.ts";
import { KeyMismatchError } from "../crypto/handshake.ts";
import type { Terminal } from "./terminal.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";

/** How the client knows it reached the right server. */
export type ServerTrust =
  /** The key the user gave (--pub, from `path`): anything else is refused. */
  | { kind: "pinned"; spki: Uint8Array; path: string }
  /**
   * The key remembered for that host (known_hosts); a host not known yet is
   * asked about, trusted or refused as `firstContact` says.
   */
  | { kind: "known-hosts"; hosts: KnownHosts; firstContact: FirstContact };

export interface SessionOptions {
  url: string;
  trust: ServerTrust;
  /** Proves the user's name is theirs. */
  identity: Identity;
  user: string | null;
  terminal: Terminal;
  files: FileOptions;
  /** Reconnect automatically when the connection drops (--no-reconnect turns it off). */
  reconnect: boolean;
}

export interface FileOptions {
  downloadsDir: string;
  /** `downloadsDir` is the default folder, chat's own (kept 0700). */
  ownDownloadsDir: boolean;
  maxFileBytes: number;
  /** Which offers are taken, asked about or declined (--accept-files). */
  accept: AcceptPolicy;
  /** Senders accepted without asking (`always`), per server key. */
  trusted: TrustedSenders;
  /** Open received files (with `openWith` or the platform opener). */
  open: boolean;
  openWith: string[] | null;
}

/**
 * A file whose transfer broke (our connection, or a recipient's) is offered
 * again after these pauses, resuming where it stopped; then given up.
 */
const RESEND_DELAYS_MS = [1000, 2000, 4000, 8000, 15_000];

/** Transfers smaller than this finish too fast to need a progress display. */
const PROGRESS_MIN_BYTES = 1024 * 1024;
const PROGRESS_INTERVAL_MS = 250;

/** How long to wait for outstanding replies when input ends. */
const REPLY_GRACE_MS = 5000;

export async function runSession(options: SessionOptions): Promise<number> {
  const { terminal } = options;
  const style: Style = { color: terminal.color, bell: terminal.interactive };
  terminal.print(`Connecting to ${options.url}`);

  // The handshake runs while the user types their name; a failure (wrong key,
  // no server) is reported at once rather than after the prompt.
  const connecting = connectTrusted(options.url, options.trust, terminal);
  const failed = connecting.then(
    () => null,
    (error) => explainConnectError(error, options.url),
  );
  if (asksFirst(options.url, options.trust)) {
    // The key's fingerprint is shown and asked about before the name is.
    const reason = await failed;
    if (reason !== null) {
      terminal.print(`ERROR: ${reason}`);
      return 1;
    }
  }

  let client: ChatClient | null = null;
  let name = options.user;
  // What was shown, kept across reconnections: nothing is shown twice.
  const ledger = new DeliveryLedger();
  for (;;) {
    if (name === null) {
      const answer = await Promise.race([
        terminal.question("Enter your username: "),
        failed.then((
          reason,
        ) => (reason === null ? new Promise<never>(() => {}) : { reason })),
      ]);
      if (answer !== null && typeof answer === "object") {
        terminal.print(`ERROR: ${answer.reason}`);
        return 1;
      }
      if (answer === null) return 1;
      name = answer.trim();
    }
    if (client === null) {
      const reason = await failed;
      if (reason !== null) {
        terminal.print(`ERROR: ${reason}`);
        return 1;
      }
      client = await connecting;
      terminal.print("Handshake Finished. Start AES encrypted transmission");
    }
    const reply = await client.register(name, options.identity, ledger);
    terminal.print(render(reply, "", style).join("\n"));
    if (reply.t === "welcome") break;
    if (reply.t === "error" && reply.code === "internal") return 1; // the connection is gone
    // A name given on the command line is not asked again.
    if (options.user !== null || !terminal.interactive) {
      await client.quit();
      return 1;
    }
    name = null;
  }
  return await chat(client, {
    terminal,
    style,
    files: options.files,
    url: options.url,
    trust: options.trust,
    identity: options.identity,
    reconnect: options.reconnect,
    ledger,
  });
}

/** Reconnection: delays grow from 1 s to 30 s, each with random jitter. */
const RECONNECT_FIRST_MS = 1000;
const RECONNECT_MAX_MS = 30_000;
/** A script gives up after this many attempts; a person at a terminal never does. */
const SCRIPT_RECONNECT_ATTEMPTS = 6;

interface ChatContext {
  terminal: Terminal;
  style: Style;
  files: FileOptions;
  url: string;
  trust: ServerTrust;
  identity: Identity;
  reconnect: boolean;
  ledger: DeliveryLedger;
}

async function chat(first: ChatClient, context: ChatContext): Promise<number> {
  const { terminal, style, files } = context;
  const self = first.name!;
  const users = new Set<string>([self]);
  const groups = new Set<string>();
  terminal.setCompleter((line) =>
    completeInput(line, { users: [...users], groups: [...groups] })
  );
  terminal.setPrompt(terminal.interactive ? `${self}> ` : "");
  if (terminal.interactive) {
    terminal.print(
      "Type a message and press Enter to send it to everyone; /help lists the commands.",
    );
  }

  // Transfers in progress, shown in front of the prompt on a terminal.
  const progress = new Map<string, { line: string; at: number }>();
  const showProgress = (key: string, line: string | null) => {
    if (!terminal.interactive) return;
    const now = Date.now();
    const last = progress.get(key);
    if (line !== null && last && now - last.at < PROGRESS_INTERVAL_MS) return;
    if (line === null) progress.delete(key);
    else progress.set(key, { line, at: now });
    terminal.setStatus(
      progress.size === 0
        ? null
        : [...progress.values()].map((p) => p.line).join(" | "),
    );
  };

  // Partial downloads that cannot be resumed (a part without its
  // description, older than a week) go at start; the others are kept.
  const cleaned = await scanPartials(files.downloadsDir, { clean: true });
  if (cleaned.removed > 0) {
    terminal.print(
      `Removed ${cleaned.removed} stale partial download file(s) from ${
        sanitizeForTerminal(files.downloadsDir)
      }`,
    );
  }

  // Offers are asked about one at a time; an answer is a line of input.
  const prompts = new OfferPrompts((line) => terminal.print(line));
  // `server`: the key this connection verified; trust is per server key, so
  // a new server at the same address does not inherit it.
  const consent = async (
    offer: FileOfferNotice,
    server: string,
  ): Promise<ConsentAnswer> => {
    const decision = decideOffer(
      offer,
      files.accept,
      senderKey(offer) !== null && files.trusted.has(server, senderKey(offer)!),
    );
    switch (decision.kind) {
      case "accept":
        if (decision.note !== null) terminal.print(decision.note);
        return "accept";
      case "decline":
        terminal.print(decision.note);
        return "decline";
      case "ask":
        break;
    }
    const outcome = await prompts.ask(offer);
    switch (outcome) {
      case "yes":
        return "accept";
      case "always":
        try {
          await files.trusted.add(server, senderKey(offer)!, offer.from);
          terminal.print(
            `From now on files from ${sanitizeForTerminal(offer.from)}'s key ${
              senderKey(offer)
            } are accepted without asking (${
              files.trusted.path === null
                ? "for this session: there is no config folder"
                : `remembered in ${files.trusted.path}`
            })`,
          );
        } catch (error) {
          terminal.print(`ERROR: ${messageOf(error)}`);
        }
        return "accept";
      case "timeout":
        return "no_answer";
      case "no":
      case "withdrawn":
      case "busy":
        return "decline";
    }
  };

  /** Everything that lives as long as one connection. */
  const attach = (client: ChatClient) => {
    client.onMessage(({ message, body }) => {
      // The goodbye is reported once, where the connection ends.
      if (message.t === "bye") return;
      learnNames(message, users, groups);
      // File data is not text: decoding each chunk would cost a string as
      // long as the chunk (and a JavaScript heap that grows with the rate).
      const text = hasTextBody(message) ? decodeText(body) : "";
      for (const line of render(message, text, style)) {
        terminal.print(line);
      }
    });
    // Seed tab completion with who and what is there; the replies are not shown.
    void client.request({ t: "list" }).then((r) =>
      learnNames(r, users, groups)
    );
    void client.request({ t: "groups" }).then((r) =>
      learnNames(r, users, groups)
    );
    const receiving = new Map<number, number>();
    const receiver = new FileReceiver(client, {
      ...files,
      resume: true,
      consent: (offer) => consent(offer, client.serverFingerprint),
      print: (line) => terminal.print(line),
      onProgress: (offer, received) => {
        if (offer.size < PROGRESS_MIN_BYTES) return;
        if (!receiving.has(offer.xfer)) receiving.set(offer.xfer, Date.now());
        showProgress(
          `in:${offer.xfer}`,
          formatProgress(
            `${offer.name} from ${offer.from}`,
            received,
            offer.size,
            Date.now() - receiving.get(offer.xfer)!,
          ),
        );
      },
      onFinished: (offer) => {
        // A transfer cancelled while its question waits: no answer is needed.
        prompts.withdraw(offer.xfer);
        receiving.delete(offer.xfer);
        showProgress(`in:${offer.xfer}`, null);
      },
    });
    return { client, receiver, sender: new FileSender(client) };
  };
  let link = attach(first);
  // Resolved (and replaced) whenever a new connection takes over, or when
  // the session ends (then with null).
  let relinked = Promise.withResolvers<boolean>();
  let leaving = false;
  /** Outgoing transfers cancelled with /cancel: not offered again. */
  const cancelled = new Set<number>();

  const sending = new Set<Promise<void>>();
  let nextSend = 1;
  const sendFile = (target: SendTarget, path: string) => {
    const run = sendWithResume(target, path);
    sending.add(run);
    run.finally(() => sending.delete(run));
  };

  /** Sends, then offers again to those a broken connection cut off. */
  const sendWithResume = async (target: SendTarget, path: string) => {
    let targets: SendTarget[] = [target];
    for (let attempt = 0; targets.length > 0; attempt++) {
      const retry: SendTarget[] = [];
      for (const to of targets) {
        const outcome = await sendOnce(to, path, attempt > 0);
        retry.push(...resendTargets(to, outcome, attempt > 0));
      }
      targets = retry;
      if (targets.length === 0 || leaving) return;
      const delay = RESEND_DELAYS_MS[attempt];
      if (delay === undefined) {
        terminal.print(
          `ERROR: Gave up offering ${
            sanitizeForTerminal(basename(path))
          } again; send it again later and it resumes where it stopped`,
        );
        return;
      }
      if (link.client.isOver) {
        // Our connection broke: wait for the next one.
        if (!(await relinked.promise)) return;
      } else {
        await Promise.race([sleep(delay), relinked.promise]);
      }
      if (leaving) return;
    }
  };

  /** What to offer again after `outcome`: its targets that may resume. */
  const resendTargets = (
    target: SendTarget,
    outcome: SentFileOutcome,
    retrying: boolean,
  ): SendTarget[] => {
    switch (outcome.kind) {
      case "refused":
        // While offering again, a recipient not back yet is tried later.
        return retrying && outcome.code === "no_such_user" ? [target] : [];
      case "cancelled":
        return outcome.broken ? [target] : [];
      case "finished":
        return outcome.results.filter((r) => !r.ok && r.resumable).map((r) =>
          "to" in target ? target : { to: r.name }
        );
      default: {
        const unreachable: never = outcome;
        return unreachable;
      }
    }
  };

  const sendOnce = (
    target: SendTarget,
    path: string,
    again: boolean,
  ): Promise<SentFileOutcome> => {
    const key = `out:${nextSend++}`;
    const started = Date.now();
    const label = `${basename(path)} to ${
      "to" in target ? target.to : target.group
    }`;
    return link.sender.send(target, expandHome(path), (p) => {
      if (p.size >= PROGRESS_MIN_BYTES) {
        showProgress(
          key,
          formatProgress(label, p.acked, p.size, Date.now() - started),
        );
      }
    }, (name, size) =>
      terminal.print(
        `Offering ${sanitizeForTerminal(name)} (${formatBytes(size)}) to ${
          sanitizeForTerminal(
            "to" in target ? target.to : `group ${target.group}`,
          )
        }; waiting for an answer.`,
      ), (declined) => {
      // Said as soon as the answers are in, not after a long transfer.
      for (const d of declined) {
        terminal.print(renderDeclined(d, basename(path)));
      }
    }, (offset, size) =>
      terminal.print(
        `Resuming ${sanitizeForTerminal(basename(path))} to ${
          sanitizeForTerminal("to" in target ? target.to : target.group)
        } at ${offset} of ${size} bytes`,
      )).then((outcome) => {
        showProgress(key, null);
        // While offering again, "not online yet" is not worth a line each time.
        if (
          !(again && outcome.kind === "refused" &&
            outcome.code === "no_such_user")
        ) {
          for (const line of renderSentFile(outcome, target)) {
            terminal.print(line);
          }
        }
        if (resendTargets(target, outcome, again).length > 0 && !leaving) {
          terminal.print(
            `${
              sanitizeForTerminal(basename(path))
            } will be offered again, resuming where it stopped`,
          );
        }
        return outcome;
      });
  };

  const numbers = new TransferNumbers();
  const listTransfers = async (): Promise<[number, TransferEntry][]> => {
    const entries: TransferEntry[] = [];
    for (const s of link.sender.list()) {
      entries.push({
        kind: "sending",
        xfer: s.xfer,
        name: s.name,
        to: "to" in s.target ? s.target.to : `group ${s.target.group}`,
        done: s.acked,
        size: s.size,
        resumedAt: s.resumedAt,
      });
    }
    const receiving = link.receiver.list();
    for (const r of receiving) {
      entries.push({
        kind: "receiving",
        xfer: r.xfer,
        name: r.offer.name,
        from: r.offer.from,
        done: r.received,
        size: r.offer.size,
        resumedAt: r.resumedAt,
      });
    }
    const inUse = new Set(receiving.map((r) => r.partPath));
    const { partials } = await scanPartials(files.downloadsDir);
    for (const p of partials) {
      if (inUse.has(p.partPath)) continue;
      entries.push({
        kind: "resumable",
        key: p.key,
        name: p.meta.name,
        from: p.meta.from,
        done: p.held,
        size: p.meta.size,
        modified: p.modified,
      });
    }
    return numbers.number(entries);
  };

  const cancelTransfer = async (n: number): Promise<string[]> => {
    // Numbers refer to the last listing; refresh it so that a finished one
    // is not mistaken for a new one.
    const entry = numbers.get(n);
    if (entry === undefined) {
      return [`ERROR: No transfer ${n}; /transfers lists them`];
    }
    const name = sanitizeForTerminal(entry.name);
    switch (entry.kind) {
      case "sending":
        if (!link.sender.cancel(entry.xfer)) break;
        cancelled.add(entry.xfer);
        return [`Cancelled sending ${name}.`];
      case "receiving":
        if (!link.receiver.cancel(entry.xfer)) break;
        return [`Cancelled receiving ${name}; its partial file is removed.`];
      case "resumable":
        if (!(await removePartial(files.downloadsDir, entry.key))) break;
        return [`Removed the partial download of ${name}.`];
      default: {
        const unreachable: never = entry;
        return unreachable;
      }
    }
    return [`ERROR: Transfer ${n} (${name}) has already ended`];
  };

  // Each command's result is shown in the order the commands were typed, even
  // when a local answer (usage, help) is ready before an earlier server reply.
  let results: Promise<void> = Promise.resolve();
  const showInOrder = (lines: Promise<string[]>) => {
    results = results.then(() => lines).then((ready) => {
      for (const line of ready) terminal.print(line);
    });
  };

  /** Acts on one input line; false when the user asked to leave. */
  const handle = (line: string): boolean => {
    // While an offer waits, y / n / a answer it; anything else is chat.
    if (prompts.answer(line)) return true;
    const command = parseInput(line);
    if (command === null) return true;
    switch (command.kind) {
      case "quit":
        return false;
      case "file":
        sendFile({ to: command.to }, command.path);
        return true;
      case "groupfile":
        sendFile({ group: command.group }, command.path);
        return true;
      case "transfers":
        showInOrder(listTransfers().then(formatTransfers));
        return true;
      case "cancel":
        showInOrder(cancelTransfer(command.number));
        return true;
      default:
        break;
    }
    if (isLocal(command)) {
      showInOrder(Promise.resolve(localReply(command)));
      return true;
    }
    const request = withPatience(() => perform(link.client, command)!);
    // A script sends one command at a time, so a rate-limited server slows it
    // down instead of refusing half of it; a person types slowly anyway.
    if (!terminal.interactive) lastRequest = request.then(() => {});
    showInOrder(request.then((reply) => {
      learnNames(reply, users, groups);
      const sent = command.kind === "say" || command.kind === "msg" ||
        command.kind === "gsay";
      if (reply.t === "ok" && sent) {
        // The server may add a note, e.g. that the recipient is offline.
        return [
          ...renderSent(command, style),
          ...(reply.text ? [sanitizeForTerminal(reply.text)] : []),
        ];
      }
      return render(reply, "", style);
    }));
    return true;
  };

  let lastRequest: Promise<void> = Promise.resolve();

  // The line being waited for survives a reconnection, so nothing typed is lost.
  let pendingLine: Promise<string | null> | null = null;
  const nextLine = () => (pendingLine ??= terminal.nextLine());
  for (;;) {
    const event = await Promise.race([
      nextLine().then((line) => ({ line })),
      link.client.ended.then((ending) => ({ ending })),
    ]);
    if ("line" in event) {
      pendingLine = null;
      if (event.line === null || !handle(event.line)) break;
      await lastRequest;
      continue;
    }
    const { ending } = event;
    terminal.print(ending.clean ? ending.reason : `ERROR: ${ending.reason}`);
    // A server that dismissed us (a rule was broken) is not pestered again.
    if (
      !context.reconnect ||
      ending.reason.startsWith("Disconnected by the server")
    ) {
      terminal.close();
      return 1;
    }
    const typed: string[] = [];
    const next = await reconnect(
      self,
      context,
      typed,
      nextLine,
      () => (pendingLine = null),
    );
    if (next === null) {
      for (const line of typed) terminal.print(`Not sent: ${line}`);
      terminal.close();
      return 1;
    }
    link = attach(next);
    terminal.print(`Reconnected as ${self}.`);
    relinked.resolve(true);
    relinked = Promise.withResolvers<boolean>();
    let quit = false;
    for (const line of typed) {
      if (!handle(line)) {
        quit = true;
        break;
      }
    }
    if (quit) break;
  }

  // Offers still waiting for an answer are declined on the way out.
  prompts.close();
  leaving = true;
  relinked.resolve(false);
  // End of input or /quit: let outstanding replies arrive, then say goodbye.
  await withDeadline(results, REPLY_GRACE_MS);
  // The server may have ended the session meanwhile: that is not a clean exit.
  const cut = link.client.isOver;
  // Files being sent finish (or fail) before we leave.
  await Promise.all(sending);
  await withDeadline(link.receiver.leave(), REPLY_GRACE_MS);
  const ending = await link.client.quit();
  // Files still arriving stop (kept for resuming): let their files close.
  await withDeadline(link.receiver.idle(), REPLY_GRACE_MS);
  terminal.close();
  return ending.clean && !cut ? 0 : 1;
}

/** How often a request refused with `slow_down` is tried again, and after how long. */
const SLOW_DOWN_RETRIES = 10;
const SLOW_DOWN_WAIT_MS = 500;

/** Sends a request, and again after a pause while the server says `slow_down`. */
async function withPatience(send: () => Promise<Reply>): Promise<Reply> {
  for (let attempt = 1;; attempt++) {
    const reply = await send();
    if (
      reply.t !== "error" || reply.code !== "slow_down" ||
      attempt > SLOW_DOWN_RETRIES
    ) return reply;
    await sleep(SLOW_DOWN_WAIT_MS * attempt);
  }
}

/**
 * Tries to get back in under the same name, with exponential backoff and
 * jitter, while collecting what the user types meanwhile into `typed`.
 * Resolves with the new client, or null when giving up (or the user left).
 */
async function reconnect(
  name: string,
  context: ChatContext,
  typed: string[],
  nextLine: () => Promise<string | null>,
  consumed: () => void,
): Promise<ChatClient | null> {
  const { terminal } = context;
  const attempts = terminal.interactive ? Infinity : SCRIPT_RECONNECT_ATTEMPTS;
  let left = false;
  // Lines typed while offline are kept; the end of input or /quit stops trying.
  const collect = async () => {
    while (!left) {
      const line = await nextLine();
      consumed();
      if (line === null || parseInput(line)?.kind === "quit") {
        left = true;
        return;
      }
      typed.push(line);
    }
  };
  const collecting = collect();
  let delay = RECONNECT_FIRST_MS;
  for (let attempt = 1; attempt <= attempts && !left; attempt++) {
    const wait = Math.round(delay * (0.5 + Math.random() / 2));
    terminal.print(
      `Reconnecting in ${(wait / 1000).toFixed(1)} s (attempt ${attempt})...`,
    );
    await Promise.race([sleep(wait), collecting]);
    if (left) break;
    try {
      const client = await connectTrusted(
        context.url,
        context.trust,
        terminal,
      );
      const reply = await client.register(
        name,
        context.identity,
        context.ledger,
      );
      if (reply.t === "welcome") {
        left = true; // stops collecting; lines already taken stay in `typed`
        return client;
      }
      await client.quit();
      // Most likely the server has not yet noticed that our old connection died.
      terminal.print(render(reply, "", context.style).join(" "));
    } catch (error) {
      terminal.print(`ERROR: ${explainConnectError(error, context.url)}`);
      // Another attempt would meet the same key: that is for a person to sort out.
      if (error instanceof ServerTrustError) break;
    }
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  }
  left = true;
  terminal.print("ERROR: Could not reconnect; giving up.");
  return null;
}

/** The server is not the one the user trusts, or the user did not trust it. */
class ServerTrustError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServerTrustError";
  }
}

/** Whether connecting will ask the user about the server's key. */
function asksFirst(url: string, trust: ServerTrust): boolean {
  return trust.kind === "known-hosts" && trust.firstContact === "ask" &&
    trust.hosts.lookup(hostKeyOf(url)) === null;
}

/**
 * Connects and checks the server's key: against the pinned key (in the
 * handshake itself), or against the one remembered for this host. A host not
 * known yet is asked about, trusted or refused (see first_contact.ts). Nothing
 * but the handshake happens before the check.
 */
async function connectTrusted(
  url: string,
  trust: ServerTrust,
  asker: Asker,
): Promise<ChatClient> {
  let client: ChatClient;
  try {
    client = await ChatClient.connect(
      url,
      trust.kind === "pinned" ? { pinnedSpki: trust.spki } : {},
    );
  } catch (error) {
    if (error instanceof KeyMismatchError && trust.kind === "pinned") {
      throw new ServerTrustError(
        `Server key mismatch: expected ${error.expected} (from '${trust.path}'), ` +
          `the server presented ${error.presented}. Someone may be intercepting ` +
          `the connection, or '${trust.path}' is not this server's key. Refusing ` +
          `to connect; get the server's public key from its operator and pass it with --pub FILE`,
      );
    }
    throw error;
  }
  if (trust.kind === "pinned") return client;
  const { hosts } = trust;
  const host = hostKeyOf(url);
  const presented = client.serverFingerprint;
  const check = hosts.check(host, presented);
  switch (check.status) {
    case "known":
      return client;
    case "changed":
      client.abort();
      throw new ServerTrustError(
        changedKeyMessage(
          host,
          check.expected,
          presented,
          hosts.path,
          hosts.lineNumbers(host),
        ),
      );
    case "new":
      break;
    default: {
      const unreachable: never = check;
      return unreachable;
    }
  }
  switch (trust.firstContact) {
    case "refuse":
      client.abort();
      throw new ServerTrustError(firstContactRefusal(host, presented));
    case "ask":
      if (!await askFirstContact(asker, host, presented)) {
        client.abort();
        throw new ServerTrustError(firstContactDeclined(host));
      }
      await hosts.remember(host, presented);
      asker.print(
        `Permanently added '${host}' to the list of known servers (${hosts.path}).`,
      );
      // The server stops waiting for a name after a while: if it gave up
      // while the user read the fingerprint, connect again (now known). A
      // round trip tells, where the close may still be on its way.
      if (client.isOver || (await client.request({ t: "ping" })).t !== "pong") {
        client.abort();
        return await connectTrusted(url, trust, asker);
      }
      return client;
    case "trust":
      await hosts.remember(host, presented);
      asker.print(
        `First connection to ${host}: its key is ${presented}. Remembering it in ${hosts.path}; compare it with what the server printed.`,
      );
      return client;
    default: {
      const unreachable: never = trust.firstContact;
      return unreachable;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends the request for a command, or returns null for commands handled locally. */
function perform(client: ChatClient, command: Command): Promise<Reply> | null {
  switch (command.kind) {
    case "say":
      return client.say(command.text);
    case "msg":
      return client.msg(command.to, command.text);
    case "gsay":
      return client.gsay(command.group, command.text);
    case "list":
      return client.request({ t: "list" });
    case "groups":
      return client.request({ t: "groups" });
    case "create":
    case "join":
    case "leave":
      return client.request({ t: command.kind, group: command.group });
    case "members":
      return client.request(
        command.group === undefined
          ? { t: "members" }
          : { t: "members", group: command.group },
      );
    case "history":
      return client.request({
        t: "history",
        ...(command.target === undefined ? {} : { target: command.target }),
        ...(command.limit === undefined ? {} : { limit: command.limit }),
      });
    case "file":
    case "groupfile":
    case "transfers":
    case "cancel":
    case "help":
    case "quit":
    case "invalid":
      return null;
    default: {
      const unreachable: never = command;
      return unreachable;
    }
  }
}

function isLocal(command: Command): boolean {
  return command.kind === "help" || command.kind === "invalid" ||
    command.kind === "quit" || command.kind === "file" ||
    command.kind === "groupfile";
}

function localReply(command: Command): string[] {
  switch (command.kind) {
    case "help":
      return helpText(command.topic);
    case "invalid":
      return [command.message];
    default:
      return [];
  }
}

function render(message: ServerMessage, body: string, style: Style): string[] {
  return renderServerMessage(message, body, style);
}

/**
 * Keeps the names tab completion offers in step with what the server says.
 * Only names the naming rule allows are taken: completion writes them into
 * the input line, unsanitised.
 */
export function learnNames(
  message: ServerMessage,
  users: Set<string>,
  groups: Set<string>,
): void {
  const user = (name: string) => {
    if (isValidName(name)) users.add(name);
  };
  const group = (name: string) => {
    if (isValidName(name)) groups.add(name);
  };
  switch (message.t) {
    case "users":
      for (const u of message.users) user(u.name);
      break;
    case "groups":
      for (const g of message.groups) group(g.name);
      break;
    case "presence":
      if (message.online) {
        user(message.name);
      } else {
        for (const user of users) {
          if (nameKey(user) === nameKey(message.name)) users.delete(user);
        }
      }
      break;
    case "membership":
    case "group":
      group(message.group);
      break;
    case "public":
    case "private":
      user(message.from);
      break;
    default:
      break;
  }
}

function explainConnectError(error: unknown, url: string): string {
  if (error instanceof ServerTrustError) return error.message;
  // A failed handshake's message may quote what the server sent.
  return sanitizeForTerminal(describeConnectError(messageOf(error), url));
}

function describeConnectError(reason: string, url: string): string {
  if (/Invalid status code: 503/.test(reason)) {
    return `The server at ${url} refused the connection: it is full, or too many connections came from your address (at once or in the last seconds). Try again in a few seconds`;
  }
  if (/refused|tcp connect error|os error 111/i.test(reason)) {
    return `Cannot connect to ${url}: connection refused. Is 'chat serve' running there?`;
  }
  return reason.startsWith("Cannot")
    ? reason
    : `Cannot connect to ${url}: ${reason}`;
}

async function withDeadline(
  promise: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

/** `~/x` means the user's home folder, as in a shell. */
function expandHome(path: string): string {
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  return home && (path === "~" || path.startsWith("~/"))
    ? home + path.slice(1)
    : path;
}
