/**
 * The interactive chat session: terminal input -> commands -> requests, and
 * server messages -> rendered lines. Returns the process exit code; never exits.
 */

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
import { renderSent, renderServerMessage, type Style } from "./render.ts";
import type { Terminal } from "./terminal.ts";

export interface SessionOptions {
  url: string;
  pinnedSpki: Uint8Array;
  user: string | null;
  terminal: Terminal;
}

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
  return await chat(client, terminal, style);
}

async function chat(
  client: ChatClient,
  terminal: Terminal,
  style: Style,
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
    case "file":
    case "groupfile":
      // TODO(#4): file transfer.
      return ["ERROR: File transfer is not available in this version yet."];
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
