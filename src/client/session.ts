/**
 * The interactive chat session: terminal input -> commands -> requests, and
 * server messages -> rendered lines. Returns the process exit code; never exits.
 */

import { basename } from "node:path";
import { nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { messageOf } from "../transport/secure_channel.ts";
import {
  ChatClient,
  decodeText,
  type Ending,
  type Reply,
} from "./chat_client.ts";
import {
  type Command,
  completeInput,
  helpText,
  parseInput,
} from "./commands.ts";
import { FileReceiver } from "./file_receiver.ts";
import { FileSender, type SendTarget } from "./file_sender.ts";
import {
  formatProgress,
  renderSent,
  renderSentFile,
  renderServerMessage,
  type Style,
} from "./render.ts";
import type { Terminal } from "./terminal.ts";

export interface SessionOptions {
  url: string;
  pinnedSpki: Uint8Array;
  user: string | null;
  terminal: Terminal;
  files: FileOptions;
}

export interface FileOptions {
  downloadsDir: string;
  maxFileBytes: number;
  /** Open received files (with `openWith` or the platform opener). */
  open: boolean;
  openWith: string[] | null;
}

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
  const connecting = ChatClient.connect(options.url, {
    pinnedSpki: options.pinnedSpki,
  });
  const failed = connecting.then(() => null, (error) => messageOf(error));

  let client: ChatClient | null = null;
  let name = options.user;
  for (;;) {
    if (name === null) {
      const answer = await Promise.race([
        terminal.question("Enter your username: "),
        failed.then((
          reason,
        ) => (reason === null ? new Promise<never>(() => {}) : { reason })),
      ]);
      if (answer !== null && typeof answer === "object") {
        terminal.print(
          `ERROR: ${describeConnectError(answer.reason, options.url)}`,
        );
        return 1;
      }
      if (answer === null) return 1;
      name = answer.trim();
    }
    if (client === null) {
      const reason = await failed;
      if (reason !== null) {
        terminal.print(`ERROR: ${describeConnectError(reason, options.url)}`);
        return 1;
      }
      client = await connecting;
      terminal.print("Handshake Finished. Start AES encrypted transmission");
    }
    const reply = await client.register(name);
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
  return await chat(client, terminal, style, options.files);
}

async function chat(
  client: ChatClient,
  terminal: Terminal,
  style: Style,
  files: FileOptions,
): Promise<number> {
  const self = client.name!;
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

  client.onMessage(({ message, body }) => {
    // The goodbye is reported once, where the session ends.
    if (message.t === "bye") return;
    learnNames(message, users, groups);
    for (const line of render(message, decodeText(body), style)) {
      terminal.print(line);
    }
  });

  // Seed tab completion with who and what is there already; the replies are not shown.
  void client.request({ t: "list" }).then((reply) =>
    learnNames(reply, users, groups)
  );
  void client.request({ t: "groups" }).then((reply) =>
    learnNames(reply, users, groups)
  );

  // Transfers in progress, shown in front of the prompt on a terminal.
  const progress = new Map<string, { line: string; at: number }>();
  const showProgress = (key: string, line: string | null, force = false) => {
    if (!terminal.interactive) return;
    const now = Date.now();
    const last = progress.get(key);
    if (
      line !== null && !force && last && now - last.at < PROGRESS_INTERVAL_MS
    ) return;
    if (line === null) progress.delete(key);
    else progress.set(key, { line, at: now });
    terminal.setStatus(
      progress.size === 0
        ? null
        : [...progress.values()].map((p) => p.line).join(" | "),
    );
  };
  const sender = new FileSender(client);
  const receiving = new Map<number, number>();
  new FileReceiver(client, {
    ...files,
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
      receiving.delete(offer.xfer);
      showProgress(`in:${offer.xfer}`, null);
    },
  });
  const sending = new Set<Promise<void>>();
  let nextSend = 1;
  const sendFile = (target: SendTarget, path: string) => {
    const key = `out:${nextSend++}`;
    const started = Date.now();
    const label = `${basename(path)} to ${
      "to" in target ? target.to : target.group
    }`;
    const run = sender.send(target, expandHome(path), (p) => {
      if (p.size >= PROGRESS_MIN_BYTES) {
        showProgress(
          key,
          formatProgress(label, p.acked, p.size, Date.now() - started),
        );
      }
    }).then((outcome) => {
      showProgress(key, null);
      for (const line of renderSentFile(outcome, target)) terminal.print(line);
    });
    sending.add(run);
    run.finally(() => sending.delete(run));
  };

  // Each command's result is shown in the order the commands were typed, even
  // when a local answer (usage, help) is ready before an earlier server reply.
  let results: Promise<void> = Promise.resolve();
  const showInOrder = (lines: Promise<string[]>) => {
    results = results.then(() => lines).then((ready) => {
      for (const line of ready) terminal.print(line);
    });
  };

  const ended: Promise<{ ended: Ending }> = client.ended.then((ending) => ({
    ended: ending,
  }));
  for (;;) {
    const next = await Promise.race([terminal.nextLine(), ended]);
    if (next !== null && typeof next === "object") {
      terminal.close();
      terminal.print(
        next.ended.clean ? next.ended.reason : `ERROR: ${next.ended.reason}`,
      );
      return 1;
    }
    if (next === null) break;
    const command = parseInput(next);
    if (command === null) continue;
    if (command.kind === "quit") break;
    if (command.kind === "file") {
      sendFile({ to: command.to }, command.path);
      continue;
    }
    if (command.kind === "groupfile") {
      sendFile({ group: command.group }, command.path);
      continue;
    }
    const request = perform(client, command);
    if (request === null) {
      showInOrder(Promise.resolve(localReply(command)));
      continue;
    }
    showInOrder(request.then((reply) => {
      learnNames(reply, users, groups);
      const sent = command.kind === "say" || command.kind === "msg" ||
        command.kind === "gsay";
      return reply.t === "ok" && sent
        ? renderSent(command, style)
        : render(reply, "", style);
    }));
  }

  // End of input or /quit: let outstanding replies arrive, then say goodbye.
  await withDeadline(results, REPLY_GRACE_MS);
  // Files being sent finish (or fail) before we leave.
  await Promise.all(sending);
  const ending = await client.quit();
  terminal.close();
  return ending.clean ? 0 : 1;
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
    case "file":
    case "groupfile":
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

/** Keeps the names tab completion offers in step with what the server says. */
function learnNames(
  message: ServerMessage,
  users: Set<string>,
  groups: Set<string>,
): void {
  switch (message.t) {
    case "users":
      for (const user of message.users) users.add(user.name);
      break;
    case "groups":
      for (const group of message.groups) groups.add(group.name);
      break;
    case "presence":
      if (message.online) {
        users.add(message.name);
      } else {
        for (const user of users) {
          if (nameKey(user) === nameKey(message.name)) users.delete(user);
        }
      }
      break;
    case "membership":
    case "group":
      groups.add(message.group);
      break;
    case "public":
    case "private":
      users.add(message.from);
      break;
    default:
      break;
  }
}

function describeConnectError(reason: string, url: string): string {
  if (/refused|tcp connect error|os error 111/i.test(reason)) {
    return `Cannot connect to ${url}: connection refused. Is 'chat serve' running there?`;
  }
  return reason.startsWith("Server key mismatch") || reason.startsWith("Cannot")
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
