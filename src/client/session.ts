/**
 * The interactive chat session: terminal input -> commands -> requests, and
 * server messages -> rendered lines. Returns the process exit code; never exits.
 */

import { HeldRepliesNotice } from "./held_replies_notice.ts";
import { invalidUsername, isValidName } from "../protocol/limits.ts";
import { shownCharacter } from "../text/shown_character.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { messageOf } from "../transport/secure_channel.ts";
import {
  ChatClient,
  decodeText,
  type Held,
  isHeld,
  wasUnanswered,
} from "./chat_client.ts";
import { StoreLedgers } from "./store_ledgers.ts";
import { completeLine, type PathEntry } from "./completion.ts";
import { conversationOf, Conversations } from "./conversations.ts";
import { defaultIgnorePath, IgnoreFile } from "./ignore_file.ts";
import { HistoryFile, historyPath } from "./history_file.ts";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import { scanPartials } from "../files/partials.ts";
import { hasTextBody, type Style } from "./render.ts";
import type { Identity } from "../crypto/identity.ts";
import { hostKeyOf } from "./known_hosts.ts";
import type { Terminal } from "./terminal.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { firstAttempt } from "./reconnect_backoff.ts";
import { unconfirmedChat } from "./unconfirmed_chat.ts";
import { linesOwed } from "./lines_owed.ts";
import {
  filesAtQuit,
  type LeaveBy,
  queuedAtQuit,
  unansweredAtLeaving,
  unconfirmedAtQuit,
  undeliveredAtQuit,
  unsentAtQuit,
} from "./leave_questions.ts";
import { sessionCommands } from "./session_commands.ts";
import { NamesSeen } from "./names_seen.ts";
import { withLikelyRecipient } from "./likely_name.ts";
import { InTurn, laneNameOf, laneOf } from "./in_turn.ts";
import { OFFER_PLACE_MS } from "./file_key_share.ts";
import {
  emitOrHold,
  type HistoryCount,
  HistoryCounts,
  noteHistoryId,
} from "./history_count.ts";
import {
  type E2eHolder,
  type E2eKeys,
  type E2eOpening,
  sessionE2e,
} from "./session_e2e.ts";
import type { SessionEvent } from "./session_events.ts";
import { StatusRow } from "./status_row.ts";
import { offerConsent } from "./offer_consent.ts";
import { connectionFiles, type FileOptions } from "./connection_files.ts";
import { ReceivedFiles } from "./received_files.ts";
import type { FileSender, SendTarget } from "./file_sender.ts";
import { outgoingFiles, type PendingResend } from "./outgoing_files.ts";
import { FilesAtOnce } from "./sending_places.ts";
import { transferControls } from "./transfer_controls.ts";
import {
  type JsonLines,
  type Output,
  outputFor,
  READER_CAUGHT_UP,
  readerBehindText,
  type StdoutReader,
} from "./session_output.ts";
import { publishKeys } from "./publish_keys.ts";
import { OwnKeysOnServer } from "./own_keys_on_server.ts";
import { type Queued, reconnect } from "./session_reconnect.ts";
import { MissedPublic } from "./missed_public.ts";
import type { HistoryPaging } from "./history_pages.ts";
import { withPatience } from "./with_patience.ts";
import { withDeadline } from "../transport/with_deadline.ts";
import type { Asker } from "./first_contact.ts";
import {
  asksFirst,
  connectFirstPatiently,
  explainConnectError,
  type FirstConnectPause,
  knownKey,
  type ServerNode,
  type ServerTrust,
} from "./server_connect.ts";
import { tryingAgainLine } from "./first_connect_lines.ts";

export interface SessionOptions {
  /**
   * The server's addresses (ws:// URLs), one or more: nodes of one chat
   * that share its key (issue 19). The session connects to the first that
   * answers, and moves round them when its node goes away.
   */
  urls: readonly string[];
  trust: ServerTrust;
  /** Proves the user's name is theirs. */
  identity: Identity;
  user: string | null;
  terminal: Terminal;
  files: FileOptions;
  /** Reconnect automatically when the connection drops (--no-reconnect turns it off). */
  reconnect: boolean;
  /**
   * `--json`: every event is written here as one JSON object (without the
   * newline), input lines may be JSON commands, and `terminal` only reads
   * input and shows diagnostics (stderr).
   */
  json?: JsonLines;
  /**
   * A script (stdin not a terminal, no `--json`): the program reading its
   * lines, which `terminal` queues for it. As for `--json`, nothing more is
   * taken from the server while it is behind, and a chat message is
   * acknowledged once its line is written.
   */
  scriptReader?: StdoutReader;
  /**
   * A person's terminal (stdin a terminal, no `--json`), all of whose
   * output `terminal` queues: nothing more is taken from the server while
   * it is behind (an ssh connection that stalls, say), and the keepalive
   * pings are still answered. Unlike a program, it is not told so (it would
   * read it only once it caught up). As for a program, a chat message is
   * acknowledged once its line is written: a client killed (or hung up on)
   * with lines still queued for a stalled terminal gets them again at the
   * next sign-in (docs/PROTOCOL.md 5.9: acknowledged once shown).
   */
  terminalReader?: StdoutReader;
  /** How the terminal behaves (issue 15); defaults for a script when absent. */
  ui?: InterfaceOptions;
  /**
   * The end-to-end keys (issue 17) of the name the server welcomed, asked
   * for once, right after the welcome: they are kept per name (a name
   * refused and asked again never opens the first one's). Published at
   * every sign-in. Absent: none.
   *
   * @throws {Error} when they cannot be used: the session ends, rather than
   *   send private messages in the clear
   */
  e2e?: (name: string) => Promise<E2eOpening>;
}

/** Terminal niceties a user can turn off. */
export interface InterfaceOptions {
  /** `[HH:MM]` before each received line, on a terminal (--no-time: not). */
  time: boolean;
  /** Typed lines kept per server in the config folder (--no-history-file: not). */
  historyFile: boolean;
}

/** A script's input ended before it gave a name. */
const NO_NAME =
  "ERROR: No username: the input ended before one was given (pass --user NAME)";

/** How long to wait for outstanding replies when input ends. */
const REPLY_GRACE_MS = 5000;

/** How long quitting waits for a key publish still under way. */
const KEYS_GRACE_MS = 5000;

/**
 * How often a connection the server closed while the name was asked (its
 * minute to name someone, registerTimeoutMs) is made again for the name
 * typed: a person slow more than this many times is told it ended.
 */
const MAX_RECONNECTS_FOR_NAME = 3;

export async function runSession(options: SessionOptions): Promise<number> {
  const { terminal } = options;
  const style: Style = {
    color: terminal.color,
    bell: terminal.interactive,
    // A person sees a message's lines as lines (set in under its text); a
    // script keeps one line a message, the breaks shown as ^J.
    lineBreaks: terminal.interactive,
    terminalBreaks: terminal.interactive,
  };
  const reader = options.json ?? options.scriptReader;
  const output = outputFor(
    terminal,
    style,
    options.json,
    reader ?? options.terminalReader,
    reader !== undefined || options.terminalReader !== undefined,
  );
  // A program that stops reading our stdout is told on stderr why nothing
  // more comes, and when it flows again (see `attach` in chat): not on
  // stdout, where it would wait behind what it does not read.
  reader?.onBehind((behind) =>
    terminal.printError(
      behind
        ? readerBehindText(
          reader.highBytes,
          reader.highLines,
          options.json !== undefined,
        )
        : READER_CAUGHT_UP,
    )
  );
  const emit = output.emit;
  const connectionError = (reason: string) =>
    emit({
      type: "error",
      re: null,
      code: "connection",
      text: `ERROR: ${reason}`,
    });
  const { urls } = options;
  if (urls.length === 0) throw new TypeError("No server address");
  emit({ type: "notice", text: `Connecting to ${urls.join(", ")}` });

  // The handshake runs while the user types their name; a failure (wrong key,
  // no server) is reported at once rather than after the prompt.
  const node: ServerNode = { index: 0, key: knownKey(urls, options.trust) };
  // Refused for a while (its address's handshake rate: a class starting at
  // once), it waits as the server asks and tries again, said once.
  // Ctrl-D at a question of the connection's (the server's key, first
  // contact) is its answer, "no", said as such: not a leaving.
  let asking = 0;
  const asker: Asker = {
    print: (line) => terminal.print(line),
    question: async (prompt) => {
      asking++;
      try {
        return await terminal.question(prompt);
      } finally {
        asking--;
      }
    },
    discardTypedAhead: () => terminal.discardTypedAhead(),
  };
  // Each wait of the first connection is said: why at the first, then a
  // line a try counting it down (a person could not tell a client waiting
  // 8 s from one that hung), and to a program as a reconnection's wait.
  const firstConnectPause = (pause: FirstConnectPause) => {
    if (pause.why !== null) emit({ type: "notice", text: pause.why });
    if (options.json !== undefined) {
      emit({
        type: "connection",
        state: {
          kind: "waiting",
          attempt: pause.attempt,
          retryAt: pause.retryAt,
          lastError: pause.reason,
        },
        queued: 0,
      });
      return;
    }
    emit({
      type: "notice",
      text: tryingAgainLine(pause.seconds, terminal.interactive),
    });
  };
  /**
   * Starts a connection: it, and what to say if it fails (null once it
   * succeeded), known while the name is still being asked.
   */
  const startConnecting = () => {
    const connection = connectFirstPatiently(
      urls,
      node,
      options.trust,
      asker,
      firstConnectPause,
    );
    const failure = connection.then(
      () => null,
      (error) => explainConnectError(error, urls[0]!),
    );
    return { connection, failure };
  };
  let { connection: connecting, failure: connectFailure } = startConnecting();
  // Ctrl-D, or a second Ctrl-C, while the first connection is still being
  // tried (its waits between tries last up to 10 s) leaves at once: the
  // session is not left waiting for the tries to end. Replaced by the
  // chat's own question before leaving once connected.
  const leftWhileConnecting = Promise.withResolvers<"left">();
  terminal.onLeaveKey(() => {
    if (asking === 0) leftWhileConnecting.resolve("left");
    return false;
  });
  const connectedOrLeft = () =>
    Promise.race([connectFailure, leftWhileConnecting.promise]);
  if (node.key === null && asksFirst(urls[0]!, options.trust)) {
    // The key's fingerprint is shown and asked about before the name is;
    // the tries before it can be left as the ones after the name.
    const reason = await connectedOrLeft();
    if (reason === "left") return 0;
    if (reason !== null) {
      connectionError(reason);
      return 1;
    }
  }

  let client: ChatClient | null = null;
  let name = options.user;
  let e2eKeys: E2eKeys | undefined;
  let e2eElsewhere: E2eHolder | null = null;
  let keysPublished: Promise<void> = Promise.resolve();
  // What was shown, kept across reconnections: nothing is shown twice.
  const ledger = new StoreLedgers();
  let reconnectsForName = 0;
  for (;;) {
    if (name === null) {
      const answer = await Promise.race([
        terminal.question("Enter your username: "),
        connectFailure.then((
          reason,
        ) => (reason === null ? new Promise<never>(() => {}) : { reason })),
      ]);
      if (answer !== null && typeof answer === "object") {
        connectionError(answer.reason);
        return 1;
      }
      // "/quit" is no name (names have no '/'): it leaves, as Ctrl-D does,
      // and as the hint of Ctrl-C on an empty line says it does.
      if (
        answer === null ||
        (terminal.interactive && /^\/quit$/i.test(answer.trim()))
      ) {
        // A script's input ended before a name: say why nothing happened
        // (the connection's own failure, if it failed), not exit silently.
        if (!terminal.interactive) {
          const reason = await connectFailure;
          if (reason !== null) connectionError(reason);
          else {
            emit({ type: "error", re: null, code: "usage", text: NO_NAME });
          }
          return 1;
        }
        // A person who chose to leave: nothing failed.
        return 0;
      }
      name = answer.trim();
      // A name outside the rule is said here, as chat connect says a
      // --user: the character itself beside its code point, where the
      // server's reply (printable ASCII) names the code point alone.
      if (terminal.interactive && name !== "" && !isValidName(name)) {
        emit({
          type: "error",
          re: null,
          code: "invalid_name",
          text: invalidUsername(name, shownCharacter),
        });
        name = null;
        continue;
      }
    }
    if (client === null) {
      const reason = await connectedOrLeft();
      // A person who chose to leave: nothing failed.
      if (reason === "left") return 0;
      if (reason !== null) {
        connectionError(reason);
        return 1;
      }
      client = await connecting;
      if (urls.length > 1) {
        emit({
          type: "notice",
          text: `Connected to ${hostKeyOf(urls[node.index]!)}`,
        });
      }
      emit({
        type: "notice",
        text: "Handshake Finished. Start AES encrypted transmission",
      });
    }
    // Messages are acknowledged once written to stdout (a person's too).
    if (output.ackOnceWritten) client.ackWhenHandled();
    const reply = await client.register(name, options.identity, ledger);
    if (
      wasUnanswered(reply) && options.user === null && terminal.interactive &&
      reconnectsForName < MAX_RECONNECTS_FOR_NAME
    ) {
      // The server closes a connection that names no one within a minute
      // (registerTimeoutMs): a person slow at `Enter your username:`, or
      // asked again after a name refused, was told "Not sent: disconnected
      // by the server" and the client ended. It connects again instead,
      // and signs in with the name typed.
      reconnectsForName++;
      emit({
        type: "notice",
        text:
          "The server closed the connection while the name was asked; connecting again",
      });
      ({ connection: connecting, failure: connectFailure } = startConnecting());
      client = null;
      continue;
    }
    emit({ type: "incoming", message: reply, text: "" });
    if (reply.t === "welcome") {
      // The name is settled: reconnections sign in with it again.
      const opened = await openE2e(options.e2e, reply.name, emit);
      if (opened === null) {
        await client.quit();
        return 1;
      }
      e2eKeys = opened.keys;
      e2eElsewhere = opened.elsewhere;
      keysPublished = publishKeys(client, e2eKeys, emit);
      break;
    }
    if (reply.t === "error" && reply.code === "internal") {
      // The connection is gone: the reply says so in a few words, and a
      // long reason (what the server broke) is said here, once.
      if (wasUnanswered(reply)) {
        const ending = await client.ended;
        if (ending.brief !== undefined) connectionError(ending.reason);
      }
      return 1;
    }
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
    urls,
    node,
    trust: options.trust,
    identity: options.identity,
    reconnect: options.reconnect,
    ledger,
    output,
    json: options.json !== undefined,
    ui: options.ui ?? { time: true, historyFile: true },
    e2e: e2eKeys,
    e2eElsewhere,
    keysPublished,
  });
}

/**
 * The keys of `name` from `open`, or none, said with the warning, when
 * another process of that name has them; null, after saying why, when they
 * cannot be used.
 */
async function openE2e(
  open: SessionOptions["e2e"],
  name: string,
  emit: (event: SessionEvent) => void,
): Promise<{ keys: E2eKeys | undefined; elsewhere: E2eHolder | null } | null> {
  if (open === undefined) return { keys: undefined, elsewhere: null };
  let opening: E2eOpening;
  try {
    opening = await open(name);
  } catch (error) {
    emit({
      type: "error",
      re: null,
      code: "e2e",
      text: `ERROR: ${messageOf(error)}`,
    });
    return null;
  }
  switch (opening.kind) {
    case "keys":
      // Each publish tells it whether the server took the keys.
      return {
        keys: { ...opening.keys, onServer: new OwnKeysOnServer() },
        elsewhere: null,
      };
    case "elsewhere":
      emit({
        type: "error",
        re: null,
        code: "e2e",
        text: sanitizeForTerminal(opening.warning),
      });
      return { keys: undefined, elsewhere: { pid: opening.pid } };
    default: {
      const unreachable: never = opening;
      return unreachable;
    }
  }
}

interface ChatContext {
  terminal: Terminal;
  style: Style;
  files: FileOptions;
  urls: readonly string[];
  node: ServerNode;
  trust: ServerTrust;
  identity: Identity;
  reconnect: boolean;
  ledger: StoreLedgers;
  output: Output;
  json: boolean;
  ui: InterfaceOptions;
  e2e: E2eKeys | undefined;
  /**
   * Another process of this name has its end-to-end keys: /msg is refused,
   * and what comes end to end is left for it, unacknowledged.
   */
  e2eElsewhere: E2eHolder | null;
  /** The first connection's key publish (publishKeys), maybe under way. */
  keysPublished: Promise<void>;
}

async function chat(first: ChatClient, context: ChatContext): Promise<number> {
  const { terminal, files } = context;
  const { emit } = context.output;
  const self = first.name!;
  // Mentions of this name are highlighted (mentions.ts).
  const style: Style = context.style;
  style.self = self;
  // Its lines from before a release are another key's (render.ts).
  style.ownAfter = first.ownAfter;
  // History lines carry their own time (render.ts); scripts keep the seed's lines.
  style.clock = context.ui.time && terminal.interactive && !context.json;
  // Who and what is there, for tab completion, and keys for /ignore.
  const names = new NamesSeen(self);
  // Files received whole, across this session's connections: one offered
  // again (its sender did not hear it arrived) is not saved twice.
  const received = new ReceivedFiles();
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? null;
  terminal.setCompleter((line) =>
    completeLine(
      line,
      { users: [...names.users.values()], groups: [...names.groups] },
      listFolder,
      home,
    )
  );
  // Chat lines are shown in the order they came: an end-to-end one is
  // opened first, and those after it wait for it.
  const order = new InTurn((error) =>
    emit({
      type: "error",
      re: null,
      code: "e2e",
      text: `ERROR: ${messageOf(error)}`,
    })
  );
  // Private and group messages end to end (issue 17), when there are keys.
  const {
    e2e,
    unarrived,
    groupSessions,
    fileKeys,
    usesE2e,
    showOpened,
    openE2e,
    openGroup,
    showPlain,
  } = sessionE2e({
    keys: context.e2e,
    elsewhere: context.e2eElsewhere,
    emit,
    order,
    show: (message, text, count) => show(message, text, count),
    client: () => link.client,
    // Asked once messages come, after the ignore list is loaded (below).
    ignored: (name) => ignore.list.isIgnored(name, keyOf(name)),
  });
  if (e2e !== null) {
    style.verification = (name, fingerprint) =>
      e2e.verification(link.client.serverFingerprint, name, fingerprint);
  }
  // Where plain lines go, and what waits unread elsewhere (the prompt says).
  const conversations = new Conversations();
  const showPrompt = () =>
    terminal.setPrompt(terminal.interactive ? conversations.prompt(self) : "");
  showPrompt();
  const keyOf = (name: string) => names.keyOf(name);
  const ignore = await loadIgnoreFile(first.serverFingerprint, terminal);
  const history = terminal.interactive && context.ui.historyFile
    ? await loadHistoryFile(first.serverFingerprint, terminal)
    : null;
  let historyFailed = false;
  terminal.onTypedLine((line) => {
    history?.add(line).catch((error) => {
      // Said once: the chat goes on without it.
      if (!historyFailed) terminal.print(`ERROR: ${messageOf(error)}`);
      historyFailed = true;
    });
  });
  if (terminal.interactive) {
    terminal.print(
      "Type a message and press Enter to send it to everyone; /help lists the commands.",
    );
  }

  // Transfers in progress (and the connection, while it is down), shown in
  // front of the prompt on a terminal; events in --json.
  const status = new StatusRow(terminal, context.json, emit);

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
  // A program (--json) answers each offer event with a command instead.
  const offers = offerConsent({
    terminal,
    files,
    json: context.json,
    emit,
    isIgnored: (name, key) => ignore.list.isIgnored(name, key),
    keyOf,
  });
  const { prompts, answers } = offers;

  // What each /history request's messages came to, for its reply.
  const historyCounts = new HistoryCounts();
  // Public messages said while the connection was down, asked for once
  // back (missed_public.ts).
  const missed = new MissedPublic();

  /**
   * Shows a chat message (or any other the server sent unasked); counted in
   * `count` when it answers a history request and is shown.
   */
  const show = (message: ServerMessage, text: string, count?: HistoryCount) => {
    const chat = hasTextBody(message) &&
      (message.t === "public" || message.t === "private" ||
        message.t === "group");
    if (chat && ignore.list.isIgnored(message.from, keyOf(message.from))) {
      return;
    }
    // Nor their comings and goings: signing in and out is a line on
    // everyone's screen, and /ignore is what a user can do about a sender's
    // lines. Joining or leaving a group is still said: it is who may read
    // what is sent there.
    if (
      message.t === "presence" &&
      ignore.list.isIgnored(message.name, keyOf(message.name))
    ) return;
    const past = "history" in message && message.history === true;
    const id = chat ? message.id : undefined;
    const display = () => {
      if (count !== undefined) count.shown++;
      const conversation = conversationOf(message, self);
      if (
        conversation !== null && !past &&
        conversations.noteIncoming(conversation)
      ) showPrompt();
      emitOrHold(emit, { type: "incoming", message, text }, count);
      missed.shown(id);
    };
    // While a reconnection asks what was missed in the room, a live line
    // there waits to come after those (missed_public.ts).
    if (
      message.t === "public" && !past && count === undefined &&
      missed.hold(id, display)
    ) return;
    display();
  };

  /**
   * Everything that lives as long as one connection. Its listeners are
   * added as one (ChatClient `listening`): what came between the welcome
   * and now (a file offer, say) reaches the file receiver and sender too,
   * not only the first listener.
   */
  const attach = (client: ChatClient, keysPublished: Promise<void>) =>
    client.listening(() => listen(client, keysPublished));
  // Why nothing moves while the server holds our replies (`alive`).
  const heldReplies = new HeldRepliesNotice();
  const listen = (client: ChatClient, keysPublished: Promise<void>) => {
    e2e?.connected();
    // Nothing more is taken from the server while a program leaves our
    // output (--json, or a script's) unread: what comes waits on the
    // connection, not here.
    client.holdReading(context.output.readerBehind);
    client.onMessage(({ message, body, answers }) => {
      // The goodbye is reported once, where the connection ends.
      if (message.t === "bye") return;
      if (message.t === "alive") {
        const text = heldReplies.alive(
          performance.now(),
          client.pendingCount,
        );
        if (text !== null) emit({ type: "notice", text });
        return;
      }
      const count = answers === undefined
        ? undefined
        : historyCounts.of(client, answers);
      // Whatever it is (a key, an ignored sender's message), it was
      // stored: an older page starts below it.
      if (count !== undefined && "id" in message && message.id !== undefined) {
        noteHistoryId(count, message.id);
      }
      names.learnNames(message);
      if (message.t === "presence" && message.online) {
        e2e?.signedIn(client.serverFingerprint, message.name);
      }
      // Who left a group, checked against the members our chain goes to.
      if (message.t === "membership") {
        groupSessions?.membership(client, message);
      }
      // A chat message is acknowledged once its listeners are done with it
      // (ackWhenHandled, set whenever stdout is queued: --json, a script's,
      // a person's terminal): once shown, and its line written to stdout,
      // so a client killed with lines unwritten gets them again.
      // What answers a /history is held until its last page came.
      // `written` counts the lines queued when it is called, so it is
      // called as soon as this message's line is out (not a turn later,
      // when the lines of messages after it may be queued too, and a
      // paused reader would hold this one's acknowledgement for them).
      // One left for the keys another process holds (`HELD`) is not ours
      // to acknowledge: it stays so.
      const reached = (dealt: Promise<void> | Held | undefined) =>
        isHeld(dealt)
          ? dealt
          : count === undefined
          ? dealt?.then(() => context.output.written())
          : dealt?.then(() => count.released.promise).then(() =>
            context.output.written()
          );
      if (message.t === "e2e_private") {
        // Opened even from someone ignored (`show` hides their messages):
        // it may hold their chain for a group, needed once they are shown
        // again.
        return reached(
          openE2e(client, message, body, count, answers !== undefined),
        );
      }
      if (message.t === "e2e_group") {
        if (!ignore.list.isIgnored(message.from, keyOf(message.from))) {
          return reached(
            openGroup(client, message, body, count, answers !== undefined),
          );
        }
        return;
      }
      // File data is not text: decoding each chunk would cost a string as
      // long as the chunk (and a JavaScript heap that grows with the rate).
      const text = hasTextBody(message) ? decodeText(body) : "";
      // In its sender's lane (or the lane of whom it tells of; a history
      // answer in its own): an offer of theirs waiting for its key holds
      // their lines after it, not everyone's (in_turn.ts).
      const lane = laneOf(laneNameOf(message), answers !== undefined);
      const shown = order.run(() => {
        // What someone ignored said is dropped by `show`; any other plain
        // message from someone known to use end-to-end keys is checked
        // (plain_messages.ts).
        const chat = message.t === "private" || message.t === "group";
        if (chat && !ignore.list.isIgnored(message.from, keyOf(message.from))) {
          showPlain(message, () => show(message, text, count), count);
        } else show(message, text, count);
      }, lane);
      if (
        message.t === "public" || message.t === "private" ||
        message.t === "group"
      ) return reached(shown);
    });
    // Seed tab completion with who and what is there; the replies are not shown.
    void client.request({ t: "list" }).then((r) => {
      names.learnNames(r);
      names.learnKeys(r);
    });
    void client.request({ t: "groups" }).then((r) => names.learnNames(r));
    const { receiver, sender } = connectionFiles(client, {
      files,
      received,
      offers,
      e2e,
      groupSessions,
      fileKeys,
      usesE2e,
      hold: (from) => order.hold(OFFER_PLACE_MS, laneOf(from)),
      emit,
      terminal,
      json: context.json,
      status,
    });
    return { client, receiver, sender, keysPublished };
  };
  let link = attach(first, context.keysPublished);
  // The attempt that made this connection (0: the first one) and when it
  // was welcomed (the monotonic clock: a wall-clock jump must not make a
  // short connection look healthy, or a long one not): where the backoff
  // stands if it ends soon (reconnect_backoff.ts).
  let connected = { attempt: 0, welcomedAt: performance.now() };
  // Resolved (and replaced) whenever a new connection takes over, or when
  // the session ends (then with null).
  let relinked = Promise.withResolvers<boolean>();
  let leaving = false;
  const outgoing = outgoingFiles({
    link: () => link,
    relinked: () => relinked.promise,
    leaving: () => leaving,
    // `/file jojp notes.txt` with jojo online: "Did you mean jojo?" too.
    emit: (event) =>
      emit(
        event.type === "file_sent"
          ? withLikelyRecipient(event, {
            users: names.users.values(),
            groups: names.groups,
          }, self)
          : event,
      ),
    learnGroups: () =>
      link.client.request({ t: "groups" }).then(
        (groups) => names.learnNames(groups),
        () => {},
      ),
    status,
    turn: () => chats.turn(),
    // No more under way at once than the server lets a sender have: the
    // others wait for one to end. A --json script's files go on while it
    // reads on (filesGoOn, below): thousands of `file` lines started at
    // once, and all but 8 were refused; at the terminal, a 9th /file typed
    // was refused ("You already have 8 transfers running"). Said at the
    // terminal, a line each; not to a program, told each outcome as ever.
    atOnce: new FilesAtOnce(),
    atOnceSaid: !context.json,
  });

  const transfers = transferControls({
    link: () => link,
    downloadsDir: files.downloadsDir,
    resends: { list: outgoing.resends, cancel: outgoing.cancelResend },
  });

  // Chat lines whose connection ended before the server answered go again
  // on the next one (unconfirmed_chat.ts).
  // Followed line by line: what a question before leaving named (lines_owed.ts).
  const chats = linesOwed(unconfirmedChat({
    e2e,
    groupSessions,
    reconnect: context.reconnect,
    client: () => link.client,
  }));
  const commands = sessionCommands({
    self,
    json: context.json,
    // A public line of ours, confirmed, is not missed at the next catch-up.
    emit: (event) => {
      missed.sent(event);
      emit(event);
    },
    offers,
    conversations,
    showPrompt,
    ignore,
    names,
    outgoing,
    transfers,
    e2e,
    e2eElsewhere: context.e2eElsewhere !== null,
    showOpened,
    order,
    historyCounts,
    chats,
    client: () => link.client,
  });
  const { handle, parse, controlsTransfers, sendsFile } = commands;
  // How the session asks `client` for history of its own (not a /history).
  const historyPaging = (client: ChatClient): HistoryPaging => ({
    ask: async (request) => ({
      reply: await withPatience(() => client.request(request)),
      asked: client,
    }),
    settled: () => order.settled,
    counts: historyCounts,
  });
  // Someone in a quiet room who has seen nothing yet (a person, a script,
  // a program) is shown what is said there while their connection is down
  // too (missed_public.ts): one history request of one message at the start.
  void missed.mark(historyPaging(first), first.welcomeLastId);

  /**
   * The session ends with the connection down (no reconnecting, or it gave
   * up): nothing is offered again, and each file still to be sent says its
   * outcome by its `re` before the output closes (the one held while it
   * waited to go again, or that it was never offered). Before, the session
   * returned at once and a program heard nothing final of them.
   */
  const endFilesUnsent = async () => {
    leaving = true;
    relinked.resolve(false);
    outgoing.stopWaiting();
    await withDeadline(outgoing.settled(), REPLY_GRACE_MS);
  };

  // A chat line cut off from its reply waits for the next connection, which
  // only this loop makes: a script stops waiting for it when the link ends.
  const untilDoneOrCut = (done: Promise<void>) =>
    Promise.race([done, link.client.ended]);

  let lineNumber = 0;
  // The line being waited for survives a reconnection, so nothing typed is lost.
  let pendingLine: Promise<string | null> | null = null;
  const nextLine = () => (pendingLine ??= terminal.nextLine());
  const queue: Queued[] = [];
  /**
   * What the last question before leaving named: the files under way then
   * and the lines pending or waiting, each itself. It stands for those
   * only: a file offered (or a line gone pending, or typed) since is asked
   * about again, where a question asked once, its files long over, let a
   * later Ctrl-D or /quit stop new ones without a word; and where counts
   * alone, one line answered and another typed meanwhile, let the new one
   * go unsent unasked.
   */
  // Leaving was confirmed after a question that named lines typed and not
  // gone out: those are dropped at once (chats.leave), as it said.
  let leftAfterQuestion = false;
  let quitAsked:
    | {
      files: Set<string>;
      lines: ReadonlySet<number>;
      queued: ReadonlySet<Queued>;
    }
    | null = null;
  /** The connection dropped and the session is getting back in. */
  let reconnecting = false;
  /**
   * Whether leaving now (an interactive /quit, or Ctrl-D) is held for a
   * question: asked once while lines sent are still pending, lines typed
   * wait (their turn, or the connection), or files are under way; the
   * second time, the files are stopped and it leaves.
   */
  const askBeforeLeaving = (how: LeaveBy): boolean => {
    // While reconnecting, a line cut off before its answer (said pending
    // or not yet) waits to go again once back: leaving drops it, when the
    // server may have stored it. Connected, one on its way is waited for.
    const sent = reconnecting ? chats.unanswered() : null;
    const unconfirmed = sent?.size ?? chats.pending();
    // Lines typed behind one not answered yet (chat lines go out one
    // after the other) would be dropped unsent.
    const unsent = chats.waiting();
    // Lines typed while reconnecting wait for the connection: leaving
    // drops them unsent (as the web page asks, queuedAtQuit).
    const away = reconnecting ? [...queue] : [];
    const files = filesUnderWay(link.sender, outgoing);
    if (
      unconfirmed === 0 && unsent === 0 && away.length === 0 &&
      files.length === 0
    ) return false;
    const lines = new Set([...chats.owed(), ...(sent ?? [])]);
    if (
      quitAsked !== null &&
      [...lines].every((line) => quitAsked!.lines.has(line)) &&
      away.every((line) => quitAsked!.queued.has(line)) &&
      files.every((file) => quitAsked!.files.has(file))
    ) {
      stopFiles(link.sender, outgoing);
      leftAfterQuestion = true;
      return false;
    }
    quitAsked = { files: new Set(files), lines, queued: new Set(away) };
    if (unconfirmed > 0) {
      emit({ type: "notice", text: unconfirmedAtQuit(unconfirmed, how) });
    }
    if (unsent > 0) emit({ type: "notice", text: unsentAtQuit(unsent, how) });
    if (away.length > 0) {
      emit({ type: "notice", text: queuedAtQuit(away.length, how) });
    }
    if (files.length > 0) {
      emit({ type: "notice", text: filesAtQuit(files, how) });
    }
    return true;
  };
  /**
   * A script's `/quit` (nobody to ask): the files waiting to be offered
   * again (their recipient away, up to 5 minutes) are not, said once, so
   * that it leaves once what is under way ends; before, it waited out
   * those 5 minutes.
   */
  const isQuitLine = (line: string | null): boolean => {
    if (line === null) return false;
    const action = parse(line);
    return action?.kind === "command" && action.command.kind === "quit";
  };
  const quitWithoutAsking = () => {
    const stopped = outgoing.stopOffersAgain();
    if (stopped.length > 0) {
      emit({ type: "notice", text: undeliveredAtQuit(stopped) });
    }
  };
  // Ctrl-D (and a second Ctrl-C) leave as /quit does: asked first too,
  // where they left at once and then waited silently for the files.
  terminal.onLeaveKey(() => askBeforeLeaving("key"));
  let readerIsGone = false;
  const readerGone = context.output.readerGone.then(() => {
    readerIsGone = true;
    return { reader: "gone" as const };
  });
  // A --json script's files go on while it reads its next lines (each
  // file's events carry its `re`): the end of its input, or its `quit`,
  // waits for them, as each line once waited for its file. The end of input
  // is then read as their end, and a dropped connection meanwhile is seen.
  const filesGoOn = context.json && !terminal.interactive;
  // A script's input that ended (or said quit) leaves once what it asked
  // for is through: its files, and the answers to its lines (as long as
  // they are worth waiting for). Meanwhile a dropped connection is seen,
  // and made again to finish them (session_reconnect.ts).
  let inputEnded = false;
  const filesEnded = () => {
    const ended = () => ({ line: null });
    return Promise.all([
      outgoing.settled(),
      withDeadline(commands.results(), REPLY_GRACE_MS),
    ]).then(ended, ended);
  };
  for (;;) {
    const event = await Promise.race([
      inputEnded ? filesEnded() : nextLine().then((line) => ({ line })),
      link.client.ended.then((ending) => ({ ending })),
      readerGone,
    ]);
    if ("reader" in event) {
      // The program reading our stdout is gone (`| head -1`): the session
      // ends as /quit ends it, quietly, as a tool whose reader went away
      // does; main.ts gives the exit status.
      break;
    }
    if ("line" in event) {
      pendingLine = null;
      if (event.line === null) {
        if (terminal.interactive || inputEnded) break;
        inputEnded = true;
        continue;
      }
      const done = handle(event.line, ++lineNumber);
      if (done === "quit" && !terminal.interactive) quitWithoutAsking();
      if (done === "quit" && !terminal.interactive) {
        inputEnded = true;
        continue;
      }
      if (done === "quit") {
        // A line said pending may still be stored, or not: asked once, as
        // one typed again later would be a second message. A file being
        // sent (or offered, its answer up to a minute away) would hold the
        // goodbye until it is through, with nothing said: asked once too,
        // and the second /quit stops it.
        if (askBeforeLeaving("/quit")) continue;
        break;
      }
      // A script's commands run one after the other: each one's results
      // (a file's "sent successfully" too) come before the next one's, and
      // a rate-limited server slows it down instead of refusing half of it.
      // /transfers and /cancel act on what is running, so they do not wait.
      // A --json script's file goes on meanwhile (filesGoOn): its events
      // carry its `re`, and the chat lines after it go out after its offer
      // anyway (outgoing_files.ts `turn`), as a person's do.
      if (!terminal.interactive && !(filesGoOn && sendsFile(event.line))) {
        let finished = false;
        const settled = untilDoneOrCut(done).then(() => {
          finished = true;
        });
        while (!finished) {
          const next = await Promise.race([
            settled.then(() => null),
            nextLine().then((line) => ({ line })),
          ]);
          // A /quit read meanwhile: this command's file is not offered
          // again (its recipient away), so that the /quit, pending for the
          // loop, comes once what is under way ends, not 5 minutes later.
          if (next !== null && isQuitLine(next.line)) quitWithoutAsking();
          // Any other line stays pending for the loop, after this command.
          if (next === null || !controlsTransfers(next.line)) break;
          pendingLine = null;
          void handle(next.line!, ++lineNumber);
        }
        await settled;
      }
      continue;
    }
    const { ending } = event;
    // A server that dismissed us (a rule was broken, or this name signed
    // in elsewhere) is not pestered again; one that stopped is.
    if (
      !context.reconnect || ending.bye === "violation" ||
      ending.bye === "replaced"
    ) {
      chats.retry(null);
      if (ending.clean) emit({ type: "notice", text: ending.reason });
      else {
        emit({
          type: "error",
          re: null,
          code: "connection",
          text: `ERROR: ${ending.reason}`,
        });
      }
      await endFilesUnsent();
      unarrived.close();
      terminal.close();
      return 1;
    }
    // Nothing a new connection brings could be shown before the reader of
    // our output (--json, a script's) catches up; it would only be held
    // off there too.
    await context.output.readerBehind();
    const from = firstAttempt({
      attempt: connected.attempt,
      lastedMs: performance.now() - connected.welcomedAt,
      brokeProtocol: ending.brokeProtocol === true,
    });
    reconnecting = true;
    const next = await reconnect(self, context, ending, from, {
      queue,
      // A script's input that ended (or said quit) while its files or
      // lines went on: nothing more is read; reconnecting goes on while
      // they are not through (unfinished), as at the end of input.
      nextLine: () => inputEnded ? Promise.resolve(null) : nextLine(),
      consumed: () => (pendingLine = null),
      number: () => ++lineNumber,
      reOf: (line, number) => parse(line)?.id ?? number,
      isQuit: isQuitLine,
      // An interactive /quit asks first, as when connected.
      askToLeave: () => askBeforeLeaving("/quit"),
      showStatus: (line) => status.showConnection(line),
      inputOver: () => (inputEnded = true),
      unfinished: () => {
        const files = [...new Set(outgoing.sendingNames())].map(
          sanitizeForTerminal,
        );
        // Lines cut off before their answer, waiting their turn, or read
        // while reconnecting: each goes once back.
        const lines = chats.unanswered().size + chats.waiting() +
          queue.length;
        const parts = [
          ...files,
          ...(lines > 0 ? [lines === 1 ? "1 line" : `${lines} lines`] : []),
        ];
        return parts.length === 0 ? null : parts.join(", ");
      },
    });
    reconnecting = false;
    if (next === "left") {
      // The lines cut off before their answer are not sent again: the
      // server may have stored them (not "Not sent"). The question before
      // leaving said so of those it named; the others are said now.
      const unnamed = [...chats.unanswered()].filter((line) =>
        !(quitAsked?.lines.has(line) ?? false)
      );
      if (unnamed.length > 0 && !readerIsGone) {
        emit({ type: "notice", text: unansweredAtLeaving(unnamed.length) });
      }
    } else if (next === null) chats.retry(null);
    if (next === null || next === "left") {
      // Not sent; with the reader gone the session ends quietly, these too.
      if (readerIsGone) queue.splice(0);
      for (const { line, re } of queue.splice(0)) {
        emit({
          type: "error",
          re,
          code: "connection",
          text: `ERROR: Not sent: ${sanitizeForTerminal(line)}`,
        });
      }
      await endFilesUnsent();
      // Giving up answered the lines cut off (retry(null)): shown before
      // the output closes, a script learns each one's fate.
      if (next === null && !readerIsGone) {
        await withDeadline(commands.answered(), REPLY_GRACE_MS);
      }
      unarrived.close();
      terminal.close();
      // Leaving while it reconnects is the user's choice, no failure (each
      // line not sent was said).
      return next === "left" ? 0 : 1;
    }
    connected = { attempt: next.attempt, welcomedAt: performance.now() };
    style.ownAfter = next.client.ownAfter;
    link = attach(next.client, next.keysPublished);
    chats.retry(next.client);
    void missed.catchUp(
      historyPaging(next.client),
      emit,
      next.client.name ?? undefined,
    );
    // What was typed meanwhile goes now, in order, once.
    // The server keeps the away state with the connection that set it.
    const away = commands.away();
    if (away !== null) {
      void link.client.request({ t: "away", reason: away });
    }
    relinked.resolve(true);
    relinked = Promise.withResolvers<boolean>();
    let quit = false;
    for (const { line, number } of queue.splice(0)) {
      const done = handle(line, number);
      if (done === "quit") {
        quit = true;
        break;
      }
      if (filesGoOn && sendsFile(line)) continue;
      if (!terminal.interactive) await untilDoneOrCut(done);
    }
    if (quit && !terminal.interactive) inputEnded = true;
    else if (quit) break;
  }

  terminal.onLeaveKey(null);
  // Offers still waiting for an answer are declined on the way out.
  prompts.close();
  answers.close();
  leaving = true;
  // Lines typed that have not gone out stay unsent, as /quit said.
  if (leftAfterQuestion) chats.leave();
  relinked.resolve(false);
  // End of input or /quit: let outstanding replies arrive, then say goodbye.
  // A line entered just before Ctrl-D (still in the paste window when the
  // key asked whether anything was owed, so nothing was) goes in its turn
  // meanwhile: dropped at once, it was said not sent though nobody was
  // asked. What has not gone out by the end of the wait never does, said
  // once ("Not sent: you left before it went out").
  await withDeadline(commands.results(), REPLY_GRACE_MS);
  chats.leave();
  // The keys published at sign-in reach the server before we leave: a
  // script that quits at once would otherwise cut the publish off, and the
  // server would hold none of our one-time keys (first messages to us would
  // run X3DH without one). Only the goodbye waits: the publish still saves
  // new keys before it sends them. A connection already gone is not waited
  // on.
  await withDeadline(
    Promise.race([link.keysPublished, link.client.ended]),
    KEYS_GRACE_MS,
  );
  // What came meanwhile (the messages that waited for us, sent at sign-in)
  // is shown before we leave: a script that only reads them ends its input
  // at once.
  await withDeadline(order.settled, REPLY_GRACE_MS);
  // The server may have ended the session meanwhile: that is not a clean exit.
  const cut = link.client.isOver;
  // Files being sent finish (or fail) before we leave.
  await outgoing.settled();
  await withDeadline(link.receiver.leave(), REPLY_GRACE_MS);
  // With the reader of stdout gone, no line waiting for it is ever written:
  // nothing to wait for (what it held comes again at the next sign-in).
  const ending = await link.client.quit({ showing: !readerIsGone });
  // No answer comes now: a line sent that a question before leaving did not
  // name (on its way when /quit asked nothing) is said, not left as the
  // pending note had it, to be shown as sent and go again by itself.
  const unnamed = [...chats.unanswered()].filter((line) =>
    !(quitAsked?.lines.has(line) ?? false)
  );
  // A --json script gets an `unanswered` error for each of them (below):
  // the count on top was one more event for the same lines, without `re`.
  const answeredEach = !terminal.interactive && !readerIsGone;
  if (unnamed.length > 0 && !readerIsGone && !(context.json && answeredEach)) {
    emit({ type: "notice", text: unansweredAtLeaving(unnamed.length) });
  }
  // A script learns the fate of each line it wrote: one still unanswered
  // is answered now, by its number (`re`), as not known to be delivered
  // (a failure for the exit status). A person read the question or the
  // note above.
  if (answeredEach) {
    chats.retry(null);
    await withDeadline(commands.answered(), REPLY_GRACE_MS);
  }
  // Files still arriving stop (kept for resuming): let their files close.
  await withDeadline(link.receiver.idle(), REPLY_GRACE_MS);
  // Nothing more is said of messages not come.
  unarrived.close();
  terminal.close();
  if (!ending.clean || cut) return 1;
  // A script learns from the exit status that a command failed.
  return context.output.failed && !terminal.interactive ? 1 : 0;
}

/** The files this session is sending or offering: their names, to whom. */
function filesUnderWay(
  sender: FileSender,
  outgoing: { resends: () => PendingResend[] },
): string[] {
  const to = (target: SendTarget) =>
    "to" in target ? target.to : `group ${target.group}`;
  return [
    ...sender.offers().map((o) => `${o.name} to ${to(o.target)}`),
    ...sender.list().map((o) => `${o.name} to ${to(o.target)}`),
    // Its key going out, its offer not made yet: before, in no list, so
    // /quit asked nothing and then waited for it (for ever, when the key's
    // answer never came).
    ...sender.betweenSteps().map((f) => `${f.name} to ${to(f.target)}`),
    ...outgoing.resends().map((r) =>
      `${r.name} to ${r.targets.map(to).join(", ")}`
    ),
  ].map(sanitizeForTerminal);
}

/** Takes back every offer, stops every file being sent and every resend. */
function stopFiles(
  sender: FileSender,
  outgoing: {
    resends: () => PendingResend[];
    cancelResend: (id: number) => boolean;
  },
): void {
  for (const { offer } of sender.offers()) sender.withdraw(offer);
  for (const { xfer } of sender.list()) sender.cancel(xfer);
  for (const { fileNumber } of sender.betweenSteps()) {
    sender.stopFile(fileNumber);
  }
  for (const { id } of outgoing.resends()) outgoing.cancelResend(id);
}

/** This server's ignore list; for the session only if the file cannot be read. */
async function loadIgnoreFile(
  server: string,
  terminal: Terminal,
): Promise<IgnoreFile> {
  try {
    return await IgnoreFile.load(defaultIgnorePath(), server);
  } catch (error) {
    terminal.print(
      `ERROR: ${messageOf(error)}; /ignore lasts for this session`,
    );
    return await IgnoreFile.load(null, server);
  }
}

/** This server's input history, given to the terminal; null without a config folder. */
async function loadHistoryFile(
  server: string,
  terminal: Terminal,
): Promise<HistoryFile | null> {
  let path: string;
  try {
    path = historyPath(defaultConfigDir(), server);
  } catch {
    return null; // no $HOME: nothing to keep it in
  }
  try {
    const history = await HistoryFile.load(path);
    terminal.setHistory(history.lines);
    return history;
  } catch (error) {
    terminal.print(`ERROR: ${messageOf(error)}`);
    return null;
  }
}

/** A folder's entries for path completion; at most a few thousand. */
function listFolder(path: string): PathEntry[] {
  const entries: PathEntry[] = [];
  for (const entry of Deno.readDirSync(path)) {
    entries.push({ name: entry.name, isDirectory: entry.isDirectory });
    if (entries.length >= 5000) break;
  }
  return entries;
}
