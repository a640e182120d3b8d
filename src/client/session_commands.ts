/**
 * What a session does with each line of input: a command, chat (where
 * /query points), an answer to a file offer or, in --json, a JSON command;
 * and each one's results shown in the order the lines were typed.
 *
 * @module
 */

import { messageOf } from "../transport/secure_channel.ts";
import { nameKey } from "../protocol/limits.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { type ChatClient, type Reply, wasUnanswered } from "./chat_client.ts";
import { type Command, parseInput, terminalHelp } from "./commands.ts";
import {
  addressed,
  perform,
  queryNote,
  writtenTo,
} from "./command_requests.ts";
import {
  CANNOT_IGNORE_SELF,
  ignoredLines,
  ignoringText,
  unignoredText,
} from "./ignore_texts.ts";
import { actionBody } from "./actions.ts";
import { didYouMean } from "./did_you_mean.ts";
import { entryOf } from "./members_reply.ts";
import { groupQueryNote, notOnlineNote } from "./query_notes.ts";
import { withLikelyName } from "./likely_name.ts";
import type { Conversations } from "./conversations.ts";
import type { IgnoreFile } from "./ignore_file.ts";
import type { HistoryCounts } from "./history_count.ts";
import { jsonHistoryCommand, pageHistory } from "./history_pages.ts";
import type { E2eSessions, Opened } from "./e2e_sessions.ts";
import { type InputAction, parseJsonInput } from "./json_input.ts";
import type { InTurn } from "./in_turn.ts";
import type { NamesSeen } from "./names_seen.ts";
import type { OfferConsent } from "./offer_consent.ts";
import type { outgoingFiles } from "./outgoing_files.ts";
import type { Re, SessionEvent } from "./session_events.ts";
import type { transferControls } from "./transfer_controls.ts";
import { formatTransfers } from "./transfers_view.ts";
import {
  type ChatCommand,
  isChat,
  type unconfirmedChat,
} from "./unconfirmed_chat.ts";
import { unansweredLine } from "./leave_questions.ts";
import { lateNotice, pendingNotice, pendingOf } from "./answer_within.ts";
import { withPatience } from "./with_patience.ts";

/** What /verify and /trust say in a session without end-to-end keys. */
const NO_E2E =
  "ERROR: This session has no end-to-end keys (see the warning at start), so private messages are not end to end";

/**
 * Why `command` is not sent without the keys another process of this name
 * has (it would go in the clear), or null when it needs none.
 */
function elsewhereRefusal(command: Command): string | null {
  const what = command.kind === "msg"
    ? "private messages"
    : command.kind === "gsay"
    ? "group messages"
    : command.kind === "file" || command.kind === "groupfile"
    ? "files"
    : null;
  return what === null
    ? null
    : `ERROR: Not sent: ${what} go from the other chat connect signed in as you, which has your end-to-end keys (end it and start this one again to send them here)`;
}

export interface SessionCommandsOptions {
  /** Our name. */
  self: string;
  /** `--json`: input lines may be JSON commands. */
  json: boolean;
  emit: (event: SessionEvent) => void;
  offers: OfferConsent;
  conversations: Conversations;
  /** Shows the prompt again (where /query points). */
  showPrompt: () => void;
  ignore: IgnoreFile;
  names: NamesSeen;
  outgoing: ReturnType<typeof outgoingFiles>;
  transfers: ReturnType<typeof transferControls>;
  /** Private messages end to end; null without keys. */
  e2e: E2eSessions | null;
  /**
   * Another process signed in as this name has its end-to-end keys
   * (e2e_lock.ts): private and group messages and files are refused, never
   * sent in the clear to someone whose keys that process knows.
   */
  e2eElsewhere?: boolean;
  /** Shows an opened end-to-end message (session_e2e.ts). */
  showOpened: (opened: Opened) => void;
  /** What came from the server, shown in the order it came. */
  order: InTurn;
  /** What each history request's messages came to (the session counts them). */
  historyCounts: HistoryCounts;
  chats: ReturnType<typeof unconfirmedChat>;
  /** The connection now. */
  client: () => ChatClient;
}

export function sessionCommands(options: SessionCommandsOptions) {
  const {
    self,
    json,
    emit,
    offers: { prompts, answers },
    conversations,
    showPrompt,
    ignore,
    names,
    outgoing,
    transfers,
    e2e,
    e2eElsewhere = false,
    showOpened,
    order,
    historyCounts,
    chats,
    client,
  } = options;
  const keyOf = (name: string) => names.keyOf(name);
  // Each command's result is shown in the order the commands were typed, even
  // when a local answer (usage, help) is ready before an earlier server reply.
  let results: Promise<void> = Promise.resolve();
  const showInOrder = (show: Promise<() => void>): Promise<void> => {
    results = results.then(() => show).then((run) => run());
    return results;
  };
  // The answers still to come of chat lines said pending, shown out of turn:
  // leaving waits for them too (a line cut off is answered then).
  const lateAnswers = new Set<Promise<void>>();
  const followLate = (answer: Promise<void>): Promise<void> => {
    lateAnswers.add(answer);
    void answer.finally(() => lateAnswers.delete(answer));
    return answer;
  };
  // A chat line the connection cut off before its answer, not sent again
  // (no connection came back, or the user left): the server may have stored
  // it, so "Not sent" would be wrong; a script learns its fate by its `re`.
  const answerEvent = (
    re: Re,
    command: Command,
    reply: Reply,
  ): SessionEvent =>
    isChat(command) && wasUnanswered(reply)
      ? {
        type: "error",
        re,
        code: "unanswered",
        text: unansweredLine(recipientOf(command)),
      }
      : {
        type: "reply",
        re,
        command,
        // `/msg jojp hi` with jojo online: "Did you mean jojo?" too.
        reply: withLikelyName(command, reply, {
          users: names.users.values(),
          groups: names.groups,
        }, self),
      };

  /** What a line asks for: in --json, it may be a JSON command. */
  const parse = (line: string): InputAction | null => {
    if (json) return parseJsonInput(line);
    const command = parseInput(line);
    return command === null ? null : { kind: "command", command, id: null };
  };

  /** `/transfers` or `/cancel`: about transfers that may be running. */
  const controlsTransfers = (line: string | null): boolean => {
    if (line === null) return false;
    const action = parse(line);
    return action !== null && action.kind === "command" &&
      (action.command.kind === "transfers" ||
        action.command.kind === "cancel");
  };

  /** `/file` or `/groupfile` (or their JSON commands): sends a file. */
  const sendsFile = (line: string): boolean => {
    const action = parse(line);
    return action !== null && action.kind === "command" &&
      (action.command.kind === "file" || action.command.kind === "groupfile");
  };

  /**
   * Acts on input line number `number`; resolves once its results are
   * shown, or "quit" when the user asked to leave.
   */
  const handle = (line: string, number: number): Promise<void> | "quit" => {
    // While an offer waits, y / n / a answer it; anything else is chat.
    if (!json && prompts.answer(line)) return Promise.resolve();
    const action = parse(line);
    if (action === null) return Promise.resolve();
    const re = action.id ?? number;
    switch (action.kind) {
      case "invalid":
        return showInOrder(
          Promise.resolve(() =>
            emit({ type: "error", re, code: "usage", text: action.message })
          ),
        );
      case "answer":
        return showInOrder(Promise.resolve(() => {
          if (!answers.answer(action.xfer, action.accept)) {
            emit({
              type: "error",
              re,
              code: "no_such_offer",
              text:
                `ERROR: No file offer ${action.xfer} is waiting for an answer`,
            });
          }
        }));
      case "command":
        break;
    }
    // Plain lines and actions go where /query points.
    const typed = action.command;
    const command: Command = typed.kind === "say"
      ? addressed(typed.text, conversations.current)
      : typed.kind === "me"
      ? addressed(actionBody(typed.text), conversations.current)
      : typed;
    // Writing to a conversation is reading it: its count leaves the prompt.
    const wrote = writtenTo(command);
    if (wrote !== null && conversations.wrote(wrote)) showPrompt();
    /**
     * Local lines answering the command: errors as errors, the others as
     * notices that name the command (`re`), as its errors do.
     */
    const tell = (lines: string[]) => () => {
      for (const text of lines) {
        if (text.startsWith("ERROR: ")) {
          emit({ type: "error", re, code: command.kind, text });
        } else emit({ type: "notice", re, text });
      }
    };
    // Never in the clear for want of the keys another process has: not to
    // someone with keys, nor to a group, nor a file's key in its offer.
    const refusal = e2eElsewhere ? elsewhereRefusal(command) : null;
    if (refusal !== null) return showInOrder(Promise.resolve(tell([refusal])));
    switch (command.kind) {
      case "quit":
        return "quit";
      case "query": {
        const { conversation } = command;
        conversations.setCurrent(conversation);
        showPrompt();
        // Named as the server spells it once it says (`/query BOB` goes to
        // Bob, and the prompt says so), as /msg's confirmation does.
        const spelled = (name: string | undefined) => {
          if (name === undefined || conversation.kind === "public") {
            return conversation;
          }
          const named = { ...conversation, name };
          conversations.spelled(named);
          showPrompt();
          return named;
        };
        if (conversation.kind === "group") {
          // A group one is not in (left, or never joined) is said at once,
          // not at each line sent there.
          return showInOrder(
            client().request({ t: "members", group: conversation.name })
              .then((reply) => {
                const listed = entryOf(reply, conversation.name);
                const note = queryNote(spelled(listed?.group));
                const absent = groupQueryNote(conversation.name, self, reply);
                return tell(absent === null ? [note] : [note, absent]);
              }),
          );
        }
        if (conversation.kind !== "user") {
          return showInOrder(Promise.resolve(tell([queryNote(conversation)])));
        }
        if (nameKey(conversation.name) === nameKey(self)) {
          return showInOrder(Promise.resolve(tell([queryNote(spelled(self))])));
        }
        // A name typed wrong (`/query jojp`) is said at once, not at each
        // line sent there; the query stays (a name registered but away
        // has its messages kept for them).
        return showInOrder(
          client().request({ t: "list" }).then((reply) => {
            names.learnNames(reply);
            names.learnKeys(reply);
            const listed = reply.t === "users"
              ? reply.users.find((u) =>
                nameKey(u.name) === nameKey(conversation.name)
              )
              : undefined;
            const note = queryNote(spelled(listed?.name));
            const absent = reply.t === "users" && reply.more === undefined &&
              listed === undefined;
            if (!absent) return tell([note]);
            const likely = didYouMean(
              conversation.name,
              reply.users.map((u) => u.name).filter((other) =>
                nameKey(other) !== nameKey(self)
              ),
            );
            return tell([note, notOnlineNote(conversation.name, likely)]);
          }),
        );
      }
      case "ignore":
        return showInOrder(
          (command.name === undefined
            ? Promise.resolve(ignoredLines(ignore.list.entries()))
            : ignoreUser(command.name)).then(tell),
        );
      case "unignore":
        return showInOrder(
          ignore.remove(command.name, keyOf(command.name)).then(
            (removed) => tell([unignoredText(command.name, removed)]),
            (error) => tell([`ERROR: ${messageOf(error)}`]),
          ),
        );
      case "file":
        return outgoing.send({ to: command.to }, command.path, re);
      case "groupfile":
        return outgoing.send({ group: command.group }, command.path, re);
      case "help":
        return showInOrder(
          Promise.resolve(() =>
            emit({
              type: "help",
              re,
              lines: terminalHelp(command.topic),
              topic: command.topic,
            })
          ),
        );
      case "history":
        return showInOrder(pagedHistory(command, re));
      case "invalid":
        return showInOrder(
          Promise.resolve(() =>
            emit({ type: "error", re, code: "usage", text: command.message })
          ),
        );
      case "transfers":
        return showInOrder(
          transfers.list().then((entries) => tell(formatTransfers(entries))),
        );
      case "cancel":
        return showInOrder(transfers.cancel(command.number).then(tell));
      case "verify":
        return showInOrder(
          e2e === null
            ? Promise.resolve(tell([NO_E2E]))
            // Named as the server spells it (`/verify bob` for Bob), as
            // /query and /msg do: a key fetched says so itself, a session
            // already open takes the spelling last seen.
            : e2e.verify(
              client(),
              command.name,
              command.number ?? null,
              names.users.get(nameKey(command.name)) ?? command.name,
            ).then((lines) => tell(lines.map(sanitizeForTerminal))),
        );
      case "trust":
        if (e2e === null) return showInOrder(Promise.resolve(tell([NO_E2E])));
        {
          // What /trust sent is followed as a typed line: pending past
          // SEND_WAIT_MS, its answer shown when it comes, and sent again with
          // its cid if the connection ends first.
          const at = client();
          const answers: Promise<void>[] = [];
          const shown = showInOrder(
            e2e.trust(at, command.name).then(async (result) => {
              const sent = await Promise.all(result.sent.map(async (sent) => {
                const line = {
                  kind: "msg" as const,
                  to: sent.to,
                  text: sent.text,
                };
                const reply = await chats.follow(
                  at,
                  line,
                  sent.cid,
                  sent.reply,
                );
                const pending = pendingOf(reply);
                if (pending !== undefined) {
                  answers.push(
                    followLate(pending.answer.then(async (answer) => {
                      await order.settled;
                      emit({ type: "notice", text: lateNotice(pending.to) });
                      emit(answerEvent(re, line, answer));
                    })),
                  );
                }
                return { line, reply, pending };
              }));
              return () => {
                tell(result.lines.map(sanitizeForTerminal))();
                for (const { line, reply, pending } of sent) {
                  if (pending === undefined) {
                    emit(answerEvent(re, line, reply));
                  } else {
                    emit({
                      type: "notice",
                      re,
                      text: pendingNotice(pending.to, true),
                    });
                  }
                }
                for (const opened of result.opened) showOpened(opened);
              };
            }),
          );
          return shown.then(() => Promise.all(answers)).then(() => {});
        }
      default:
        break;
    }
    const request = isChat(command)
      ? chats.send(command)
      : withPatience(() => perform(client(), command)!);
    // A chat line the server has not answered within SEND_WAIT_MS: said
    // pending in its turn, and its answer shown when it comes, out of
    // turn, marked late (lateNotice). A script's next command waits for
    // that answer.
    let answerShown: Promise<void> = Promise.resolve();
    const showAnswer = async (to: string, reply: Reply) => {
      await order.settled;
      names.learnNames(reply);
      names.learnKeys(reply);
      emit({ type: "notice", re, text: lateNotice(to) });
      emit(answerEvent(re, command, reply));
    };
    // What arrived before the reply is shown before it.
    const shown = showInOrder(request.then(async (reply) => {
      const pending = pendingOf(reply);
      if (pending !== undefined) {
        answerShown = followLate(
          pending.answer.then((reply) => showAnswer(pending.to, reply)),
        );
        return () =>
          emit({ type: "notice", re, text: pendingNotice(pending.to, true) });
      }
      await order.settled;
      names.learnNames(reply);
      names.learnKeys(reply);
      if (
        (command.kind === "create" || command.kind === "join") &&
        reply.t === "ok"
      ) names.learnGroup(command.group);
      if (reply.t === "error" && reply.code === "no_such_group") {
        // Nobody is told of a group they are not in: the groups made since
        // this client last asked are learnt now, for the name likely meant.
        await client().request({ t: "groups" }).then(
          (groups) => names.learnNames(groups),
          () => {},
        );
      }
      if (
        command.kind === "away" && reply.t === "error" &&
        reply.code === "bad_request"
      ) {
        return () =>
          emit({
            type: "error",
            re,
            code: "unsupported",
            text:
              "ERROR: This server does not support /away (it is older than this client)",
          });
      }
      if (command.kind === "away" && reply.t === "ok") {
        away = command.reason ?? null;
      }
      // A group left has nothing more to read: its count leaves the prompt.
      if (
        command.kind === "leave" && reply.t === "ok" &&
        conversations.wrote({ kind: "group", name: command.group })
      ) showPrompt();
      return () => emit(answerEvent(re, command, reply));
    }));
    return shown.then(() => answerShown);
  };

  /**
   * `/history` (history_pages.ts): its lines oldest first, then the end
   * line.
   */
  const pagedHistory = async (
    command: Extract<Command, { kind: "history" }>,
    re: Re,
  ): Promise<() => void> => {
    const { showLines, reply } = await pageHistory(command, {
      ask: async (request) => {
        let asked = client();
        const reply = await withPatience(() =>
          (asked = client()).request(request)
        );
        return { reply, asked };
      },
      settled: () => order.settled,
      counts: historyCounts,
      // A program reads the hint to see more: the command it writes.
      ...(json ? { moreAs: jsonHistoryCommand } : {}),
    });
    names.learnNames(reply);
    return () => {
      showLines(emit);
      emit({ type: "reply", re, command, reply });
    };
  };

  /** The away reason the server has for us: said again after a reconnection. */
  let away: string | null = null;

  /** `/ignore NAME`: by the key the server says the name is bound to. */
  const ignoreUser = async (name: string): Promise<string[]> => {
    if (nameKey(name) === nameKey(self)) return [CANNOT_IGNORE_SELF];
    // Ask who is online now: their key may have changed since the last /list.
    const reply = await client().request({ t: "list" });
    names.learnKeys(reply);
    const online = reply.t === "users"
      ? reply.users.find((u) => nameKey(u.name) === nameKey(name))?.name
      : undefined;
    const shown = online ?? name;
    const key = online === undefined ? null : keyOf(online);
    try {
      await ignore.add({ fingerprint: key, name: shown });
    } catch (error) {
      return [`ERROR: ${messageOf(error)}`];
    }
    const where = ignore.path === null
      ? "for this session: there is no config folder"
      : `remembered in ${ignore.path}`;
    return [ignoringText(shown, key, where)];
  };

  return {
    /**
     * Acts on input line number `number`; resolves once its results are
     * shown, or "quit" when the user asked to leave.
     */
    handle,
    /** What a line asks for. */
    parse,
    /** Whether a line is /transfers or /cancel (a script does not wait for them). */
    controlsTransfers,
    sendsFile,
    /** Settles once the results of every line so far are shown. */
    results: () => results,
    /**
     * Settles once the results of every line so far are shown, and the
     * answers to come of lines said pending.
     */
    answered: async () => {
      await results;
      await Promise.all(lateAnswers);
    },
    /** The away reason the server has for us (null: none). */
    away: () => away,
  };
}

/** Whom a chat line goes to, as the line about it names them. */
function recipientOf(command: ChatCommand): string {
  switch (command.kind) {
    case "say":
      return "everyone";
    case "msg":
      return sanitizeForTerminal(command.to);
    case "gsay":
      return `group ${sanitizeForTerminal(command.group)}`;
  }
}
