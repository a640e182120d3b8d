// This module is browser compatible.

/**
 * Turn a line the user typed into a typed {@linkcode Command}, and complete
 * partial lines. Pure: no I/O, no knowledge of the connection.
 *
 * @module
 */

import {
  isValidName,
  MAX_AWAY_CHARS,
  MAX_HISTORY,
  MAX_TEXT_CHARS,
  MESSAGE_TOO_LONG,
  NAME_RULE,
} from "../protocol/limits.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { ACTION_PREFIX } from "./actions.ts";
import { type Conversation, parseQueryTarget } from "./conversations.ts";
import { didYouMean } from "./did_you_mean.ts";
import { sortedNames } from "./name_order.ts";

/** What one input line asks for. */
export type Command =
  | { kind: "say"; text: string }
  | { kind: "msg"; to: string; text: string }
  | { kind: "gsay"; group: string; text: string }
  | { kind: "file"; to: string; path: string }
  | { kind: "groupfile"; group: string; path: string }
  | { kind: "transfers" }
  | { kind: "cancel"; number: number }
  | { kind: "list" }
  | { kind: "groups" }
  | { kind: "create"; group: string }
  | { kind: "join"; group: string }
  | { kind: "leave"; group: string }
  | { kind: "members"; group?: string }
  /** No target: the public room; a target is a group you are in or a user. */
  | { kind: "history"; target?: string; limit?: number }
  | { kind: "help"; topic?: string }
  /** Plain lines go to `target` from now on (conversations.ts). */
  | { kind: "query"; conversation: Conversation }
  /** An action (`/me waves`), said where plain lines go (actions.ts). */
  | { kind: "me"; text: string }
  /** Away with a reason, or back without one. */
  | { kind: "away"; reason?: string }
  /** Hide a user's messages and comings and goings; without a name, list those hidden. */
  | { kind: "ignore"; name?: string }
  | { kind: "unignore"; name: string }
  /** Accept a user's changed identity key (end to end). */
  | { kind: "trust"; name: string }
  /** Show the safety number with a user, or compare `number` (60 digits). */
  | { kind: "verify"; name: string; number?: string }
  | { kind: "quit" }
  /** Wrong format or unknown command; `message` is the line to show the user. */
  | {
    kind: "invalid";
    message: string;
    /** A message over the limit: the page keeps it in the field, to cut. */
    tooLong?: true;
  };

export type CommandKind = Command["kind"];

/** What the first argument of a command names, for tab completion. */
export type Completion =
  | "user"
  | "group"
  /** A user, or a group written `#name` (`/query`). */
  | "conversation"
  | "command"
  | null;

export interface CommandInfo {
  /** The command as typed, lower case, with its slash: `/msg`. */
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  /** What completes the first argument; `null` when it is new or free text. */
  readonly completes: Completion;
}

/** Every command, in the order `/help` lists them. */
export const COMMANDS: readonly CommandInfo[] = [
  {
    name: "/msg",
    usage: "/msg <username> <message>",
    summary: "Send a private message",
    completes: "user",
  },
  {
    name: "/group",
    usage: "/group <groupname> <message>",
    summary: "Send a message to a group",
    completes: "group",
  },
  {
    name: "/file",
    usage: "/file <username> <filename>",
    summary: "Send a file to a user",
    completes: "user",
  },
  {
    name: "/groupfile",
    usage: "/groupfile <groupname> <filename>",
    summary: "Send a file to a group",
    completes: "group",
  },
  {
    name: "/query",
    usage: "/query [username|#groupname]",
    summary:
      "Send plain lines to that user or group; /query alone returns to the public room",
    completes: "conversation",
  },
  {
    name: "/me",
    usage: "/me <action>",
    summary: "Say what you do, shown as * yourname action",
    completes: null,
  },
  {
    name: "/away",
    usage: "/away [reason]",
    summary:
      "Mark yourself away (shown in /list, told to whoever messages you); /away alone: back",
    completes: null,
  },
  {
    name: "/ignore",
    usage: "/ignore [username]",
    summary:
      "Hide a user's messages and comings and goings (by their key); /ignore alone lists them",
    completes: "user",
  },
  {
    name: "/unignore",
    usage: "/unignore <username>",
    summary: "Show a user's messages again",
    completes: null,
  },
  {
    name: "/verify",
    usage: "/verify <username> [safety number]",
    summary:
      "Show your safety number with a user (private messages are end to end), or compare theirs and mark them verified",
    completes: "user",
  },
  {
    name: "/trust",
    usage: "/trust <username>",
    summary:
      "Accept a user's new identity key after a warning that it changed (check with them first)",
    completes: "user",
  },
  {
    name: "/transfers",
    usage: "/transfers",
    summary: "List file transfers, running and resumable",
    completes: null,
  },
  {
    name: "/cancel",
    usage: "/cancel <number>",
    summary: "Cancel a file transfer listed by /transfers",
    completes: null,
  },
  {
    name: "/list",
    usage: "/list",
    summary: "List online users",
    completes: null,
  },
  {
    name: "/showgroups",
    usage: "/showgroups",
    summary: "List groups",
    completes: null,
  },
  {
    name: "/create",
    usage: "/create <groupname>",
    summary: "Create a group and join it",
    completes: null,
  },
  {
    name: "/join",
    usage: "/join <groupname>",
    summary: "Join a group",
    completes: "group",
  },
  {
    name: "/leave",
    usage: "/leave <groupname>",
    summary: "Leave a group",
    completes: "group",
  },
  {
    name: "/showgroupmembers",
    usage: "/showgroupmembers [groupname]",
    summary: "List the members of a group, or of all your groups",
    completes: "group",
  },
  {
    name: "/history",
    usage: "/history [groupname|username] [N]",
    summary:
      "Show the last N (default 20) messages of the room, a group or a conversation",
    completes: "group",
  },
  {
    name: "/help",
    usage: "/help [command]",
    summary: "Show all commands, or how to use one",
    completes: "command",
  },
  {
    name: "/quit",
    usage: "/quit",
    summary: "Leave the chat (typing quit also works)",
    completes: null,
  },
];

/** The command called `name` (`/msg`, `msg`, `/MSG`), if there is one. */
export function findCommand(name: string): CommandInfo | undefined {
  const key = name.toLowerCase();
  const slashed = key.startsWith("/") ? key : "/" + key;
  return COMMANDS.find((command) => command.name === slashed);
}

/**
 * Parse one input line. Returns `null` for an empty or blank line.
 *
 * A line that does not start with `/` is a public message, kept as typed; `//`
 * sends a line that starts with `/` (one slash is removed). Command names are
 * case-insensitive; user and group names keep their case.
 */
export function parseInput(line: string): Command | null {
  const trimmed = line.trim();
  if (trimmed === "") return null;
  // The seed's prompt says "(or 'quit' to quit)".
  if (trimmed.toLowerCase() === "quit") return { kind: "quit" };
  // Leading blanks do not turn a command into a public message: a stray space
  // before "/msg" must not broadcast a private message to everyone.
  const start = line.trimStart();
  if (!start.startsWith("/")) return say(line);
  if (start.startsWith("//")) return say(start.slice(1));

  const [word, rest] = splitFirst(start);
  const name = word.toLowerCase();
  switch (name) {
    case "/msg": {
      const [to, text] = splitFirst(rest);
      if (to === "" || text === "") return usage(name);
      return checkUser(to) ?? checkText(text) ?? { kind: "msg", to, text };
    }
    case "/group": {
      const [group, text] = splitFirst(rest);
      if (group === "" || text === "") return usage(name);
      return checkGroup(group) ?? checkText(text) ??
        { kind: "gsay", group, text };
    }
    case "/file": {
      const [to, path] = splitFirst(rest);
      const file = unquote(path.trimEnd());
      if (to === "" || file === "") return usage(name);
      return checkUser(to) ?? { kind: "file", to, path: file };
    }
    case "/groupfile": {
      const [group, path] = splitFirst(rest);
      const file = unquote(path.trimEnd());
      if (group === "" || file === "") return usage(name);
      return checkGroup(group) ?? { kind: "groupfile", group, path: file };
    }
    case "/transfers":
      return rest === "" ? { kind: "transfers" } : usage(name);
    case "/cancel": {
      const number = oneArgument(rest);
      if (number === null || !/^[1-9][0-9]{0,8}$/.test(number)) {
        return usage(name);
      }
      return { kind: "cancel", number: Number(number) };
    }
    case "/list":
      return rest === "" ? { kind: "list" } : usage(name);
    case "/showgroups":
      return rest === "" ? { kind: "groups" } : usage(name);
    case "/quit":
      return rest === "" ? { kind: "quit" } : usage(name);
    case "/create":
    case "/join":
    case "/leave": {
      const group = oneArgument(rest);
      if (group === null || group === "") return usage(name);
      const kind = name === "/create"
        ? "create"
        : name === "/join"
        ? "join"
        : "leave";
      return checkGroup(group) ?? { kind, group };
    }
    case "/showgroupmembers": {
      const group = oneArgument(rest);
      if (group === null) return usage(name);
      if (group === "") return { kind: "members" };
      return checkGroup(group) ?? { kind: "members", group };
    }
    case "/history": {
      const words = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
      if (words.length > 2) return usage(name);
      let target: string | undefined;
      let limit: number | undefined;
      for (const word of words) {
        if (/^\d+$/.test(word) && limit === undefined) {
          limit = Number(word);
          if (limit < 1 || limit > MAX_HISTORY) {
            return {
              kind: "invalid",
              message:
                `ERROR: Choose a number of messages from 1 to ${MAX_HISTORY}`,
            };
          }
        } else if (target === undefined) {
          const invalid = checkGroup(word);
          if (invalid !== null) return invalid;
          target = word;
        } else {
          return usage(name);
        }
      }
      return {
        kind: "history",
        ...(target === undefined ? {} : { target }),
        ...(limit === undefined ? {} : { limit }),
      };
    }
    case "/query": {
      const argument = oneArgument(rest);
      if (argument === null) return usage(name);
      try {
        return { kind: "query", conversation: parseQueryTarget(argument) };
      } catch (error) {
        return { kind: "invalid", message: (error as Error).message };
      }
    }
    case "/me": {
      const text = rest.trimEnd();
      if (text === "") return usage(name);
      return checkText(ACTION_PREFIX + text) ?? { kind: "me", text };
    }
    case "/away": {
      const reason = rest.trim();
      if (reason === "") return { kind: "away" };
      return reason.length > MAX_AWAY_CHARS
        ? {
          kind: "invalid",
          message:
            `ERROR: Away reason too long (${reason.length} characters; the limit is ${MAX_AWAY_CHARS})`,
        }
        : { kind: "away", reason };
    }
    case "/ignore": {
      const user = oneArgument(rest);
      if (user === null) return usage(name);
      if (user === "") return { kind: "ignore" };
      return checkUser(user) ?? { kind: "ignore", name: user };
    }
    case "/unignore": {
      const user = oneArgument(rest);
      if (user === null || user === "") return usage(name);
      return checkUser(user) ?? { kind: "unignore", name: user };
    }
    case "/trust": {
      const user = oneArgument(rest);
      if (user === null || user === "") return usage(name);
      return checkUser(user) ?? { kind: "trust", name: user };
    }
    case "/verify": {
      const [user, ...number] = rest.trim().split(/\s+/);
      if (user === undefined || user === "") return usage(name);
      const digits = number.join("");
      if (digits !== "" && !/^\d{60}$/.test(digits)) {
        return {
          kind: "invalid",
          message:
            "ERROR: A safety number is 60 digits (spaces between groups are fine)",
        };
      }
      return checkUser(user) ??
        (digits === ""
          ? { kind: "verify", name: user }
          : { kind: "verify", name: user, number: digits });
    }
    case "/help": {
      const topic = oneArgument(rest);
      if (topic === null) return usage(name);
      return topic === "" ? { kind: "help" } : { kind: "help", topic };
    }
    default:
      return { kind: "invalid", message: unknownCommand(word) };
  }
}

/**
 * The lines `/help` shows: every command, or how to use the one named by
 * `topic` (with or without its slash). `summaries` says some commands
 * otherwise where they work otherwise (the web page's, by command name).
 * Rows are cut at spaces within `columns` (a terminal's; the web page, which
 * wraps its own lines, gives Infinity).
 */
export function helpText(
  topic?: string,
  summaries: Readonly<Record<string, string>> = {},
  columns: number = HELP_COLUMNS,
): string[] {
  const summary = (command: CommandInfo) =>
    Object.hasOwn(summaries, command.name)
      ? summaries[command.name]!
      : command.summary;
  if (topic !== undefined && topic.trim() !== "") {
    const word = topic.trim();
    const command = findCommand(word);
    if (command === undefined) {
      return [unknownCommand(word.startsWith("/") ? word : "/" + word)];
    }
    return [
      `Usage: ${command.usage}`,
      ...wrapWords("  ", summary(command), columns),
    ];
  }
  const width = Math.max(...COMMANDS.map((command) => command.usage.length));
  return [
    ...helpIntro(columns),
    "Commands:",
    ...COMMANDS.flatMap((command) =>
      wrapWords(`  ${command.usage.padEnd(width)}  `, summary(command), columns)
    ),
    "Type /help <command> for one command.",
  ];
}

/**
 * `/help` on a terminal: the lines about messages, then every command's
 * usage in two columns (one where `columns` has no room for two), each
 * command's summary left to `/help COMMAND`. It fits a screen of 80 by 24
 * with the line that asked for it: the whole list with its summaries (42
 * rows) scrolled its start away. `/help COMMAND` is as helpText's.
 */
export function terminalHelp(
  topic?: string,
  columns: number = HELP_COLUMNS,
): string[] {
  if (topic !== undefined && topic.trim() !== "") {
    return helpText(topic, {}, columns);
  }
  const usages = COMMANDS.map((command) => command.usage);
  const rows = Math.ceil(usages.length / 2);
  const left = usages.slice(0, rows);
  const right = usages.slice(rows);
  const width = Math.max(...left.map((usage) => usage.length));
  const twoColumns = 2 + width + 2 +
      Math.max(...right.map((usage) => usage.length)) <= columns;
  return [
    ...helpIntro(columns),
    ...wrapWords("", "Commands (/help COMMAND says what one does):", columns),
    ...twoColumns
      ? left.map((usage, i) =>
        `  ${usage.padEnd(width)}  ${right[i] ?? ""}`.trimEnd()
      )
      : usages.map((usage) => `  ${usage}`),
  ];
}

/** What /help says before its commands, as paragraphs. */
const HELP_INTRO = [
  "Type a message and press Enter to send it to everyone, or to the user or group chosen with /query. Start it with // to send a message that begins with /.",
  "Private messages (/msg), group messages and files are end-to-end encrypted: the server cannot read them. The public room is not: the server's host can read it.",
];

/**
 * The rows of /help before its list of commands: from HELP_COLUMNS up as
 * the README shows them (the web page's too), each paragraph cut at spaces
 * into rows of at most INTRO_COLUMNS, and on a narrower terminal at its
 * width. Rows of 75 characters wrapped by the terminal at 40 read
 * "...send" / "  it to everyone, or to the user or" / "group chosen with
 * /query...", half of them indented.
 */
function helpIntro(columns: number): string[] {
  const width = columns >= HELP_COLUMNS ? INTRO_COLUMNS : columns;
  return HELP_INTRO.flatMap((paragraph) => wrapWords("", paragraph, width));
}

/** The widest row of /help's intro on a terminal that holds its commands. */
const INTRO_COLUMNS = 75;

/** The help fits a terminal of 80 columns, the usual size, as its first lines do. */
export const HELP_COLUMNS = 79;

/**
 * `text` after `lead`, cut at spaces into rows of at most HELP_COLUMNS, the
 * rows after the first indented as far as the lead. (The terminal would cut
 * a longer row anywhere, in the middle of a word.)
 */
function wrapWords(lead: string, text: string, columns: number): string[] {
  const indent = " ".repeat(lead.length);
  const rows: string[] = [];
  let row = lead;
  for (const word of text.split(" ")) {
    const empty = row === lead || row === indent;
    if (!empty && row.length + 1 + word.length > columns) {
      rows.push(row);
      row = indent + word;
    } else {
      row += (empty ? "" : " ") + word;
    }
  }
  rows.push(row);
  return rows;
}

/** Names the completer may offer, as the session knows them. */
export interface CompletionContext {
  users: readonly string[];
  groups: readonly string[];
}

/**
 * Complete a partial input line, in the `node:readline` completer format:
 * `[candidates, the substring being completed]`. Completes command names
 * after `/`, and the first argument of a command with user, group or command
 * names (case-insensitive prefix match).
 */
export function completeInput(
  line: string,
  ctx: CompletionContext,
): [string[], string] {
  const start = line.trimStart();
  if (!start.startsWith("/") || start.startsWith("//")) return [[], ""];
  const space = start.search(/\s/);
  if (space < 0) {
    return [finish(matches(COMMANDS.map((c) => c.name), start)), start];
  }
  const argument = start.slice(space).trimStart();
  // Only the first argument is a name; after it comes free text or a path.
  if (/\s/.test(argument)) return [[], ""];
  const command = findCommand(start.slice(0, space));
  if (command === undefined) return [[], argument];
  let names: readonly string[];
  switch (command.completes) {
    case "user":
      names = sortedUnique(ctx.users);
      break;
    case "group":
      names = sortedUnique(ctx.groups);
      break;
    case "conversation":
      names = [
        ...sortedUnique(ctx.users),
        ...sortedUnique(ctx.groups).map((group) => `#${group}`),
      ];
      break;
    case "command":
      names = COMMANDS.map((c) =>
        argument.startsWith("/") ? c.name : c.name.slice(1)
      );
      break;
    case null:
      names = [];
      break;
    default: {
      const unreachable: never = command.completes;
      throw new TypeError(`Unknown completion: ${unreachable}`);
    }
  }
  return [finish(matches(names, argument)), argument];
}

function matches(names: readonly string[], prefix: string): string[] {
  const key = prefix.toLowerCase();
  return names.filter((name) => name.toLowerCase().startsWith(key));
}

/** A single match is complete, so move on to the next argument as a shell does. */
function finish(hits: string[]): string[] {
  return hits.length === 1 ? [hits[0] + " "] : hits;
}

function sortedUnique(names: readonly string[]): string[] {
  return sortedNames(new Set(names));
}

function say(text: string): Command {
  return checkText(text) ?? { kind: "say", text };
}

/** Split off the first word; the rest loses the blanks that separated them. */
function splitFirst(text: string): [string, string] {
  const space = text.search(/\s/);
  if (space < 0) return [text, ""];
  return [text.slice(0, space), text.slice(space).trimStart()];
}

/** The single argument in `rest` (`""` if none), or `null` if there are more. */
function oneArgument(rest: string): string | null {
  const argument = rest.trimEnd();
  return /\s/.test(argument) ? null : argument;
}

/** Strip one pair of matching quotes, as a shell would for a path with spaces. */
function unquote(path: string): string {
  if (path.length >= 2) {
    const first = path[0];
    if ((first === '"' || first === "'") && path.endsWith(first)) {
      return path.slice(1, -1);
    }
  }
  return path;
}

function usage(name: string): Command {
  const command = findCommand(name);
  return {
    kind: "invalid",
    message: `Usage: ${command?.usage ?? name}`,
  };
}

/**
 * Other chat programs' names (IRC's, Slack's, ssh-chat's) for what one of
 * ours does: what a newcomer types first, and no slip of the fingers that
 * didYouMean could find (`/names` is 4 edits from `/list`). Each says
 * the command of ours to use.
 */
const OTHER_NAMES: Readonly<Record<string, string>> = {
  "/names": "/list",
  "/who": "/list",
  "/users": "/list",
  "/online": "/list",
  "/whois": "/verify",
  // Alone, /away is how one comes back: said, or the pointer misleads.
  "/back": "/away (alone, it marks you back)",
  "/part": "/leave",
  "/exit": "/quit",
  "/bye": "/quit",
  "/w": "/msg",
  "/tell": "/msg",
  "/whisper": "/msg",
  "/pm": "/msg",
  "/dm": "/msg",
  "/privmsg": "/msg",
  "/groups": "/showgroups",
  "/channels": "/showgroups",
  "/members": "/showgroupmembers",
  "/send": "/file",
  "/action": "/me",
  "/block": "/ignore",
  "/mute": "/ignore",
  "/unblock": "/unignore",
  "/unmute": "/unignore",
  "/log": "/history",
  "/commands": "/help",
  "/?": "/help",
};

/** What a line starting with an unknown `/word` is told. */
function unknownCommand(word: string): string {
  const key = word.toLowerCase();
  const close = Object.hasOwn(OTHER_NAMES, key)
    ? OTHER_NAMES[key]!
    : didYouMean(word, COMMANDS.map((command) => command.name));
  return `ERROR: Unknown command '${sanitizeForTerminal(word)}'. ${
    close === null ? "" : `Did you mean ${close}? `
  }Type /help for the list of commands`;
}

function checkUser(name: string): Command | null {
  return isValidName(name) ? null : {
    kind: "invalid",
    message: `ERROR: Invalid username '${
      sanitizeForTerminal(name)
    }': ${NAME_RULE}`,
  };
}

function checkGroup(name: string): Command | null {
  return isValidName(name) ? null : {
    kind: "invalid",
    message: invalidGroupName(name),
  };
}

/** What a group name that breaks the naming rule is told. */
export function invalidGroupName(name: string): string {
  return `ERROR: Invalid group name '${
    sanitizeForTerminal(name)
  }': ${NAME_RULE}`;
}

function checkText(text: string): Command | null {
  return text.length > MAX_TEXT_CHARS
    ? {
      kind: "invalid",
      message: `ERROR: ${MESSAGE_TOO_LONG}`,
      tooLong: true,
    }
    : null;
}
