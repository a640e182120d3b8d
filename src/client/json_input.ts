// This module is browser compatible.

/**
 * Input in `chat connect --json`: a line is either a JSON object (a line
 * that starts with `{`), such as `{"cmd":"msg","to":"jojo","text":"hi"}`, or
 * a line as a person would type it (`/msg jojo hi`). The commands are listed
 * in README, "JSON mode".
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
import { type Command, parseInput } from "./commands.ts";
import type { Re } from "./session_events.ts";

/** What one input line asks for. */
export type InputAction =
  | { kind: "command"; command: Command; id: Re | null }
  /** The answer to a file offer (`file_offer` event), by its `xfer`. */
  | { kind: "answer"; xfer: number; accept: boolean; id: Re | null }
  /** A JSON line that is not a command; `message` says why. */
  | { kind: "invalid"; message: string; id: Re | null };

/** The longest `id` a command may carry to be echoed as `re`. */
export const MAX_ID_CHARS = 128;

/** The `cmd` values, in the order the README lists them. */
export const JSON_COMMANDS = [
  "send",
  "msg",
  "group",
  "file",
  "groupfile",
  "list",
  "groups",
  "create",
  "join",
  "leave",
  "members",
  "history",
  "accept",
  "decline",
  "transfers",
  "cancel",
  "away",
  "help",
  "quit",
] as const;

/**
 * The fields each command takes besides `cmd` and `id` (README, "JSON
 * mode"). Any other is refused: a program that writes `{"cmd":"history",
 * "n":2}` for `limit` is told, not given the default 20 without a word.
 */
export const JSON_FIELDS: Readonly<
  Record<(typeof JSON_COMMANDS)[number], readonly string[]>
> = {
  send: ["text"],
  msg: ["to", "text"],
  group: ["group", "text"],
  file: ["to", "path"],
  groupfile: ["group", "path"],
  list: [],
  groups: [],
  create: ["group"],
  join: ["group"],
  leave: ["group"],
  members: ["group"],
  history: ["target", "limit"],
  accept: ["xfer"],
  decline: ["xfer"],
  transfers: [],
  cancel: ["number"],
  away: ["reason"],
  help: ["topic"],
  quit: [],
};

/**
 * The error for a field command `cmd` does not take, or null when it takes
 * them all.
 */
function unknownField(
  cmd: (typeof JSON_COMMANDS)[number],
  o: Record<string, unknown>,
): string | null {
  const fields = JSON_FIELDS[cmd];
  const extra = Object.keys(o).find((key) =>
    key !== "cmd" && key !== "id" && !fields.includes(key)
  );
  if (extra === undefined) return null;
  const shown = JSON.stringify(
    extra.length > 40 ? `${extra.slice(0, 40)}...` : extra,
  );
  return `'${cmd}' has no field ${shown}; ${
    fields.length === 0
      ? "it takes none"
      : `its fields are ${fields.map((f) => `"${f}"`).join(", ")}`
  }`;
}

/** Reads one input line; null for a blank one. */
export function parseJsonInput(line: string): InputAction | null {
  if (!line.trimStart().startsWith("{")) {
    const command = parseInput(line);
    return command === null ? null : { kind: "command", command, id: null };
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return invalid(`Bad JSON: ${(error as Error).message}`, null);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return invalid("A command is a JSON object", null);
  }
  const o = value as Record<string, unknown>;
  let id: Re | null = null;
  if (o.id !== undefined) {
    if (
      !(typeof o.id === "number" && Number.isFinite(o.id)) &&
      !(typeof o.id === "string" && o.id.length <= MAX_ID_CHARS)
    ) {
      return invalid(
        `'id' must be a number or a string of at most ${MAX_ID_CHARS} characters`,
        null,
      );
    }
    id = o.id;
  }
  const problem = (message: string) => invalid(message, id);
  const command = (c: Command): InputAction => ({
    kind: "command",
    command: c,
    id,
  });
  const str = (key: string): string | null =>
    typeof o[key] === "string" ? o[key] as string : null;
  const text = (): string | InputAction => {
    const t = str("text");
    if (t === null) return problem(`'${o.cmd}' needs "text", a string`);
    if (t.trim() === "") return problem("The message text is empty");
    if (t.length > MAX_TEXT_CHARS) {
      return problem(MESSAGE_TOO_LONG);
    }
    return t;
  };
  const name = (key: "to" | "group"): string | InputAction => {
    const n = str(key);
    if (n === null) return problem(`'${o.cmd}' needs "${key}", a string`);
    if (!isValidName(n)) {
      return problem(
        `Invalid ${
          key === "to" ? "username" : "group name"
        } '${n}': ${NAME_RULE}`,
      );
    }
    return n;
  };
  const path = (): string | InputAction => {
    const p = str("path");
    return p === null || p === ""
      ? problem(`'${o.cmd}' needs "path", a file name`)
      : p;
  };
  if (
    typeof o.cmd === "string" && Object.hasOwn(JSON_FIELDS, o.cmd)
  ) {
    const extra = unknownField(o.cmd as (typeof JSON_COMMANDS)[number], o);
    if (extra !== null) return problem(extra);
  }
  switch (o.cmd) {
    case "send": {
      const t = text();
      return typeof t === "string" ? command({ kind: "say", text: t }) : t;
    }
    case "msg": {
      const to = name("to");
      if (typeof to !== "string") return to;
      const t = text();
      return typeof t === "string" ? command({ kind: "msg", to, text: t }) : t;
    }
    case "group": {
      const group = name("group");
      if (typeof group !== "string") return group;
      const t = text();
      return typeof t === "string"
        ? command({ kind: "gsay", group, text: t })
        : t;
    }
    case "file": {
      const to = name("to");
      if (typeof to !== "string") return to;
      const p = path();
      return typeof p === "string" ? command({ kind: "file", to, path: p }) : p;
    }
    case "groupfile": {
      const group = name("group");
      if (typeof group !== "string") return group;
      const p = path();
      return typeof p === "string"
        ? command({ kind: "groupfile", group, path: p })
        : p;
    }
    case "list":
      return command({ kind: "list" });
    case "groups":
      return command({ kind: "groups" });
    case "create":
    case "join":
    case "leave": {
      const group = name("group");
      return typeof group === "string"
        ? command({ kind: o.cmd, group })
        : group;
    }
    case "members": {
      if (o.group === undefined) return command({ kind: "members" });
      const group = name("group");
      return typeof group === "string"
        ? command({ kind: "members", group })
        : group;
    }
    case "history": {
      let target: string | undefined;
      if (o.target !== undefined) {
        const t = str("target");
        if (t === null || !isValidName(t)) {
          return problem(`"target" must be a user or group name: ${NAME_RULE}`);
        }
        target = t;
      }
      let limit: number | undefined;
      if (o.limit !== undefined) {
        if (
          typeof o.limit !== "number" || !Number.isInteger(o.limit) ||
          o.limit < 1 || o.limit > MAX_HISTORY
        ) {
          return problem(`"limit" must be a number from 1 to ${MAX_HISTORY}`);
        }
        limit = o.limit;
      }
      return command({
        kind: "history",
        ...(target === undefined ? {} : { target }),
        ...(limit === undefined ? {} : { limit }),
      });
    }
    case "accept":
    case "decline": {
      if (typeof o.xfer !== "number" || !Number.isSafeInteger(o.xfer)) {
        return problem(`'${o.cmd}' needs "xfer", the offer's number`);
      }
      return { kind: "answer", xfer: o.xfer, accept: o.cmd === "accept", id };
    }
    case "transfers":
      return command({ kind: "transfers" });
    case "cancel": {
      const n = o.number;
      if (
        typeof n !== "number" || !Number.isSafeInteger(n) || n < 1 ||
        n > 999_999_999
      ) {
        return problem(
          `'cancel' needs "number", a transfer's number from 'transfers'`,
        );
      }
      return command({ kind: "cancel", number: n });
    }
    case "away": {
      if (o.reason === undefined) return command({ kind: "away" });
      const reason = str("reason")?.trim();
      if (reason === undefined) return problem(`"reason" must be a string`);
      if (reason === "") return command({ kind: "away" });
      if (reason.length > MAX_AWAY_CHARS) {
        return problem(
          `Away reason too long (${reason.length} characters; the limit is ${MAX_AWAY_CHARS})`,
        );
      }
      return command({ kind: "away", reason });
    }
    case "help": {
      const topic = str("topic");
      return command(
        topic === null ? { kind: "help" } : { kind: "help", topic },
      );
    }
    case "quit":
      return command({ kind: "quit" });
    default:
      return problem(
        `Unknown command ${JSON.stringify(o.cmd)}; "cmd" is one of ${
          JSON_COMMANDS.join(", ")
        }`,
      );
  }
}

function invalid(message: string, id: Re | null): InputAction {
  return { kind: "invalid", message: `ERROR: ${message}`, id };
}
