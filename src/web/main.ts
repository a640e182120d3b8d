/// <reference lib="dom" />
/**
 * The web client's page: the terminal client's protocol, command parsing and
 * wording, over the browser's WebSocket and WebCrypto. Bundled for the
 * browser by `deno task build:web` (build.ts) and served by `chat serve`.
 * Text from others reaches the page through `textContent` only.
 *
 * @module
 */

import { actionBody } from "../client/actions.ts";
import {
  briefReason,
  ChatClient,
  decodeText,
  HELD,
  type Held,
  type Incoming,
  type Reply,
  wasUnanswered,
} from "../client/chat_client.ts";
import { addressed, perform, queryNote } from "../client/command_requests.ts";
import { didYouMean } from "../client/did_you_mean.ts";
import { HeldRepliesNotice } from "../client/held_replies_notice.ts";
import { likelyNameForUnknown, withLikelyName } from "../client/likely_name.ts";
import { groupQueryNote, notOnlineNote } from "../client/query_notes.ts";
import {
  type Command,
  completeInput,
  helpText,
  invalidGroupName,
  parseInput,
} from "../client/commands.ts";
import {
  type Conversation,
  conversationKey,
  conversationLabel,
  conversationOf,
  Conversations,
  MAX_UNREAD_CONVERSATIONS,
  PUBLIC,
} from "../client/conversations.ts";
import { learnSideLists } from "../client/names_seen.ts";
import { DEFAULT_REMEMBERED_IDS } from "../client/delivery.ts";
import { StoreLedgers } from "../client/store_ledgers.ts";
import { keepToppedUp, publishPrekeys } from "../client/e2e_keys.ts";
import { E2eSessions, type Opened } from "../client/e2e_sessions.ts";
import {
  PlainGroupWarnings,
  PlainLookalikeWarnings,
  plainPrivateRefusal,
  plainRefusedWith,
} from "../client/plain_messages.ts";
import {
  FileKeyInbox,
  OFFER_PLACE_MS,
  receiveFileKey,
  shareFileKey,
} from "../client/file_key_share.ts";
import { keepingFileKeys, tookFileKey } from "../client/early_file_keys.ts";
import { InTurn, laneNameOf, laneOf, type Place } from "../client/in_turn.ts";
import {
  type E2eGroup,
  type GroupOpened,
  GroupSessions,
} from "../client/group_sessions.ts";
import { peerKey } from "../client/e2e_state.ts";
import {
  notSentWithout,
  type OwnKeys,
  OwnKeysPublisher,
  type Sealed,
} from "../client/own_keys.ts";
import {
  AwaitingKeys,
  type KeysMissing,
  type Openable,
  UnopenedHistory,
} from "../client/awaiting_keys.ts";
import {
  CANNOT_IGNORE_SELF,
  ignoredLines,
  ignoringText,
  unignoredText,
} from "../client/ignore_texts.ts";
import { mentions } from "../client/mentions.ts";
import { RetryWait } from "../client/reconnect_backoff.ts";
import { MAX_PASTE_CHARS, PASTE_TOO_LONG } from "../client/bracketed_paste.ts";
import {
  FIRST_CONNECT_TRIES,
  HELD_BACK,
  heldBack,
  PRESS_A_KEY,
  reconnectDelay,
  type ReconnectState,
  statusLine,
  TAP_RETRY,
} from "../client/reconnect_status.ts";
import { hasTextBody, leftOut, type Style } from "../client/render.ts";
import { sortedNames } from "../client/name_order.ts";
import {
  emitOpenedLines,
  emitOrHold,
  emitPlainRefusal,
  emitRefusedGroup,
  type HistoryCount,
  HistoryCounts,
  noteHistoryId,
} from "../client/history_count.ts";
import { type HistoryPaging, pageHistory } from "../client/history_pages.ts";
import { MissedPublic } from "../client/missed_public.ts";
import { withPatience } from "../client/with_patience.ts";
import { isChat, unconfirmedChat } from "../client/unconfirmed_chat.ts";
import { linesOwed } from "../client/lines_owed.ts";
import { ReceivedFiles } from "../client/received_files.ts";
import {
  filesAtQuit,
  queuedAtQuit,
  unansweredAtLeaving,
  unconfirmedAtQuit,
  unsentAtQuit,
} from "../client/leave_questions.ts";
import {
  lateNotice,
  pendingNotice,
  pendingOf,
} from "../client/answer_within.ts";
import { e2eLineEvent, type SessionEvent } from "../client/session_events.ts";
import { textOf } from "../client/text_output.ts";
import { safeMarked } from "./bidi_runs.ts";
import { OwnKeysOnServer } from "../client/own_keys_on_server.ts";
import { unarrivedEvents } from "../client/unarrived_events.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import {
  formatTransfers,
  sentFileNumber,
  TransferNumbers,
} from "../client/transfers_view.ts";
import type { Identity } from "../crypto/identity.ts";
import { isValidName, MAX_NAME_LENGTH, nameKey } from "../protocol/limits.ts";
import type { FileOfferNotice, ServerMessage } from "../protocol/messages.ts";
import {
  type FilesViewContext,
  FilesWaiting,
  receivingView,
  sendFromPage,
} from "./files_view.ts";
import { loadPageE2e, openIgnoredRecord, type PageE2e } from "./e2e_store.ts";
import { loadIdentity } from "./identity_store.ts";
import { forgetUser } from "./forget.ts";
import { IGNORED_KEY, IgnoreStore } from "./ignore_store.ts";
import { LogView } from "./log_view.ts";
import { ALL_VIEW, eventPlaces } from "./row_places.ts";
import { OlderMessages } from "./older_messages.ts";
import { SavableFiles } from "./savable_files.ts";
import { type FileTarget, KEYS_IN_OFFERS, WebFiles } from "./web_files.ts";
import { pageText } from "./page_text.ts";
import { changedServerKeyMessage } from "./server_pin.ts";
import { checkServerKeyInBrowser } from "./server_key_store.ts";
import { NotOpenedError } from "../transport/connection.ts";
import {
  CutInHandshakeError,
  HandshakeTimeoutError,
} from "../transport/secure_channel.ts";
import {
  notAnsweredInTimeText,
  tryingAgainLine,
} from "../client/first_connect_lines.ts";

const NAME_KEY = "chat.name";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`The page lacks #${id}`);
  return found as T;
}

const ui = {
  server: element<HTMLElement>("server"),
  fingerprint: element<HTMLElement>("fingerprint"),
  trustNote: element<HTMLElement>("trust-note"),
  key: element<HTMLDetailsElement>("key"),
  forget: element<HTMLButtonElement>("forget"),
  joinForm: element<HTMLFormElement>("join"),
  name: element<HTMLInputElement>("name"),
  joinButton: element<HTMLButtonElement>("join-button"),
  joinError: element<HTMLElement>("join-error"),
  chat: element<HTMLElement>("chat"),
  log: element<HTMLElement>("log"),
  views: element<HTMLUListElement>("views"),
  people: element<HTMLUListElement>("people"),
  groups: element<HTMLUListElement>("groups"),
  side: element<HTMLElement>("side"),
  groupForm: element<HTMLFormElement>("new-group"),
  groupName: element<HTMLInputElement>("group-name"),
  sendForm: element<HTMLFormElement>("send"),
  target: element<HTMLButtonElement>("target"),
  line: element<HTMLTextAreaElement>("line"),
  attach: element<HTMLButtonElement>("attach"),
  fileInput: element<HTMLInputElement>("file-input"),
  status: element<HTMLElement>("status"),
  statusSaid: element<HTMLElement>("status-said"),
  again: element<HTMLElement>("again"),
  retry: element<HTMLElement>("retry"),
  retryNow: element<HTMLButtonElement>("retry-now"),
  connectAgain: element<HTMLButtonElement>("connect-again"),
  privacy: element<HTMLElement>("privacy"),
};

const host = location.host;
const url = `${location.protocol === "https:" ? "wss" : "ws"}://${host}/`;
ui.server.textContent = host;

let client: ChatClient | null = null;
/** The transfers on `client`'s connection. */
let files: WebFiles | null = null;
/**
 * The next connection's transfers, once signed in on it; null once nothing
 * reconnects (offerAgain): a file whose transfer our dropped connection
 * broke waits for it to be offered again, resuming (files_view.ts).
 */
let relinks = Promise.withResolvers<WebFiles | null>();
/** Hands `next` (null: none comes) to the files waiting for a connection. */
function relink(next: WebFiles | null): void {
  relinks.resolve(next);
  relinks = Promise.withResolvers();
}
/** The connection being made or made, before the user joins. */
let link: Promise<ChatClient | null>;
let self = "";
let identity: Identity | null = null;
/**
 * Private messages end to end (issue 17, as the terminal does them): null
 * when this browser's storage cannot keep the keys (they then go as plain
 * `msg`, and the page says so).
 */
let e2e: E2eSessions | null = null;
/** Group messages end to end (sender keys), with `e2e`. */
let groupSessions: GroupSessions | null = null;
/**
 * Messages their chains skipped that never came (the host may drop them):
 * said in their sender's turn, as the terminal does (unarrived.ts).
 */
const unarrived = unarrivedEvents({ emit, inTurn, ignored: isIgnored });
/** File keys that came end to end, until their offers ask for them. */
const fileKeys = new FileKeyInbox();

/** Whether `name` is known to use end-to-end keys on `server`. */
function usesE2e(server: string, name: string): boolean {
  return pageE2e?.identities.known(server, name) != null;
}
/** What `e2e` keeps in IndexedDB, and whether loading it was tried. */
let pageE2e: PageE2e | null = null;
let e2eStarted = false;
let e2eWarning: string | null = null;
/** Another tab has the end-to-end keys: private messages go from there. */
let e2eBusy = false;
/**
 * This page's keys published on each connection (own_keys.ts): nothing
 * goes end to end before they are, and nothing goes in the clear instead.
 */
const ownKeys = new OwnKeysPublisher<ChatClient>(async (joined) => {
  const kept = pageE2e;
  if (kept === null) throw new Error("This browser has no end-to-end keys");
  await publishTold(joined, kept);
});
/**
 * Whether the server took this page's keys, for counting the user's own
 * name among those that use them (own_keys_on_server.ts); new with the keys.
 */
let ownKeysOnServer = new OwnKeysOnServer();

/** Publishes `kept`'s keys on `joined`, telling `ownKeysOnServer` how it went. */
async function publishTold(joined: ChatClient, kept: PageE2e): Promise<void> {
  const told = ownKeysOnServer;
  try {
    // Told as each bundle is taken: the first (empty) one taken and the
    // top-up after it refused, the server holds the keys all the same.
    await publishPrekeys(
      joined,
      kept.keyring,
      kept.saveKeyring,
      undefined,
      () => told.held(),
    );
  } catch (error) {
    if (!joined.isOver) told.refused();
    throw error;
  }
}

/** How this page's own end-to-end keys stand for sending on `current`. */
function keysFor(current: ChatClient): Promise<OwnKeys> {
  if (e2eBusy) return Promise.resolve({ kind: "elsewhere" });
  if (e2e === null || groupSessions === null) {
    return Promise.resolve({ kind: "unopened" });
  }
  return ownKeys.ready(current);
}

/**
 * This page's sessions, once its keys are published on `current`; else the
 * error that says why `sealed` is not sent (never in the clear instead).
 */
async function sealing(
  current: ChatClient,
  sealed: Sealed,
): Promise<
  | { sessions: E2eSessions; groups: GroupSessions }
  | { refused: Extract<Reply, { t: "error" }> }
> {
  const refusal = notSentWithout(await keysFor(current), sealed);
  const [sessions, groups] = [e2e, groupSessions];
  if (refusal !== null || sessions === null || groups === null) {
    return {
      refused: {
        t: "error",
        re: null,
        code: "no_keys",
        text: refusal ?? notSentWithout({ kind: "unopened" }, sealed)!,
      },
    };
  }
  return { sessions, groups };
}
/**
 * What this user was shown, per store (store_ledgers.ts), as the terminal
 * keeps it: a server restarted with another store (`--data :memory:`, a
 * new data folder) numbers its messages from 1 again, and one ledger for
 * all dropped a new private message whose id one shown before had, as a
 * duplicate (and acknowledged it: lost for good).
 */
const ledger = new StoreLedgers();
/** A warning after the first plain group message of each member with keys. */
const plainGroupWarnings = new PlainGroupWarnings();
/** Said before a plain message from a look-alike of a name known by a key. */
const plainLookalikes = new PlainLookalikeWarnings();
/**
 * Before a group line (`message`), plain or end to end, the warning that
 * its group's name reads like another group this browser knows end to end
 * (lookalike_groups.ts), the first on this page for that name; as in the
 * terminal (session_e2e.ts warnLookalikeGroup).
 */
function warnLookalikeGroup(
  message: ServerMessage,
  count?: HistoryCount,
): void {
  const [groups, current] = [groupSessions, client];
  if (message.t !== "group" || groups === null || current === null) return;
  const warning = groups.lookalikeWarning(
    current.serverFingerprint,
    message.group,
  );
  if (warning === null) return;
  emitOrHold(
    emit,
    { type: "error", re: null, code: "e2e", text: warning },
    count,
  );
}
const conversations = new Conversations();
/**
 * The log shows every conversation (All, the terminal's one log), not the
 * one written to alone.
 */
let viewAll = false;

/** The key of the view the log shows (row_places.ts). */
function viewKey(): string {
  return viewAll ? ALL_VIEW : conversationKey(conversations.current);
}
/** Who is online (by name key), and the groups this page has heard of. */
const people = new Map<string, string>();
/** Why someone online is away (by name key), as the last /list said. */
const away = new Map<string, string>();
/**
 * How many online users the last /list left out (its `more`: over 2000, or
 * over what fits in one reply): said under the people list, which would
 * otherwise pass for everyone online.
 */
let peopleMore = 0;
const groups = new Map<string, { name: string; joined: boolean }>();
/** Typed lines, newest last, for the arrow keys. */
const typed: string[] = [];
let typedAt = 0;

// --- Output -------------------------------------------------------------------

const log = new LogView(ui.log);
// Signed in, the page shows the public room, as web chats open a channel
// (All is a click away).
log.show(viewKey());

/**
 * Shows `event` in the log, in its conversation's view (row_places.ts);
 * `typedIn`: the view the command it answers was typed in, null for what
 * came unasked.
 */
function emit(event: SessionEvent, typedIn: string | null = null): void {
  // A message's lines show as the lines of its row (each made safe; the
  // row's hanging indent sets all but its first line in, so no line of a
  // message reads as a line of the log); anything else stays one line.
  const lineBreaks = isMessage(event);
  const style: Style = {
    color: false,
    clock: true,
    clockSent: true,
    self,
    // The name's lines from before a release are another key's (render.ts).
    ownAfter: client?.ownAfter ?? 0,
    lineBreaks,
    // Each part a user wrote a run of its own in the row (bidi_runs.ts): a
    // message's, and a file's name in its file's lines.
    isolate: lineBreaks || isolates(event),
    ...(e2e === null ? {} : {
      verification: (name: string, fingerprint: string | undefined) =>
        e2e?.verification(serverKey(), name, fingerprint) ?? null,
    }),
  };
  const { lines, error } = textOf(event, style);
  // Every row as the terminal prints it: a raw newline or bidi control
  // from the network would forge lines in this pre-wrap log. A message's
  // keeps render.ts's marks around the parts a user wrote (bidi_runs.ts).
  log.lines(
    lines.map((line) =>
      lineBreaks
        ? safeMarked(line)
        : style.isolate === true
        ? safeMarked(line, false)
        : sanitizeForTerminal(line)
    ),
    error ? "error" : kindOf(event),
    messageId(event),
    eventPlaces(event, self, typedIn),
    // What answers the user (their own message, a command's reply) is
    // theirs: it does not count as new below (log_view.ts).
    typedIn !== null,
  );
}

/**
 * Whether `event` is a file's line whose parts a user wrote (the file's
 * name, whom it goes to) are marked as runs of their own: "Offering ...",
 * "jojo declined ...", "File ... sent to ...", and the page's own file
 * notices and errors (files_view.ts).
 */
function isolates(event: SessionEvent): boolean {
  return event.type === "file_offering" || event.type === "file_declined" ||
    event.type === "file_sent" ||
    ((event.type === "notice" || event.type === "error") &&
      event.marked === true);
}

/** Whether `event` shows a message's text: one that came, or one sent. */
function isMessage(event: SessionEvent): boolean {
  if (event.type === "incoming") return hasTextBody(event.message);
  return event.type === "reply" && event.reply.t === "ok" &&
    (event.command.kind === "say" || event.command.kind === "msg" ||
      event.command.kind === "gsay");
}

/**
 * The id of the message `event` shows, if it shows one with an id: one that
 * came, or one this user sent (the server's `ok` says where it stored it).
 */
function messageId(event: SessionEvent): number | undefined {
  if (event.type === "reply") {
    return event.reply.t === "ok" ? event.reply.id : undefined;
  }
  if (event.type !== "incoming" || !("id" in event.message)) return undefined;
  return event.message.id;
}

function kindOf(event: SessionEvent): string {
  if (event.type === "reply") {
    // What this user sent, coloured as what others send there.
    const sent = event.command.kind === "msg"
      ? " private"
      : event.command.kind === "gsay"
      ? " group"
      : "";
    return `reply${sent}`;
  }
  if (event.type !== "incoming") return event.type;
  const { message, text } = event;
  const past = "history" in message && message.history === true;
  const base = message.t === "public" || message.t === "private" ||
      message.t === "group"
    ? message.t
    : "notice";
  const mention = base !== "notice" && self !== "" && mentions(text, self)
    ? " mention"
    : "";
  return `${base}${past ? " history" : ""}${mention}`;
}

/**
 * The status bar: it quotes the server (why it ended the connection, why a
 * reconnection was refused), so it is made safe as the log's rows are.
 */
function setStatus(text: string): void {
  const shown = pageText(text);
  ui.status.textContent = shown;
  // Read out when it says something new: a live region read the whole line
  // again at each second of a countdown, as long as the server was down.
  const countdown = /(?:Reconnecting|Connecting|Trying again) in \d+ s\b/;
  const said = ui.statusSaid.textContent ?? "";
  if (
    shown.replace(countdown, "") !== said.replace(countdown, "") ||
    countdown.test(shown) !== countdown.test(said)
  ) ui.statusSaid.textContent = shown;
}

/** The sign-in form's error, which quotes the server too (its refusal). */
function setJoinError(text: string): void {
  ui.joinError.textContent = pageText(text);
}

// --- Side lists ------------------------------------------------------------

function learn(message: ServerMessage): void {
  if (!learnSideLists(message, { people, away, groups, keys }, self)) return;
  if (message.t === "users") peopleMore = message.more ?? 0;
  drawLists();
}

function drawLists(): void {
  // The lists are drawn anew: a button that had the focus (a keyboard
  // user's, or a Join just pressed) gets it back in its new place, or the
  // focus would fall to the page's top at each message and join.
  const focused = document.activeElement;
  const refocus = focused instanceof HTMLElement &&
      ui.side.contains(focused)
    ? focused.dataset.key
    : undefined;
  const sorted = sortedNames;
  ui.views.replaceChildren(
    listButton("Everyone", PUBLIC, false),
    allButton(),
  );
  ui.people.replaceChildren(
    ...sorted(people.values()).map((name) => {
      const item = listButton(
        name === self ? `${name} (you)` : name,
        { kind: "user", name },
        name === self,
      );
      const trust = trustOf(name);
      if (trust !== null) {
        const mark = document.createElement("span");
        mark.className = `trust ${trust.kind}`;
        mark.textContent = trust.text;
        mark.title = trust.title;
        item.append(mark);
        alsoSay(item, trust.text);
      }
      const reason = away.get(nameKey(name));
      if (reason !== undefined) {
        // Their own words: text, never markup.
        const note = document.createElement("span");
        note.className = "away";
        note.textContent = `away: ${sanitizeForTerminal(reason)}`;
        item.classList.add("away");
        item.append(note);
        alsoSay(item, note.textContent);
      }
      return item;
    }),
  );
  if (peopleMore > 0 && people.size > 0) {
    // As the terminal's /list says it (render.ts).
    const more = document.createElement("li");
    more.className = "more";
    more.textContent = leftOut(peopleMore, "user");
    ui.people.append(more);
  }
  ui.groups.replaceChildren(
    ...sorted([...groups.values()].map((g) => g.name)).map((name) => {
      const group = groups.get(nameKey(name))!;
      const item = listButton(`#${name}`, { kind: "group", name }, false);
      const action = group.joined ? "leave" : "join";
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "small";
      toggle.textContent = group.joined ? "Leave" : "Join";
      toggle.title = `${toggle.textContent} group ${name}`;
      toggle.dataset.key = `toggle ${nameKey(name)}`;
      toggle.addEventListener("click", () => run(`/${action} ${name}`));
      item.append(toggle);
      return item;
    }),
  );
  if (refocus !== undefined) {
    [...ui.side.querySelectorAll<HTMLElement>("[data-key]")]
      .find((button) => button.dataset.key === refocus)?.focus();
  }
}

/**
 * What the people list says of `name`'s identity key: verified (/verify),
 * changed and waiting for /trust, or nothing.
 */
function trustOf(
  name: string,
): { kind: string; text: string; title: string } | null {
  if (e2e === null || pageE2e === null || name === self) return null;
  const server = serverKey();
  if (pageE2e.state.changes.has(peerKey(server, nameKey(name)))) {
    return {
      kind: "changed",
      text: "key changed",
      title:
        `${name}'s identity key has changed: check with them, then /trust ${name}`,
    };
  }
  const state = e2e.verification(server, name, keys.get(nameKey(name)));
  if (state === "verified") {
    return {
      kind: "verified",
      text: "verified",
      title: `You compared safety numbers with ${name} (/verify)`,
    };
  }
  if (state === "changed") {
    return {
      kind: "changed",
      text: "not the key verified",
      title: `${name}'s key is not the one you verified: /verify ${name} again`,
    };
  }
  return null;
}

function listButton(
  label: string,
  conversation: Conversation,
  disabled: boolean,
): HTMLLIElement {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.disabled = disabled;
  const key = conversationKey(conversation);
  button.dataset.key = `view ${key}`;
  if (key === viewKey()) button.setAttribute("aria-current", "true");
  const unread = conversations.unread().find((e) =>
    conversationKey(e.conversation) === key
  );
  if (unread !== undefined) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = String(unread.count);
    badge.title = `${unread.count} unread`;
    button.append(" ", badge);
  }
  // What a screen reader says of it: the badge's number alone read "jojo
  // 1" (a title inside a button is not read).
  button.setAttribute(
    "aria-label",
    unread === undefined ? label : `${label}, ${unread.count} unread`,
  );
  button.title = conversation.kind === "public"
    ? "Show the public room and write to everyone"
    : conversation.kind === "user"
    ? `Show your conversation with ${conversation.name} and write to them privately`
    : `Show group ${label} and write to it`;
  button.addEventListener("click", () => {
    setConversation(conversation);
    ui.line.focus();
  });
  item.append(button);
  return item;
}

/**
 * Adds `words` to what a screen reader says of the button of `item` (see
 * listButton): what shows beside it (away, a changed key) is outside it, so
 * that moving through the buttons with Tab alone never said it.
 */
function alsoSay(item: HTMLLIElement, words: string): void {
  const button = item.querySelector("button")!;
  button.setAttribute(
    "aria-label",
    `${button.getAttribute("aria-label") ?? button.textContent}, ${words}`,
  );
}

/**
 * The button that shows every conversation in one log, in the order rows
 * came (plain lines still go where they went).
 */
function allButton(): HTMLLIElement {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.id = "view-all";
  button.dataset.key = "view all";
  button.textContent = "All";
  button.title =
    "Show every conversation in one log, as the terminal does (plain lines still go to the one you write to)";
  if (viewAll) button.setAttribute("aria-current", "true");
  button.addEventListener("click", () => {
    viewAll = true;
    older.again(null);
    showView();
    ui.line.focus();
  });
  item.append(button);
  return item;
}

/**
 * Writes to `conversation` and shows it: its messages alone, its unread
 * count cleared, its older messages loaded as the reader scrolls up.
 */
function setConversation(conversation: Conversation): void {
  viewAll = false;
  conversations.setCurrent(conversation);
  older.again(conversation);
  showView();
}

/** Shows the view chosen (`viewAll`, or the conversation written to). */
function showView(): void {
  log.show(viewKey());
  // Another view's line is cut again (style.css); only a view's change cuts
  // it, not each message that redraws the lists.
  ui.privacy.classList.remove("whole");
  drawTarget();
  older.draw();
  older.loadIfNear();
}

function drawTarget(): void {
  const current = conversations.current;
  ui.target.textContent = current.kind === "public"
    ? "everyone"
    : conversationLabel(current);
  ui.target.title = current.kind === "public"
    ? "Plain lines go to everyone"
    : "Plain lines go here; click to write to everyone again";
  // It shows where plain lines go (the name, in the log's face, so that a
  // lookalike shows), but a click goes back to everyone: a screen reader
  // hears what it does ("jojo, button" it heard).
  ui.target.setAttribute(
    "aria-label",
    current.kind === "public"
      ? "Writing to everyone"
      : `Back to everyone (writing to ${conversationLabel(current)} now)`,
  );
  ui.line.placeholder = current.kind === "public"
    ? "Message everyone, or /help"
    : `Message ${conversationLabel(current)}, or /help`;
  drawPrivacy(current);
  drawLists();
  drawTitle();
}

/**
 * Messages to this user (private ones, and any that mention them) not seen
 * yet, by conversation key: the tab's title counts them. A message is seen
 * when it comes in the view shown while the tab is in front (All shows every
 * conversation); else it waits until that view is shown in front. The
 * room's chatter and a group's do not count: a busy room read "(40) chat".
 * Bounded as the conversations' counts are.
 */
const unreadToMe = new Map<string, number>();
/**
 * The ids of the messages to this user the title counted or that were seen
 * as they came, newest last: one that comes again (a public line, whose id
 * the delivery ledger does not keep, in a reconnection's catch-up or a
 * hostile server's replay; a private one after the ledger changed stores)
 * is not counted again. Ids are those of a store: each is kept with the
 * store it came from, as the ledger keeps them (a server restarted with
 * another store numbers from 1 again). Bounded as the ledger's ids are,
 * oldest dropped.
 */
const countedToMe = new Set<string>();

/** Whether rows of the conversation `key` are in front of the user now. */
function seenNow(key: string): boolean {
  return !document.hidden && (viewAll || key === viewKey());
}

/** Counts `message` in the title if it is to this user and not seen. */
function noteToMe(message: ServerMessage, text: string): void {
  const conversation = conversationOf(message, self);
  if (conversation === null) return;
  if (
    !(message.t === "private" || message.t === "public" ||
      message.t === "group") || nameKey(message.from) === nameKey(self)
  ) return;
  // A history answer (it names a request: `req`) is never new, whether
  // the page asked for it or not (a `req` it does not wait for, from a
  // hostile server or one passed over: chat_client.ts `answers`).
  if (message.history === true && message.req !== undefined) return;
  const toMe = message.t === "private" || mentions(text, self);
  if (!toMe) return;
  if (message.id !== undefined) {
    const counted = `${ledger.store ?? ""} ${message.id}`;
    if (countedToMe.has(counted)) return;
    countedToMe.add(counted);
    if (countedToMe.size > DEFAULT_REMEMBERED_IDS) {
      countedToMe.delete(countedToMe.values().next().value!);
    }
  }
  const key = conversationKey(conversation);
  if (seenNow(key)) return;
  const count = unreadToMe.get(key);
  if (count === undefined && unreadToMe.size >= MAX_UNREAD_CONVERSATIONS) {
    return;
  }
  unreadToMe.set(key, (count ?? 0) + 1);
  drawTitle();
}

/** The tab's title: `(3) chat` with 3 messages to this user unseen. */
function drawTitle(): void {
  // What the view shown, in front, shows is seen.
  if (!document.hidden) {
    if (viewAll) unreadToMe.clear();
    else unreadToMe.delete(viewKey());
  }
  const unread = [...unreadToMe.values()].reduce((n, count) => n + count, 0);
  document.title = unread === 0 ? "chat" : `(${unread}) chat`;
}

document.addEventListener("visibilitychange", drawTitle);

// Cut to one line on a small screen (style.css): a tap shows it whole, and
// the next view's cut again (showView).
ui.privacy.addEventListener("click", () => {
  ui.privacy.classList.toggle("whole");
});

/**
 * Where the line is cut (style.css's query), Tab stops on it and it shows
 * whole while it has the keyboard's focus (:focus-visible: a tap's focus
 * leaves a second tap to cut it again): a laptop at 200 % zoom (640 by
 * 360) cut it too, and its keyboard had no way to what it says. Elsewhere
 * it is whole, and no stop between the log and the input.
 */
const privacyCut = matchMedia("(max-width: 40rem), (max-height: 34rem)");
function privacyReachable(): void {
  if (privacyCut.matches) ui.privacy.tabIndex = 0;
  else ui.privacy.removeAttribute("tabindex");
}
privacyReachable();
privacyCut.addEventListener("change", privacyReachable);

/** Says whether what is written here is end to end (as /help does). */
function drawPrivacy(current: Conversation): void {
  switch (current.kind) {
    case "public":
      ui.privacy.classList.remove("e2e");
      ui.privacy.textContent =
        "To everyone: not end to end, the server's host can read it.";
      return;
    case "group":
      if (e2eBusy) {
        ui.privacy.classList.remove("e2e");
        ui.privacy.textContent =
          `To group ${current.name}: group messages go from your other tab of this browser, which has your end-to-end keys.`;
        return;
      }
      if (groupSessions === null) {
        ui.privacy.classList.remove("e2e");
        ui.privacy.textContent =
          `To group ${current.name}: nothing is sent from here: this browser could not open your end-to-end keys, and group messages never go in the clear.`;
        return;
      }
      ui.privacy.classList.add("e2e");
      ui.privacy.textContent =
        `To group ${current.name}: end to end among members with keys (the page warns about any without); the server's host decides who is a member, and everyone sees each join.`;
      return;
    case "user":
      if (e2eBusy) {
        ui.privacy.classList.remove("e2e");
        ui.privacy.textContent =
          `To ${current.name}: private messages go from your other tab of this browser, which has your end-to-end keys.`;
        return;
      }
      if (e2e === null) {
        ui.privacy.classList.remove("e2e");
        ui.privacy.textContent =
          `To ${current.name}: nothing is sent from here: this browser could not open your end-to-end keys, and private messages never go in the clear.`;
        return;
      }
      ui.privacy.classList.add("e2e");
      ui.privacy.textContent =
        `To ${current.name}: end to end, only you and ${current.name} can read it (the page warns if ${current.name} has no keys). /verify ${current.name} compares safety numbers.`;
      return;
    default: {
      const unreachable: never = current;
      return unreachable;
    }
  }
}

// --- Transfers ------------------------------------------------------------

/** The numbers /transfers shows and /cancel takes. */
const numbers = new TransferNumbers();

function cancelTransfer(n: number): string {
  const entry = numbers.get(n);
  if (entry === undefined) {
    return `ERROR: No transfer ${n}; /transfers lists them`;
  }
  // A file sent is stopped at the step it is at now (it may have been
  // offered, or started, since it was listed under n), as the terminal's.
  const file = sentFileNumber(entry);
  if (file !== undefined) {
    switch (
      filesView.waiting.cancel(file)
        ? "transfer"
        : (files?.stopFile(file) ?? null)
    ) {
      case "offer":
        return `Took back the offer of ${entry.name}.`;
      case "transfer":
        return `Cancelled sending ${entry.name}.`;
      case null:
        return `ERROR: Transfer ${n} (${entry.name}) has already ended`;
    }
  }
  if (files?.cancel(entry) === true) {
    if (entry.kind === "offered") {
      return `Took back the offer of ${entry.name}.`;
    }
    return entry.kind === "sending"
      ? `Cancelled sending ${entry.name}.`
      : `Cancelled receiving ${entry.name}.`;
  }
  return `ERROR: Transfer ${n} (${entry.name}) has already ended`;
}

// --- Ignoring -------------------------------------------------------------

/** Identity keys by name key, as /list says them: /ignore is by key. */
const keys = new Map<string, string>();
/** In memory until the first join loads the one kept (e2e_store.ts). */
let ignored = IgnoreStore.inMemory();
let ignoredLoaded = false;

/** The server connected to, as its key: /ignore is per server. */
function serverKey(): string {
  return client?.serverFingerprint ?? "";
}

function isIgnored(name: string, fingerprint?: string): boolean {
  return ignored.list(serverKey()).isIgnored(
    name,
    fingerprint ?? keys.get(nameKey(name)) ?? null,
  );
}

async function ignoreUser(name: string): Promise<string> {
  if (nameKey(name) === nameKey(self)) return CANNOT_IGNORE_SELF;
  const current = client;
  if (current === null) return "ERROR: Not connected";
  // Who is online now: their key may have changed since the last /list.
  const reply = await current.request({ t: "list" });
  learn(reply);
  const online = reply.t === "users"
    ? reply.users.find((u) => nameKey(u.name) === nameKey(name))?.name
    : undefined;
  const shown = online ?? name;
  const key = online === undefined ? null : keys.get(nameKey(online)) ?? null;
  await ignored.add(serverKey(), { fingerprint: key, name: shown });
  return ignoringText(shown, key, "remembered in this browser");
}

/**
 * `conversation` named as the server spells it (`/query TERMY` writes to
 * termy), as the terminal's prompt and note name it, when the lists beside
 * the log know it; as typed otherwise.
 */
function knownSpelling(conversation: Conversation): Conversation {
  if (conversation.kind === "public") return conversation;
  const key = nameKey(conversation.name);
  const known = conversation.kind === "user"
    ? people.get(key)
    : groups.get(key)?.name;
  return known === undefined ? conversation : { ...conversation, name: known };
}

/**
 * What the terminal says after `/query` of someone not online, or of a
 * group that does not exist or one is not in (query_notes.ts): at once,
 * not at each line sent there. null: nothing to say, or no connection to
 * ask.
 */
async function queryAbsence(
  conversation: Conversation,
): Promise<string | null> {
  const current = client;
  if (current === null || current.isOver || self === "") return null;
  if (conversation.kind === "group") {
    const reply = await current.request({
      t: "members",
      group: conversation.name,
    });
    return groupQueryNote(conversation.name, self, reply);
  }
  if (
    conversation.kind !== "user" ||
    nameKey(conversation.name) === nameKey(self)
  ) return null;
  const reply = await current.request({ t: "list" });
  learn(reply);
  // A list cut short may hold them further on.
  if (reply.t !== "users" || reply.more !== undefined) return null;
  const others = reply.users.map((u) => u.name).filter((name) =>
    nameKey(name) !== nameKey(self)
  );
  if (others.some((name) => nameKey(name) === nameKey(conversation.name))) {
    return null;
  }
  return notOnlineNote(
    conversation.name,
    didYouMean(conversation.name, others),
  );
}

async function unignoreUser(name: string): Promise<string> {
  const key = keys.get(nameKey(name)) ?? null;
  const removed = await ignored.remove(serverKey(), name, key);
  return unignoredText(name, removed);
}

// --- Input --------------------------------------------------------------------

/**
 * What /help says of the commands that work otherwise on the page than in
 * the terminal: files go by the File… button (a page cannot read a path),
 * and it keeps no partial downloads to resume.
 */
const WEB_SUMMARIES: Readonly<Record<string, string>> = {
  "/file":
    "Send a file to a user; in the browser: the File… button, or drop it on the page, while you write to them",
  "/groupfile":
    "Send a file to a group; in the browser: the File… button, or drop it on the page, while you write to it",
  "/transfers": "List file transfers running (a page keeps no partial ones)",
};

/**
 * What the last question before leaving named (the files under way then,
 * the lines pending and waiting, each itself): a file sent, or a line gone
 * pending or typed since, is asked about again. By counts alone, a line
 * gone out and another typed meanwhile left the count as asked, and the
 * second /quit dropped the new line unsent without a word (as the
 * terminal's, lines_owed.ts).
 */
let quitAsked:
  | {
    files: Set<string>;
    lines: ReadonlySet<number>;
    queued: ReadonlySet<QueuedLine>;
  }
  | null = null;

/**
 * What leaving now would cut off: lines gone out with no answer yet (those
 * not yet said pending too: one on its way when the page left was cut off
 * and said "Not sent", when the server may have stored it and the others
 * heard it), lines typed waiting their turn, files being sent, and files
 * being received, and lines typed while disconnected (`queued`: leaving
 * dropped them, said "Not sent" only after, or not at all when the tab
 * closed). /quit asks about all but files received (askBeforeLeaving);
 * closing or reloading the tab about all (`beforeunload`, below).
 */
function onItsWay(): {
  sent: ReadonlySet<number>;
  unsent: number;
  queued: readonly QueuedLine[];
  sending: string[];
  receiving: number;
} {
  return {
    sent: chats.unanswered(),
    unsent: chats.waiting(),
    queued: [...queued],
    sending: [
      ...(files?.underWay() ?? []),
      ...filesView.waiting.underWay(),
    ],
    receiving:
      files?.list().filter((entry) => entry.kind === "receiving").length ?? 0,
  };
}

/**
 * Whether /quit is held for a question (leave_questions.ts): asked once
 * while lines sent have no answer yet, lines typed wait their turn, or
 * files are being sent; the second time, the files are stopped and the page
 * leaves.
 */
function askBeforeLeaving(tell: (text: string) => void): boolean {
  const { sent, unsent, queued: away, sending } = onItsWay();
  const unconfirmed = sent.size;
  if (
    unconfirmed === 0 && unsent === 0 && away.length === 0 &&
    sending.length === 0
  ) return false;
  const lines = new Set([...chats.owed(), ...sent]);
  if (
    quitAsked !== null &&
    [...lines].every((line) => quitAsked!.lines.has(line)) &&
    away.every((line) => quitAsked!.queued.has(line)) &&
    sending.every((file) => quitAsked!.files.has(file))
  ) {
    files?.stopSending();
    filesView.waiting.cancelAll();
    return false;
  }
  quitAsked = { files: new Set(sending), lines, queued: new Set(away) };
  if (unconfirmed > 0) tell(unconfirmedAtQuit(unconfirmed));
  if (unsent > 0) tell(unsentAtQuit(unsent));
  if (away.length > 0) tell(queuedAtQuit(away.length));
  if (sending.length > 0) tell(filesAtQuit(sending));
  return true;
}

/**
 * A private line sealed on `current` once this page's keys are published
 * there; else refused, saying why (never in the clear instead).
 */
async function sealedText(
  current: ChatClient,
  to: string,
  text: string,
  cid: string,
): Promise<Reply> {
  const ready = await sealing(current, { kind: "msg", to });
  if ("refused" in ready) return await cutOff(current, ready.refused);
  return await ready.sessions.sendText(current, to, text, cid);
}

/** A group line sealed on `current`, as `sealedText`. */
async function sealedGroup(
  current: ChatClient,
  group: string,
  text: string,
  cid: string,
): Promise<Reply> {
  const ready = await sealing(current, { kind: "gsay", group });
  if ("refused" in ready) return await cutOff(current, ready.refused);
  return await ready.groups.send(current, group, text, cid);
}

/**
 * `refused`, unless `current` ended meanwhile (its keys' publishing cut
 * off with it): then the answer of a request on an ended connection, which
 * says it was not sent and sends the line again on the next
 * (`wasUnanswered`), as a line cut off in flight.
 */
async function cutOff(current: ChatClient, refused: Reply): Promise<Reply> {
  return current.isOver ? await current.request({ t: "ping" }) : refused;
}

/**
 * Whether `reply` is that of a line sent whose connection the user's /quit
 * ended before its answer came (nothing sends it again then).
 */
function leftUnanswered(reply: Reply): boolean {
  return quitting && wasUnanswered(reply);
}

/**
 * Chat lines in the order typed, sent again on the next connection when
 * theirs ended before the answer (unconfirmed_chat.ts), as the terminal's;
 * followed line by line for what a question before leaving named
 * (lines_owed.ts).
 */
const chats = linesOwed(unconfirmedChat({
  e2e: { sendText: sealedText },
  groupSessions: { send: sealedGroup },
  // Not once left (/quit), dismissed or refused: nothing reconnects then,
  // and a line cut off is said not sent.
  reconnect: () => !quitting && !dismissed && !keyChanged,
  client: () => client!,
}));

/**
 * Acts on a typed line, as the terminal session does; `to`: the conversation a plain line goes to, the
 * one open when it was typed (a line queued while away is run once back,
 * when another may be open).
 */
function run(line: string, to: Conversation = conversations.current): void {
  const typedCommand = parseInput(line);
  if (typedCommand === null) return;
  // What the command says shows in the view it was typed in.
  const here = viewKey();
  const command: Command = typedCommand.kind === "say"
    ? addressed(typedCommand.text, to)
    : typedCommand.kind === "me"
    ? addressed(actionBody(typedCommand.text), to)
    : typedCommand;
  const tell = (text: string, where = here) =>
    emit(
      text.startsWith("ERROR: ")
        ? { type: "error", re: null, code: command.kind, text }
        : { type: "notice", text },
      where,
    );
  switch (command.kind) {
    case "quit":
      // Lines still owed an answer or waiting their turn, and files being
      // sent, are asked about once, as in the terminal: the second /quit
      // stops the files and leaves.
      if (askBeforeLeaving(tell)) return;
      // Lines typed that have not gone out stay unsent, as /quit said.
      chats.leave();
      quitting = true;
      retryNow();
      void client?.quit();
      return;
    case "query": {
      const conversation = knownSpelling(command.conversation);
      setConversation(conversation);
      // Said in the conversation it opens.
      const opened = viewKey();
      tell(queryNote(conversation), opened);
      void queryAbsence(conversation).then(
        (note) => {
          if (note !== null) tell(note, opened);
        },
        // The connection ended first: nothing to say of it.
        () => {},
      );
      return;
    }
    case "help":
      emit({
        type: "help",
        re: 0,
        // The page wraps its own lines: no terminal's 80 columns here.
        lines: helpText(command.topic, WEB_SUMMARIES, Infinity),
      }, here);
      return;
    case "invalid":
      emit(
        { type: "error", re: 0, code: "usage", text: command.message },
        here,
      );
      return;
    case "file":
    case "groupfile": {
      // A page cannot read a path: the file comes from a picker or a drop.
      const browserOnly =
        "ERROR: In the browser, send a file with the File… button or by dropping it on the page; it goes to the person or group you write to";
      // A name typed a slip away from one known gets the terminal's "Did
      // you mean jojo?" (likely_name.ts): its user would otherwise click
      // the wrong name in the lists, or none. The groups are asked anew
      // first, as the terminal does: nobody is told of a group made
      // by others.
      const typed = command.kind === "file"
        ? { to: command.to }
        : { group: command.group };
      const hint = () => {
        // Not with a people list cut short: one left out may be the one.
        const likely = "to" in typed && peopleMore > 0
          ? null
          : likelyNameForUnknown(typed, {
            users: people.values(),
            groups: [...groups.values()].map((group) => group.name),
          }, self);
        tell(
          likely === null
            ? browserOnly
            : `${browserOnly}. Did you mean ${likely}?`,
        );
      };
      if (command.kind === "groupfile" && client !== null && !client.isOver) {
        void client.request({ t: "groups" }).then(learn, () => {}).then(hint);
      } else hint();
      return;
    }
    case "transfers":
      for (
        const text of formatTransfers(
          numbers.number([
            ...(files?.list() ?? []),
            ...filesView.waiting.list(),
          ], files?.filesUnderWay() ?? []),
        )
      ) {
        tell(text);
      }
      return;
    case "cancel":
      tell(cancelTransfer(command.number));
      return;
    case "ignore":
      if (command.name === undefined) {
        for (const text of ignoredLines(ignored.list(serverKey()).entries())) {
          tell(text);
        }
      } else {
        void ignoreUser(command.name).then(
          (text) => tell(text),
          (error) => tell(`ERROR: ${messageOf(error)}`),
        );
      }
      return;
    case "unignore":
      void unignoreUser(command.name).then(
        (text) => tell(text),
        (error) => tell(`ERROR: ${messageOf(error)}`),
      );
      return;
    default:
      break;
  }
  const current = client;
  if (current === null || current.isOver) {
    if (keyChanged) {
      tell("ERROR: Not connected");
      return;
    }
    if (quitting || dismissed) {
      // Nothing reconnects: a line "queued" here would never be sent.
      tell(NOT_CONNECTED);
      return;
    }
    // Sent once reconnected, as the terminal client does, to the
    // conversation it was typed in (a plain line in a person's view went to
    // everyone if Everyone's was open by then).
    queued.push({ line, to });
    emit({ type: "queued", re: 0, line }, here);
    // The status line counts it at once, not at its next second's tick.
    showReconnecting();
    retries.nudge();
    return;
  }
  if (command.kind === "verify") {
    if (e2e === null) tell(NO_E2E);
    else {
      void e2e.verify(current, command.name, command.number ?? null).then(
        (lines) => {
          lines.forEach((text) => tell(text));
          // Verified now, perhaps: the people list says so.
          drawLists();
        },
      );
    }
    return;
  }
  if (command.kind === "trust") {
    if (e2e === null) tell(NO_E2E);
    else void trust(e2e, current, command.name, (text) => tell(text));
    return;
  }
  if (command.kind === "history") {
    // Typed in a person's or a group's view, /history alone is that
    // conversation's (/history NAME), as it reads there; the room's is in
    // Everyone's view (or /history there).
    const view = conversations.current;
    void pagedHistory(
      current,
      command.target === undefined && !viewAll && view.kind !== "public"
        ? { ...command, target: view.name }
        : command,
      here,
    );
    return;
  }
  // Chat lines go out one after the other, in the order typed, as the
  // terminal's do (unconfirmed_chat.ts): a /group or /msg line first seals
  // (asking for the members or the keys), and a public line typed after it
  // went out first and reached the others first. One refused with
  // slow_down goes again after the server's wait, in its turn; one whose
  // connection ended before its answer (or whose turn came after) goes
  // again with its cid on the next connection, in the order typed: queued
  // again, it went after the lines typed meanwhile.
  const request: Promise<Reply> | null = isChat(command)
    ? chats.send(command)
    : perform(current, command);
  if (request === null) return;
  void request.then(async (answer: Reply) => {
    let reply = answer;
    // What arrived before the reply (a history's messages, being opened if
    // end to end, what was said while the page was away) is shown before it.
    await order.settled;
    await caughtUp;
    const pending = pendingOf(reply);
    if (pending !== undefined) {
      // Not answered within SEND_WAIT_MS: pending, not failed (typed again,
      // it would be a second message), and sent again with its cid if the
      // connection drops first (unconfirmed_chat.ts); its answer is shown
      // when it comes, after what came meanwhile, so marked late, as the
      // terminal's.
      tell(pendingNotice(pending.to, true), here);
      reply = await pending.answer;
      await order.settled;
      if (!leftUnanswered(reply)) tell(lateNotice(pending.to), here);
    }
    if (leftUnanswered(reply)) {
      // Left (/quit) before its answer came: the server may have stored it
      // and the others read it. Said not sent, it was typed again, a second
      // message; said as the terminal says it (session.ts).
      tell(unansweredAtLeaving(1), here);
      return;
    }
    learn(reply);
    if (reply.t === "error" && reply.code === "no_such_group") {
      // Nobody is told of a group they are not in: the groups made since
      // the page last asked are learnt now, for the name likely meant.
      await current.request({ t: "groups" }).then(learn, () => {});
    }
    if (
      reply.t === "ok" &&
      (command.kind === "create" || command.kind === "join" ||
        command.kind === "leave")
    ) {
      groups.set(nameKey(command.group), {
        name: groups.get(nameKey(command.group))?.name ?? command.group,
        joined: command.kind !== "leave",
      });
      drawLists();
    }
    if (command.kind === "away" && reply.t === "ok") {
      // The people list shows this user away (or back).
      void current.request({ t: "list" }).then(learn);
    }
    const event = {
      type: "reply",
      re: 0,
      command,
      // `/msg jojp hi` with jojo online: "Did you mean jojo?" too, as the
      // terminal says it.
      reply: withLikelyName(command, reply, {
        users: people.values(),
        groups: [...groups.values()].map((group) => group.name),
      }, self),
    } as const;
    emit(event, here);
    // A public line of ours, confirmed, is not missed at the next catch-up.
    missed.sent(event);
    const view = conversations.current;
    if (
      command.kind === "leave" && reply.t === "ok" && view.kind === "group" &&
      nameKey(view.name) === nameKey(command.group)
    ) {
      // Plain lines would still go to the group left, each refused: they
      // go to everyone now, in Everyone's view (or All's), which says so.
      if (viewAll) {
        conversations.setCurrent(PUBLIC);
        drawTarget();
      } else setConversation(PUBLIC);
      tell(
        `You left group ${view.name}: plain lines go to everyone again`,
        viewKey(),
      );
    }
  });
}

/**
 * `/history` (client/history_pages.ts): its lines oldest first, then the
 * end line with what they came to, as the terminal shows them.
 */
async function pagedHistory(
  current: ChatClient,
  command: Extract<Command, { kind: "history" }>,
  typedIn: string,
): Promise<void> {
  const { showLines, reply } = await pageHistory(
    command,
    historyPaging(current),
  );
  learn(reply);
  showLines((event) => emit(event, typedIn));
  emit({ type: "reply", re: 0, command, reply }, typedIn);
}

/** How /history and scrolling back ask `current` for history. */
function historyPaging(current: ChatClient): HistoryPaging {
  return {
    ask: async (request) => ({
      reply: await withPatience(() => current.request(request)),
      asked: current,
    }),
    settled: () => order.settled,
    counts: historyCounts,
  };
}

// --- Scrolling back -----------------------------------------------------------

/** Older messages, loaded as the reader scrolls up (older_messages.ts). */
const older = new OlderMessages({
  log,
  client: () => self === "" ? null : client,
  paging: historyPaging,
  emit,
  messageId,
  shown: () => viewAll ? null : conversations.current,
  joinedGroups: () =>
    [...groups.values()].filter((group) => group.joined).map((group) =>
      group.name
    ),
});
ui.log.addEventListener("scroll", () => older.loadIfNear(), { passive: true });

/** What /verify and /trust say when this browser has no end-to-end keys. */
const NO_E2E =
  "ERROR: This browser could not open your end-to-end keys (see the warning after you joined), so it has no safety numbers or identity keys to check";

/** `/trust NAME`: accepts a changed key, sends and opens what waited. */
async function trust(
  sessions: E2eSessions,
  current: ChatClient,
  name: string,
  tell: (text: string) => void,
): Promise<void> {
  const result = await sessions.trust(current, name);
  await order.settled;
  result.lines.forEach(tell);
  drawLists();
  // What /trust sent is followed by the line queue as a typed line is (the
  // terminal's too, session_commands.ts): pending past SEND_WAIT_MS, its
  // answer shown when it comes, marked late, and sent again with its cid
  // on the next connection if this one ends first, before the lines typed
  // after it. Not followed, one cut off was said not sent, though the
  // server may have stored it, and nothing sent it again.
  const sent = await Promise.all(result.sent.map(async (sent) => {
    const command = { kind: "msg" as const, to: sent.to, text: sent.text };
    return {
      command,
      reply: await chats.follow(current, command, sent.cid, sent.reply),
    };
  }));
  await order.settled;
  for (const { command, reply } of sent) {
    const pending = pendingOf(reply);
    if (pending === undefined) {
      showTrusted(command, reply, tell);
      continue;
    }
    tell(pendingNotice(pending.to, true));
    void pending.answer.then(async (reply) => {
      await order.settled;
      if (!leftUnanswered(reply)) tell(lateNotice(pending.to));
      showTrusted(command, reply, tell);
    });
  }
  for (const opened of result.opened) showOpened(opened);
}

/** The answer to a line /trust sent, as a typed line's is shown. */
function showTrusted(
  command: Extract<Command, { kind: "msg" }>,
  reply: Reply,
  tell: (text: string) => void,
): void {
  // Left (/quit) before its answer came: it may have been stored, so it is
  // not said not sent (typed again, it would be a second message).
  if (leftUnanswered(reply)) tell(unansweredAtLeaving(1));
  else emit({ type: "reply", re: 0, command, reply });
}

ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  // Lines typed with Shift+Enter go as one message (a body may hold line
  // breaks: PROTOCOL.md, "Line breaks"); blank lines around them are left
  // out.
  const line = ui.line.value.replace(
    /^(?:[ \t]*\r?\n)+|(?:\r?\n[ \t]*)+$/g,
    "",
  );
  if (line.trim() === "") return;
  // A message over the limit stays in the field, to be cut and sent, as in
  // other web chats: cleared, a long text pasted there was gone but for Up.
  const parsed = parseInput(line);
  if (parsed?.kind !== "invalid" || parsed.tooLong !== true) setLine("");
  if (typed.at(-1) !== line) typed.push(line);
  typedAt = typed.length;
  log.toEnd();
  run(line);
});

/** Puts `text` in the message field, sized to its lines. */
function setLine(text: string): void {
  ui.line.value = text;
  fitLine();
}

/**
 * The message field as high as its lines (the page's style stops it at
 * six, then it scrolls), as in Slack or Element.
 */
function fitLine(): void {
  const field = ui.line;
  field.style.height = "auto";
  const frame = field.offsetHeight - field.clientHeight;
  field.style.height = `${field.scrollHeight + frame}px`;
}
ui.line.addEventListener("input", fitLine);
// A paste longer than the terminal takes is refused as the terminal refuses
// it (bracketed_paste.ts): before, megabytes went into the field, slowing
// the page down, to be refused as too long only at Enter.
ui.line.addEventListener("paste", (event) => {
  const text = event.clipboardData?.getData("text/plain") ?? "";
  if (text.length <= MAX_PASTE_CHARS) return;
  event.preventDefault();
  emit({ type: "notice", text: PASTE_TOO_LONG });
});

ui.line.addEventListener("keydown", (event) => {
  const field = ui.line;
  // Up and Down recall earlier lines from the field's first or last line;
  // within several, they move between them.
  const onFirst = !field.value.slice(0, field.selectionStart).includes("\n");
  const onLast = !field.value.slice(field.selectionEnd).includes("\n");
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    // Enter sends, Shift+Enter starts a new line, as in Slack, Element or
    // Discord (an input method composing a word takes its own Enter).
    event.preventDefault();
    ui.sendForm.requestSubmit();
  } else if (event.key === "ArrowUp" && typedAt > 0 && onFirst) {
    typedAt--;
    setLine(typed[typedAt] ?? "");
    event.preventDefault();
  } else if (event.key === "ArrowDown" && typedAt < typed.length && onLast) {
    typedAt++;
    setLine(typed[typedAt] ?? "");
    event.preventDefault();
  } else if (event.key === "Escape") {
    setConversation(PUBLIC);
  } else if (event.key === "Tab" && !event.shiftKey && complete()) {
    // Tab moves on as usual, except in a command it can complete.
    event.preventDefault();
  }
});

/**
 * Completes the command, user or group name being typed, as the terminal
 * does (commands.ts); returns whether the line was a command it could help.
 */
function complete(): boolean {
  const line = ui.line.value;
  const [hits, part] = completeInput(line, {
    users: [...people.values()],
    groups: [...groups.values()].map((g) => g.name),
  });
  if (hits.length === 0) return false;
  const common = hits.reduce((a, b) => {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return a.slice(0, i);
  });
  if (common.length > part.length) {
    setLine(line.slice(0, line.length - part.length) + common);
  }
  setStatus(hits.length > 1 ? hits.join("  ") : "");
  return true;
}

ui.target.addEventListener("click", () => {
  setConversation(PUBLIC);
  ui.line.focus();
});

ui.groupForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.groupName.value.trim();
  if (name === "") return;
  if (!isValidName(name)) {
    // Said as the name's fault, and kept to correct: as "/create my group"
    // it read "Usage: /create <groupname>", a command the user never typed.
    emit({
      type: "error",
      re: null,
      code: "create",
      text: invalidGroupName(name),
    }, viewKey());
    return;
  }
  ui.groupName.value = "";
  run(`/create ${name}`);
});

// --- Files ----------------------------------------------------------------

/** Received files, kept to save within a bound (savable_files.ts). */
const savable = new SavableFiles();
const filesView: FilesViewContext = {
  log,
  savable,
  emit: (event, typedIn) => emit(event, typedIn ?? null),
  view: viewKey,
  isIgnored,
  focusInput: () => ui.line.focus(),
  // Once nothing reconnects (/quit, dismissed, refused): none comes. A
  // file that saw its connection end after the page stopped reconnecting
  // (signed in from another tab) waited on the next `relink`, which never
  // came, and its end was never said.
  relinked: (after) =>
    quitting || dismissed || keyChanged
      ? Promise.resolve(null)
      : files !== null && files !== after && client !== null &&
          !client.isOver
      ? Promise.resolve(files)
      : relinks.promise,
  leaving: () => quitting || dismissed || keyChanged,
  waiting: new FilesWaiting(),
};
const receiving = receivingView(filesView);
/**
 * Files received whole, across the page's connections: one offered again
 * (its sender did not hear it arrived) is not kept twice.
 */
const receivedWhole = new ReceivedFiles();

/** Sends files to whom plain lines go now (a person or a group). */
function sendFiles(list: Iterable<File>): void {
  const current = conversations.current;
  if (current.kind === "public") {
    emit({
      type: "error",
      re: null,
      code: "usage",
      text:
        "ERROR: Files go to a person or a group: click a name in the lists (or type /query NAME) first",
    });
    return;
  }
  const target: FileTarget = current.kind === "user"
    ? { to: current.name }
    : { group: current.name };
  for (const file of list) void sendFile(target, file);
}

function sendFile(target: FileTarget, file: File): Promise<void> {
  const sender = files;
  if (
    sender === null || client === null ||
    (client.isOver && (quitting || dismissed || keyChanged))
  ) {
    emit({
      type: "error",
      re: null,
      code: "file",
      text: "ERROR: Not connected",
    });
    return Promise.resolve();
  }
  // Reconnecting: it waits for the connection (said so), as the lines
  // typed meanwhile are queued; it holds no line back.
  if (client.isOver) return sendFromPage(filesView, sender, target, file);
  // Its place among the lines typed, taken now (unconfirmed_chat.ts).
  return sendFromPage(filesView, sender, target, file, chats.turn());
}

ui.attach.addEventListener("click", () => ui.fileInput.click());
ui.fileInput.addEventListener("change", () => {
  sendFiles(ui.fileInput.files ?? []);
  ui.fileInput.value = "";
  ui.line.focus();
});
document.addEventListener("dragover", (event) => {
  if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
});
document.addEventListener("drop", (event) => {
  const dropped = event.dataTransfer?.files;
  if (dropped === undefined || dropped.length === 0) return;
  event.preventDefault();
  if (ui.chat.hidden) return;
  sendFiles(dropped);
});

// --- Connection ---------------------------------------------------------------

/**
 * Chat lines are shown in the order they came, each in its sender's lane
 * (in_turn.ts): an offer waiting for its key holds back its sender's lines
 * after it, not everyone's.
 */
const order = new InTurn((error) =>
  emit({
    type: "error",
    re: null,
    code: "e2e",
    text: `ERROR: ${messageOf(error)}`,
  })
);

/** What each /history request's messages came to, for its end line. */
const historyCounts = new HistoryCounts();

/**
 * Public messages said while the page was not connected, asked for at each
 * reconnection (client/missed_public.ts); at its first sign-in, only where
 * the room stands (`mark`), so an empty room has a place to start from.
 */
const missed = new MissedPublic();

/**
 * The newest reconnection's catch-up, done or late (HOLD_MS): the answers
 * to lines typed while the page was away wait for it, so that what was said
 * before them comes above their "Broadcast message sent: ...", as on a
 * terminal, but not for a catch-up the server keeps saying `slow_down` to.
 */
let caughtUp: Promise<void> = Promise.resolve();

/**
 * Asks `next` what was said while the page was away; settles either way,
 * or once the live lines stopped waiting for it.
 */
function catchUp(next: ChatClient): Promise<void> {
  const done = missed.catchUp(
    historyPaging(next),
    emit,
    next.name ?? undefined,
  ).catch((error) =>
    emit({
      type: "error",
      re: null,
      code: "connection",
      text: `ERROR: ${messageOf(error)}`,
    })
  );
  return Promise.race([done, missed.whenLetGo()]);
}

/**
 * Runs `show` after what came before it: an end-to-end message is opened
 * first, and the lines after it wait for it (those of `from`, the sender,
 * behind a place held for an offer of theirs too); what answers a history
 * request (`asked`) in a lane of its own, in the order it came (laneOf).
 */
function inTurn(
  from: string | undefined,
  show: () => void | Promise<void>,
  asked = false,
): Promise<void> {
  return order.run(show, laneOf(from, asked));
}

/**
 * Holds the next place in turn for a file offer (in_turn.ts `hold`): its
 * sender's lines after it wait until it is asked about or declined, at most
 * OFFER_PLACE_MS once those before it are shown; others' lines go on.
 */
function holdPlace(offer: FileOfferNotice): Place {
  return order.hold(OFFER_PLACE_MS, laneOf(offer.from));
}

/** Said once a wait for the cluster (held_replies_notice.ts). */
const heldReplies = new HeldRepliesNotice();

/**
 * Shows what the server sent. For an end-to-end message, returns a promise
 * that settles once it was shown, kept held, or shown as an error: only then
 * is it acknowledged (chat_client.ts MessageListener); `HELD` for one left
 * for the keys (`leaveForKeys`).
 */
function onIncoming(
  { message, body, answers }: Incoming,
  from: ChatClient,
): Promise<void> | Held | undefined {
  if (message.t === "bye") return;
  // Why nothing moves while the server holds this page's replies.
  if (message.t === "alive") {
    const text = heldReplies.alive(performance.now(), from.pendingCount);
    if (text !== null) emit({ type: "notice", text });
    return;
  }
  // Transfers are WebFiles' (web_files.ts).
  if (message.t.startsWith("file_")) return;
  learn(message);
  // Counted for the /history it answers; whatever it is (a key, an ignored
  // sender's message), an older page starts below it.
  const count = answers === undefined
    ? undefined
    : historyCounts.of(from, answers);
  if (count !== undefined && "id" in message && message.id !== undefined) {
    noteHistoryId(count, message.id);
  }
  if (message.t === "presence" && message.online) {
    // They may have published keys now.
    e2e?.signedIn(from.serverFingerprint, message.name);
  }
  // Who left a group, checked against the members our chain goes to.
  if (message.t === "membership") groupSessions?.membership(from, message);
  // An answer to a /history (or to scrolling back): a copy, never what
  // waits (chat_client.ts `answers`).
  const asked = answers !== undefined;
  if (message.t === "e2e_group") {
    if (!isIgnored(message.from, message.fingerprint)) {
      return openGroup(from, message, body, count, asked);
    }
    return;
  }
  if (message.t === "e2e_private") {
    // Opened even from someone ignored (`show` hides their messages): it
    // may hold their chain for a group, needed once they are shown again.
    const keys = openable(e2e);
    if (keys.kind === "await") {
      return leaveForKeys(keys.missing, message.from, count, asked);
    }
    const sessions = keys.keys;
    // A file's key is kept at once (`holdPlace` waits for it).
    const opened = keepingFileKeys(
      sessions.open(from, message, body),
      fileKeys,
    );
    let kept: Promise<void> | undefined;
    const dealt = inTurn(message.from, async () => {
      kept = showOpened(await opened, count);
    }, asked);
    // A sender key is acknowledged once kept (deliverKey saves it), as in
    // the terminal: at once, a page closed before the save had the key
    // nowhere, and the server never sent it again. Without holding up what
    // comes after it.
    return dealt.then(() => kept);
  }
  const text = hasTextBody(message) ? decodeText(body) : "";
  inTurn(laneNameOf(message), () => {
    // A plain message from someone known to use end-to-end keys is checked
    // (plain_messages.ts): a private one is the server's, not theirs.
    const chat = message.t === "private" || message.t === "group";
    if (!chat || isIgnored(message.from)) return show(message, text, count);
    const server = from.serverFingerprint;
    // The user's own name too, with keys the server took, as in the
    // terminal (session_e2e.ts showPlain).
    const ownKeys = pageE2e !== null && ownKeysOnServer.usesKeys;
    const known = (name: string) =>
      usesE2e(server, name) ||
      (ownKeys && self !== "" && nameKey(name) === nameKey(self));
    // No key to pass over: a plain message names none.
    const lookalike = plainLookalikes.before(
      message,
      known,
      (name) => pageE2e?.identities.lookalikeOf(server, name, "") ?? null,
    );
    if (lookalike !== null) {
      emitOrHold(
        emit,
        { type: "error", re: null, code: "e2e", text: lookalike },
        count,
      );
    }
    warnLookalikeGroup(message, count);
    const refusal = plainPrivateRefusal(message, known, self);
    if (refusal !== null && message.t === "private") {
      emitPlainRefusal(
        emit,
        { type: "error", re: null, code: "e2e", text: refusal },
        { other: plainRefusedWith(message, self), ts: message.ts },
        count,
      );
      return;
    }
    show(message, text, count);
    const warning = plainGroupWarnings.after(message, known);
    if (warning !== null) {
      emitOrHold(
        emit,
        { type: "error", re: null, code: "e2e", text: warning },
        count,
      );
    }
  }, asked);
}

/**
 * `sessions` to open an end-to-end message with, or why this page has no
 * usable keys of its own (awaiting_keys.ts `Openable`: a message it cannot
 * try for want of its keys is left on the server, never acknowledged).
 */
function openable<S>(sessions: S | null): Openable<S> {
  if (sessions !== null) return { kind: "open", keys: sessions };
  // Another tab has them (the Web Lock), or this browser could not open
  // them (startE2e's warning). Both may end: that tab closes, the storage
  // is mended (or 'Forget me in this browser' starts again, and the host
  // releases the name, which deletes what waited for the old key).
  return {
    kind: "await",
    missing: { kind: e2eBusy ? "other_tab" : "unopened" },
  };
}

/**
 * How many end-to-end messages this connection left for the keys: the
 * server sends them again at the next sign-in only.
 */
let leftForKeys = 0;
/** The end-to-end messages left for the keys this session. */
const awaitingKeys = new AwaitingKeys();
/** The end-to-end messages in history answers this page could not try. */
const unopenedHistory = new UnopenedHistory();

/**
 * Leaves an end-to-end message for a sign-in with the keys: `HELD`, so it is
 * never acknowledged (chat_client.ts `Held`), not even by /quit's goodbye,
 * which does not wait for it either, and the server sends it again. Acknowledged here, where it cannot be opened, it would be lost.
 * One line, in turn, says what waits for a burst of them (what waited at
 * the sign-in), not a line each.
 *
 * A copy in the answer to a history request (`asked`) is not left: it is
 * not what waits (the server keeps that anyway, or delivered it already),
 * and never acknowledged it would hold back its conversation's cursor, and
 * so every later message of it, for as long as the page is signed in. It
 * is counted, said in one line with the rest of the answer, and
 * acknowledged.
 */
function leaveForKeys(
  missing: KeysMissing,
  from: string,
  count: HistoryCount | undefined,
  asked: boolean,
): Promise<void> | Held {
  if (asked) {
    const due = unopenedHistory.add(from);
    return inTurn(from, () => {
      if (count !== undefined) count.unopened++;
      if (!due) return;
      emitOrHold(emit, {
        type: "notice",
        text: unopenedHistory.line(missing),
      }, count);
    }, true);
  }
  const due = awaitingKeys.add(from);
  leftForKeys++;
  inTurn(from, () => {
    if (count !== undefined) count.unopened++;
    if (!due) return;
    emitOrHold(emit, {
      type: "notice",
      text: awaitingKeys.line(missing),
    }, count);
  });
  return HELD;
}

/**
 * Shows an opened end-to-end message, or why it was not; counted in
 * `count` when it answers a /history. For a sender key, a promise that
 * settles once it is kept (group_sessions.ts deliverKey).
 */
function showOpened(
  opened: Opened,
  count?: HistoryCount,
): Promise<void> | undefined {
  switch (opened.kind) {
    case "message":
      show(opened.message, opened.text, count);
      // Its sender's time and the server's differ, or it came out of
      // order (sender_time.ts).
      emitOpenedLines(emit, opened.warnings ?? [], count);
      return;
    case "refused":
      // No lines: a secret that was taken before, not a message.
      if (count !== undefined && opened.lines.length > 0) count.unopened++;
      emitOpenedLines(emit, opened.lines, count);
      return;
    case "secret":
      // A file's key, for the offer that names it (file_key_share.ts), or a
      // member's chain for a group (group_sessions.ts).
      if (tookFileKey(fileKeys, opened)) return;
      {
        const kept = client === null ? null : groupSessions?.deliverKey(
          client,
          opened.from,
          opened.label,
          opened.secret,
          opened.taken,
        );
        if (kept) return kept;
      }
      opened.taken();
      // Nothing said of what someone ignored sends.
      if (isIgnored(opened.from)) return;
      emit({
        type: "notice",
        text:
          `${opened.from} sent a secret for '${opened.label}', which this page has no use for yet`,
      });
      return;
    case "group":
      // Held until /trust accepted its sender's key, which came with the
      // secrets before it (delivered above, so queued before it).
      if (client !== null) void openGroup(client, opened.message, opened.body);
      return;
    default: {
      const unreachable: never = opened;
      return unreachable;
    }
  }
}

/**
 * Opens an end-to-end group message in turn with the other lines; counted
 * in `count` when it answers a /history.
 */
function openGroup(
  from: ChatClient,
  message: E2eGroup,
  body: Uint8Array,
  count?: HistoryCount,
  asked = false,
): Promise<void> | Held | undefined {
  const keys = openable(groupSessions);
  if (keys.kind === "await") {
    return leaveForKeys(keys.missing, message.from, count, asked);
  }
  const sessions = keys.keys;
  const opened = sessions.open(from, message, body);
  // One waiting for its sender key settles with its outcome.
  let waiting: Promise<void> = Promise.resolve();
  return inTurn(message.from, async () => {
    const outcome = await opened;
    if (outcome.kind === "waiting") waiting = outcome.settled;
    showGroupOpened(outcome, count);
  }, asked).then(() => waiting);
}

/**
 * Shows an opened end-to-end group message, or why it was not; counted in
 * `count` when it answers a /history.
 */
function showGroupOpened(opened: GroupOpened, count?: HistoryCount): void {
  switch (opened.kind) {
    case "message":
      warnLookalikeGroup(opened.message, count);
      show(opened.message, opened.text, count);
      // It came once said not to have arrived (unarrived.ts).
      emitOpenedLines(
        emit,
        (opened.warnings ?? []).map(sanitizeForTerminal),
        count,
      );
      return;
    case "refused":
      emitRefusedGroup(emit, opened.lines, count);
      return;
    case "waiting":
      // Shown when its sender key comes (`late`).
      if (count !== undefined) count.waiting++;
      return;
    default: {
      const unreachable: never = opened;
      return unreachable;
    }
  }
}

/**
 * Shows a message the server sent unasked (or one opened end to end);
 * counted in `count` when it answers a /history and is shown.
 */
function show(
  message: ServerMessage,
  text: string,
  count?: HistoryCount,
): void {
  const chat = message.t === "public" || message.t === "private" ||
    message.t === "group";
  if (chat && isIgnored(message.from)) return;
  // Nor their comings and goings (as in the terminal): joining or leaving a
  // group is still said, as it is who may read what is sent there.
  if (message.t === "presence" && isIgnored(message.name)) return;
  const past = "history" in message && message.history === true;
  const id = chat ? message.id : undefined;
  const display = () => {
    if (count !== undefined) count.shown++;
    const conversation = conversationOf(message, self);
    if (conversation !== null && !past) {
      if (conversations.noteIncoming(conversation)) drawTarget();
    }
    // What came while the page was away (the private messages the server
    // kept, sent after the sign-in) is to this user and unseen too, as a
    // live one; only a /history's answer was asked for.
    if (conversation !== null && (!past || count === undefined)) {
      noteToMe(message, text);
    }
    emitOrHold(emit, { type: "incoming", message, text }, count);
    missed.shown(id);
  };
  // While a reconnection asks what was missed in the room, a live line
  // there waits to come after those (client/missed_public.ts).
  if (
    message.t === "public" && !past && count === undefined &&
    missed.hold(id, display)
  ) return;
  display();
}

/**
 * Four times the terminal's: a browser runs a background tab's timers once a
 * minute at most, and the client gives up after two intervals of silence,
 * which a late timer would otherwise take for a dead server.
 */
const PING_INTERVAL_MS = 120_000;

/** The server's key changed: the page stops trying until reloaded. */
let keyChanged = false;
/** What the page says about it, again at each try. */
let keyChangedText = "";

/**
 * Whether connect's last try failed in a way that may pass: its WebSocket
 * did not open (the browser does not say why: a server gone, or one
 * refusing it for now with a 503 for its address's handshake rate), or it
 * was cut in its handshake with no Close frame (as the server cuts one to
 * make room for another address at its cap of connections still starting):
 * PROTOCOL 1.1, or its handshake was not answered in time (a server busy
 * with a whole class's, as `chat connect` tries again: server_connect.ts).
 * Only such a try is made again by connectFirst; one that failed otherwise
 * has its reason.
 */
let mayPass = false;
/**
 * Why connect's last try is made again, when the page knows (a handshake
 * not answered in time, in the terminal's words); null when a browser does
 * not say (a WebSocket that did not open, or was cut).
 */
let mayPassWhy: string | null = null;

/**
 * Connects and checks the server's key; null when that failed (the reason is
 * in `lastConnectError`) or the key changed (`keyChanged`).
 */
async function connect(): Promise<ChatClient | null> {
  mayPass = false;
  mayPassWhy = null;
  if (keyChanged) {
    setJoinError(keyChangedText);
    return null;
  }
  /**
   * On a phone, or a screen as short as one on its side (a laptop at 200 %
   * zoom), the server key and its note fold behind their summary (one
   * line), so that the log gets the height; on a larger screen they show. A
   * warning there (a changed key, no encryption) keeps them open. As
   * style.css's query.
   */
  const narrow = matchMedia("(max-width: 40rem), (max-height: 34rem)");
  function foldKey(): void {
    const warned = document.body.classList.contains("key-changed") ||
      document.body.classList.contains("no-crypto");
    ui.key.open = warned || !narrow.matches;
  }
  foldKey();
  narrow.addEventListener("change", foldKey);

  if (NO_CRYPTO !== null) {
    setJoinError(NO_CRYPTO);
    return null;
  }
  let next: ChatClient;
  try {
    next = await ChatClient.connect(url, { pingIntervalMs: PING_INTERVAL_MS });
  } catch (error) {
    // A browser never says why a WebSocket failed to open (connection.ts
    // then says only "Cannot connect to ws://..."): nothing to add to it.
    mayPass = error instanceof NotOpenedError ||
      error instanceof CutInHandshakeError ||
      error instanceof HandshakeTimeoutError;
    if (error instanceof HandshakeTimeoutError) {
      mayPassWhy = notAnsweredInTimeText(host, error.message);
    }
    lastConnectError = error instanceof NotOpenedError
      ? `Cannot connect to ${host}. Is 'chat serve' running there?`
      : `Cannot connect to ${host}: ${messageOf(error)}`;
    // One that did not open, or was cut in its handshake, is said by
    // connectFirst once it stops trying (it may be let in at a later try),
    // or by a reconnection. Any other
    // (the handshake failed: a protocol version this page does not speak,
    // a server's hello that does not check out) has its reason, which
    // another try would not change: said at once. Before, it was hidden
    // behind "did not let this page in yet" for the 12 to 25 s of tries.
    if (!mayPass) setJoinError(`ERROR: ${lastConnectError}`);
    return null;
  }
  const fingerprint = next.serverFingerprint;
  ui.fingerprint.textContent = fingerprint;
  let check;
  try {
    check = await checkServerKeyInBrowser(host, fingerprint, localStorage);
  } catch (error) {
    // Unchecked, the key may not be trusted with anything: nothing is sent.
    next.abort();
    lastConnectError = messageOf(error);
    setJoinError(`ERROR: ${lastConnectError}`);
    return null;
  }
  switch (check.kind) {
    case "changed": {
      next.abort();
      const text = changedServerKeyMessage(
        host,
        check.remembered,
        fingerprint,
      );
      keyChanged = true;
      keyChangedText = text;
      document.body.classList.add("key-changed");
      ui.trustNote.textContent = pageText(text);
      ui.key.open = true;
      setJoinError(text);
      setStatus("Refused: the server's key changed");
      if (self !== "") emit({ type: "error", re: null, code: "key", text });
      return null;
    }
    case "new":
      ui.trustNote.textContent =
        "First visit: this browser now remembers this key for this server. Compare it with the fingerprint the host's 'chat serve' printed.";
      break;
    case "known":
      ui.trustNote.textContent =
        "The same key as on your earlier visits from this browser.";
      break;
    default: {
      const unreachable: never = check;
      return unreachable;
    }
  }
  setStatus(`Connected to ${host}`);
  return next;
}

let lastConnectError = "";

/** How often the people list asks who is online and away. */
const LIST_REFRESH_MS = 30_000;

/** Starts using a client the server welcomed. */
function use(joined: ChatClient): void {
  client = joined;
  const sessions = e2e;
  const server = joined.serverFingerprint;
  const transfers = new WebFiles(
    joined,
    receiving,
    {
      // A file's key goes end to end once this page's keys are published;
      // never in its offer for want of them: the offer is refused, saying why.
      share: async (target, key, name, size) => {
        const ready = await sealing(joined, { kind: "file", target });
        if ("refused" in ready) {
          return { kind: "refused", reply: ready.refused };
        }
        return await shareFileKey(
          {
            sendSecret: (...args) => ready.sessions.sendSecret(...args),
            usesE2e: (name) => usesE2e(server, name),
            notify: (text) => emit({ type: "notice", text }),
            chainGivenTo: (group) =>
              groupSessions?.chainGivenTo(server, group) ?? null,
          },
          joined,
          target,
          key,
          name,
          size,
        );
      },
      take: sessions === null
        ? KEYS_IN_OFFERS.take
        : async (offer, since, wait = true) => {
          // As the terminal's (connection_files.ts): asked for once the
          // messages before the offer are dealt with (its place's `ready`),
          // waiting what is left of 10 s since it came.
          const got = await receiveFileKey(offer, {
            inbox: fileKeys,
            usesE2e: (name) => usesE2e(server, name),
            ...(since === undefined ? {} : { since }),
          }, wait);
          // Only a key from the offer itself is readable by the host.
          if ("key" in got && got.readable && got.notice !== undefined) {
            emit({ type: "notice", text: got.notice });
          }
          return got;
        },
    },
    holdPlace,
    receivedWhole,
  );
  files = transfers;
  relink(transfers);
  leftForKeys = 0;
  document.body.classList.remove("disconnected");
  // One listener (files and the rest): what arrived before it (offline
  // messages, say) is replayed to it (`onMessage` replays to the first
  // listener only; `listening` is for several).
  joined.onMessage((incoming) => {
    transfers.receive(incoming);
    return onIncoming(incoming, joined);
  });
  e2e?.connected();
  publishKeys(joined);
  void joined.request({ t: "list" }).then(learn);
  void joined.request({ t: "groups" }).then(learn);
  // Who is away is said only by /list: asked again now and then, for the
  // people list.
  const refresh = setInterval(() => {
    if (!joined.isOver) void joined.request({ t: "list" }).then(learn);
  }, LIST_REFRESH_MS);
  void joined.ended.then((ending) => {
    clearInterval(refresh);
    if (client !== joined) return;
    emit({ type: "notice", text: ending.reason });
    document.body.classList.add("disconnected");
    people.clear();
    peopleMore = 0;
    drawLists();
    // As the terminal: a server that dismissed this page (a rule broken, or
    // the same name signed in from another tab or place) is not pestered
    // again, or two tabs would take the name from each other for ever.
    dismissed = ending.bye === "violation" || ending.bye === "replaced";
    // The log has the whole reason; the status bar says it in a few words
    // ("Disconnected." and "Disconnected by the server: ..." say it).
    const why = briefReason(ending);
    if (quitting || dismissed) {
      setStatus(why.startsWith("Disconnected") ? why : `Disconnected: ${why}`);
      if (ending.bye === "replaced") {
        // Connect again takes the name back, and so signs out the other
        // tab or place: a choice, said before it is made.
        emit({
          type: "notice",
          text:
            "Your name is signed in elsewhere now (another tab of this browser has your end-to-end keys from now on). Connect again (under the input) takes it back here, and signs that one out.",
        });
      }
      offerAgain();
    } else void reconnect(why);
  });
}

/**
 * Publishes this browser's end-to-end keys, as the terminal does at each
 * sign-in (what goes end to end waits for it: `ownKeys`), and tops up
 * one-time keys while signed in.
 */
function publishKeys(joined: ChatClient): void {
  if (pageE2e === null || e2eBusy) return;
  void ownKeys.start(joined).then((outcome) => {
    if (outcome.kind !== "unpublished" || joined.isOver) return;
    emit({
      type: "notice",
      text: `End-to-end keys not published: ${outcome.reason}`,
    });
  });
  // Others take one-time keys without a word to us (docs/PROTOCOL.md 11.2).
  keepToppedUp(joined, () => {
    const kept = pageE2e;
    if (kept === null) return;
    publishTold(joined, kept).catch(() => {
      // The next top-up tries again; sends publish before they seal.
    });
  });
}

/**
 * The end-to-end keys and sessions of `name` in this browser
 * (web/e2e_store.ts), loaded once the page signed in as it; the warning to
 * show when they cannot be. While another tab has them, this page waits
 * for them (`awaitE2e`) and takes them once that tab lets them go.
 */
async function startE2e(
  identity: Identity,
  name: string,
): Promise<string | null> {
  // Two tabs writing one ratchet would each overwrite the other's state
  // (and could use a message key twice): one tab of this browser has the
  // keys of a name, for as long as it is open and signed in. Tabs signed
  // in as other names have their own.
  // This tab's own hold on them, let go at its sign-out once its last
  // writes land (stopE2e), is no other tab's: Connect again waits for it
  // rather than say another tab has the keys (it said so for a moment).
  // Not for ever: a write that never lands (IndexedDB stuck) would leave
  // Connect again on "Connecting..." with the connection unused.
  const landed = await settlesWithin(lettingGo, LETTING_GO_WAIT_MS);
  const release = await holdForPage(e2eLockName(identity, name), null);
  if (release === null) {
    e2eBusy = true;
    awaitE2e(identity, name);
    return landed ? E2E_BUSY : E2E_STILL_SAVING;
  }
  return await openE2e(identity, name, release);
}

/**
 * How long signing in again waits for this tab's own last writes of the
 * end-to-end keys to land (they take milliseconds): past it, the page
 * signs in, and the keys come once they have.
 */
const LETTING_GO_WAIT_MS = 5_000;

/** True once `promise` settles, false if `ms` pass first. */
async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise.then(() => true, () => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a page says whose own last writes of the keys have not landed. */
const E2E_STILL_SAVING =
  "WARNING: This tab has not finished saving your end-to-end keys from before it signed out: private and group messages and files wait until it has; then they work here by themselves (reload the page if they do not come)";

/** What a page whose keys another tab has says, once. */
const E2E_BUSY =
  "WARNING: Another tab of this browser is signed in with your end-to-end keys: private and group messages and files work in that tab only, until it closes, signs out (/quit) or is signed out; then they come to this tab by themselves";

/** The Web Lock of the end-to-end keys of `name`. */
function e2eLockName(identity: Identity, name: string): string {
  return `chat-e2e ${identity.fingerprint} ${nameKey(name)}`;
}

/**
 * Lets the end-to-end keys' lock go, when this page holds it; settles once
 * the lock is free.
 */
let releaseE2e: (() => Promise<void>) | null = null;
/** Settles once the lock this page let go last (stopE2e) is free. */
let lettingGo: Promise<void> = Promise.resolve();
/** Ends this page's wait for the keys another tab has. */
let e2eWait: AbortController | null = null;

/**
 * Waits for the tab that has the keys of `name` to let them go, then takes
 * them: the sessions start, the keys are published on the connection, and
 * the page says so.
 */
function awaitE2e(identity: Identity, name: string): void {
  const wait = new AbortController();
  e2eWait = wait;
  void holdForPage(e2eLockName(identity, name), wait.signal).then(
    async (release) => {
      if (release === null) return;
      if (wait.signal.aborted || e2eWait !== wait) {
        void release();
        return;
      }
      e2eWait = null;
      e2eBusy = false;
      const warning = await openE2e(identity, name, release);
      // Signed out meanwhile (stopE2e): the keys went again.
      if (releaseE2e !== release) return;
      if (warning !== null) {
        e2eWarning = warning;
        emit({ type: "error", re: null, code: "e2e", text: warning });
        drawTarget();
        return;
      }
      e2eWarning = null;
      emit({
        type: "notice",
        text:
          `Your end-to-end keys are in this tab now: private and group messages and files work here.${
            leftForKeys === 0
              ? ""
              : " What waited for them comes at your next sign-in (reload the page to have it now)."
          }`,
      });
      const current = client;
      if (current !== null && !current.isOver) {
        e2e?.connected();
        publishKeys(current);
      }
      drawTarget();
    },
  );
}

/**
 * Lets go of the end-to-end keys (a page signed out: /quit, dismissed or
 * refused), so that another tab signed in as the name can take them, and
 * ends a wait for them; Connect again starts them anew.
 */
function stopE2e(): void {
  e2eWait?.abort();
  e2eWait = null;
  const release = releaseE2e;
  releaseE2e = null;
  const writes = e2eWrites;
  e2eWrites = null;
  if (writes !== null) {
    // Work begun before (a message being opened, prekeys being made) goes
    // on, but writes the keys' records no more: the lock goes once what it
    // wrote has landed, so the tab that takes the keys next reads after it
    // and nothing of this tab's lands over its own writes.
    writes.open = false;
    lettingGo = writes.landed.then(() => release?.());
  } else lettingGo = release?.() ?? Promise.resolve();
  e2e = null;
  groupSessions = null;
  // Signed out: a gap seen before is no longer said (the terminal's
  // session closes its tracker the same way).
  unarrived.close();
  pageE2e = null;
  e2eBusy = false;
  e2eStarted = false;
  e2eWarning = null;
}

/**
 * The writes of the end-to-end records this page makes while it holds
 * their lock: `open` until it lets the lock go; `landed` settles once every
 * write begun so far has.
 */
interface E2eWrites {
  open: boolean;
  landed: Promise<void>;
}
/** The writes of the keys this page holds; null while it holds none. */
let e2eWrites: E2eWrites | null = null;

/**
 * `save`, refused once the page let the keys' lock go (`writes.open`
 * false): another tab may have them by then, and two tabs writing one
 * ratchet would each write over the other's state, and could use a message
 * key twice.
 */
function whileHeld<T>(
  writes: E2eWrites,
  save: (value: T) => Promise<void>,
): (value: T) => Promise<void> {
  return (value) => {
    if (!writes.open) {
      return Promise.reject(
        new Error(
          "this tab signed out and let your end-to-end keys go, so it keeps nothing more with them (a tab signed in as you may have them)",
        ),
      );
    }
    const saved = save(value);
    writes.landed = Promise.all([writes.landed, saved.catch(() => {})])
      .then(() => {});
    return saved;
  };
}

/** Loads the keys of `name` once this page holds their lock (`release`). */
async function openE2e(
  identity: Identity,
  name: string,
  release: () => Promise<void>,
): Promise<string | null> {
  releaseE2e = release;
  const fingerprint = identity.fingerprint;
  try {
    // A tab of a page from before names (still open since) holds this lock
    // for as long as it has the keys kept then, which this page would take
    // over (e2e_store.ts): its keys are in use, so this tab waits, as for
    // one of its own name.
    const loaded = await navigator.locks.request(
      `chat-e2e ${fingerprint}`,
      { ifAvailable: true },
      (lock) =>
        lock === null ? null : loadPageE2e(
          identity,
          name,
          // The sessions grew past what is kept (e2e_store.ts): what was
          // dropped to keep them, once.
          (text) => emit({ type: "error", re: null, code: "e2e", text }),
        ),
    );
    // Signed out while they loaded: stopE2e let the lock go, and another
    // tab may have the keys now. What was read is not used: kept, it would
    // be taken up again at Connect again, older than what that tab writes.
    if (releaseE2e !== release) return null;
    if (loaded === null) {
      e2eBusy = true;
      return E2E_BUSY;
    }
    const writes: E2eWrites = { open: true, landed: Promise.resolve() };
    e2eWrites = writes;
    pageE2e = {
      ...loaded,
      saveKeyring: whileHeld(writes, loaded.saveKeyring),
      saveState: whileHeld(writes, loaded.saveState),
    };
    ownKeysOnServer = new OwnKeysOnServer();
  } catch (error) {
    // As the terminal stops rather than go on without its keys, the page
    // sends nothing that goes end to end (own_keys.ts); the room works.
    return `WARNING: ${
      // The terminal's advice about its files does not fit a browser.
      messageOf(error).replace(
        /; move it away to start new \w+$/,
        "",
      )}. Without your end-to-end keys this page sends no private or group message and no file (never in the clear). Reload to try again; if this comes back, 'Forget me in this browser' starts with new keys, and the host then has to release your name (chat admin release)`;
  }
  e2e = new E2eSessions({
    ...pageE2e,
    unarrived,
    ignored: (name) => isIgnored(name),
    notify: (lines) => {
      if (lines[0]?.kind === "warning") {
        // A changed identity key: one loud block, and the status line.
        log.lines(
          lines.map(({ text }) => sanitizeForTerminal(text)),
          "error warning",
        );
        setStatus(lines[0].text);
        drawLists();
        return;
      }
      for (const { kind, text } of lines) {
        emit(
          kind === "error"
            ? { type: "error", re: null, code: "e2e", text }
            : { type: "notice", text },
        );
      }
    },
  });
  const kept = pageE2e;
  const sessions = e2e;
  groupSessions = new GroupSessions({
    unarrived,
    state: kept.state.groups,
    save: () => kept.saveState(kept.state),
    sendSecret: (...args) => sessions.sendSecret(...args),
    knownKey: (server, name) => kept.identities.known(server, name) ?? null,
    ignored: (name) => isIgnored(name),
    notify: (lines) => {
      for (const line of lines) emit(e2eLineEvent(line));
    },
    late: (opened, from) => inTurn(from, () => showGroupOpened(opened)),
    // As the terminal's: the wait for a sender key starts once the
    // end-to-end messages before the group message are opened.
    before: (from) => order.settledFrom(from),
    holdUntilTrusted: (...args) => sessions.holdGroup(...args),
  });
  return null;
}

/**
 * Takes the Web Lock `name` until the function it resolves to is called
 * (or the page goes): at once, or null when another tab holds it; with
 * `signal`, once that tab lets it go (null when `signal` ends the wait).
 * That function's promise settles once the lock is free again.
 */
function holdForPage(
  name: string,
  signal: AbortSignal | null,
): Promise<(() => Promise<void>) | null> {
  return new Promise((resolve) => {
    const held = (lock: Lock | null) => {
      if (lock === null) {
        resolve(null);
        return undefined;
      }
      return new Promise<void>((done) =>
        resolve(() => {
          done();
          // The request's promise settles once the lock is let go.
          return request.then(() => {}, () => {});
        })
      );
    };
    const request: Promise<unknown> = signal === null
      ? navigator.locks.request(name, { ifAvailable: true }, held)
      : navigator.locks.request(name, { signal }, held);
    request.catch(() => resolve(null));
  });
}

/** The user typed /quit: no reconnecting. */
let quitting = false;
/**
 * The server dismissed this page (a rule broken, or the name signed in from
 * another tab or place), or refused it at a reconnection (the name, the
 * key): no reconnecting either.
 */
let dismissed = false;
/** A line typed while disconnected, and the conversation it was typed in. */
interface QueuedLine {
  line: string;
  to: Conversation;
}
/**
 * Lines typed while disconnected, sent once back, in order; each itself
 * (not its text) for what a question before leaving named.
 */
const queued: QueuedLine[] = [];
/**
 * The wait before the next attempt: a key (or a line typed) cuts it short
 * once per attempt, not once per key (RetryWait).
 */
const retries = new RetryWait();
/**
 * Shows the status line of the reconnection under way (its queued lines
 * counted anew); nothing when none is.
 */
let showReconnecting: () => void = () => {};
/**
 * The wait between the tries of the page's first connection (connectFirst):
 * no key cuts it short, as typing one's name would; Join does (join).
 */
const firstWaits = new RetryWait();
/** Ends the wait before the next attempt, whatever was pressed. */
const retryNow = () => {
  retries.wake();
  firstWaits.wake();
};
// As the terminal, and as the status line says while waiting ("press a key
// to retry now"): a key tries again at once.
document.addEventListener("keydown", () => retries.nudge());
/**
 * A touch screen (a phone, a tablet) has no keys to press: its status line
 * says "tap Retry now" and shows that button, which does what a key does.
 */
const touch = matchMedia("(pointer: coarse)");
ui.retryNow.addEventListener("click", () => retries.nudge());

/**
 * Reconnects as the terminal client does (reconnect_status.ts): 1, 2, 4,
 * 8, then every 10 s, until back in, the key changed or the name is refused.
 * A key tries at once, once per wait: that try does not make the waits
 * longer, and when it fails the rest of the wait is waited out.
 */
async function reconnect(reason: string): Promise<void> {
  let state: ReconnectState = { kind: "lost", reason };
  const show = () => {
    const tap = touch.matches;
    setStatus(
      statusLine(
        state,
        queued.length,
        Date.now(),
        tap ? TAP_RETRY : PRESS_A_KEY,
      ) ?? "",
    );
    // Only while a wait can still be cut short, as the status line says.
    ui.retry.hidden = !tap || state.kind !== "waiting" ||
      state.keyUsed === true;
  };
  show();
  showReconnecting = show;
  const ticker = setInterval(show, 1000);
  let lastError: string | null = null;
  /**
   * Left meanwhile (/quit, the page hidden or its user forgotten): no
   * reconnecting, as once left while connected; `next`, a connection made
   * meanwhile, is closed. Before, the loop went on, and signed in again:
   * what was typed while away, and lines cut off, went out after /quit.
   */
  const left = (next: ChatClient | null): boolean => {
    if (!quitting) return false;
    void next?.quit();
    setStatus("Disconnected.");
    emit({ type: "notice", text: "Disconnected." });
    // What waited for a connection is not sent (said so, as when refused).
    refuseQueued();
    offerAgain();
    return true;
  };
  /** One try: true when it ended reconnecting (back in, refused, or left). */
  const tryOnce = async (attempt: number): Promise<boolean> => {
    if (left(null)) return true;
    state = { kind: "connecting", attempt, lastError };
    show();
    const next = await connect();
    if (keyChanged) {
      chats.retry(null);
      return true;
    }
    if (left(next)) return true;
    if (next === null) {
      lastError = lastConnectError;
      return false;
    }
    const reply = await next.register(self, identity!, ledger);
    if (left(next)) return true;
    if (reply.t === "welcome") {
      use(next);
      emit({ type: "notice", text: `Reconnected as ${reply.name}.` });
      caughtUp = catchUp(next);
      // After the catch-up: a connection's first history request is free of
      // its address's rate (docs/PROTOCOL.md 5.8), and it is the catch-up
      // that must not wait (a class behind one address back at once).
      older.loadIfNear();
      setStatus(`Connected to ${host}`);
      // Lines cut off go again first, in the order typed, then those typed
      // while away.
      chats.retry(next);
      for (const { line, to } of queued.splice(0)) run(line, to);
      return true;
    }
    if (
      reply.t === "error" &&
      (reply.code === "limit" || reply.code === "slow_down")
    ) {
      // Turned away for the address's rates (PROTOCOL 5.8): the server is
      // up and lets sign-ins in a few at a time (a new name's rate: after
      // minutes, said as the server says it). Another try, after the wait,
      // as the terminal does; before, the page stopped reconnecting for good
      // when a class came back at once.
      next.abort();
      lastError = heldBack(reply) ? HELD_BACK : reply.text;
      return false;
    }
    if (reply.t === "error" && reply.code !== "internal") {
      // Refused (the name, the key): trying again would not change it.
      emit({ type: "incoming", message: reply, text: "" });
      setStatus(`Could not reconnect: ${reply.text}`);
      // Nothing reconnects any more: what was queued is not sent, and a
      // line typed from now on is refused, as once dismissed.
      dismissed = true;
      offerAgain();
      refuseQueued();
      return true;
    }
    lastError = reply.t === "error" ? reply.text : reply.t;
    return false;
  };
  try {
    for (let attempt = 1;; attempt++) {
      const retryAt = Date.now() + reconnectDelay(attempt);
      retries.fresh();
      for (;;) {
        state = {
          kind: "waiting",
          attempt,
          retryAt,
          lastError,
          ...(retries.nudgeable ? {} : { keyUsed: true as const }),
        };
        show();
        // The product's back-off between attempts, cut short by a key.
        const woke = await retries.until(retryAt);
        if (await tryOnce(attempt)) return;
        if (woke === "elapsed") break;
      }
    }
  } finally {
    clearInterval(ticker);
    showReconnecting = () => {};
    ui.retry.hidden = true;
  }
}

/**
 * The page's first connection (and the one Join makes when it had none):
 * connect, tried again with a reconnection's waits (1, 2, 4, 8, 10 s) while
 * its WebSocket does not open, up to FIRST_CONNECT_TRIES in all, said in
 * the status line. A browser does not tell a page why: the server may be
 * refusing it for now (a class loading the page at once meets its
 * address's handshake rate, and the page's own load spent tokens of it),
 * as `chat connect` waits the `Retry-After` it is told (server_connect.ts).
 * A server really gone is said as before, after the last try.
 */
async function connectFirst(): Promise<ChatClient | null> {
  for (let attempt = 1;; attempt++) {
    const next = await connect();
    if (
      next !== null || !mayPass || quitting ||
      attempt >= FIRST_CONNECT_TRIES
    ) {
      if (next === null && mayPass) setJoinError(`ERROR: ${lastConnectError}`);
      if (attempt > 1) setStatus(next === null ? "" : `Connected to ${host}`);
      return next;
    }
    // Not an ERROR yet: most often it is let in at a later try.
    setJoinError("");
    const retryAt = Date.now() + reconnectDelay(attempt);
    const why = mayPassWhy;
    const show = () => {
      const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      const tries = `(try ${attempt + 1} of ${FIRST_CONNECT_TRIES})`;
      // A handshake not answered in time is said as the terminal says it,
      // why and a countdown (server_connect.ts); a browser does not tell a
      // page why its WebSocket did not open or was cut.
      setStatus(
        why !== null
          ? `${why}. ${tryingAgainLine(seconds, false)} ${tries}`
          : `Connecting in ${seconds} s ${tries}: the server at ${host} did not let this page in yet; it may be busy, as when a whole class joins at once`,
      );
    };
    show();
    const ticker = setInterval(show, 1000);
    try {
      await firstWaits.until(retryAt);
    } finally {
      clearInterval(ticker);
    }
    if (quitting) return null;
    setStatus(
      `Connecting to ${host} (try ${
        attempt + 1
      } of ${FIRST_CONNECT_TRIES})\u2026`,
    );
  }
}

/** What a line typed once nothing reconnects is told. */
const NOT_CONNECTED =
  "ERROR: Not connected. Click Connect again (under the input) to join again";

/** Shows Connect again: nothing reconnects by itself (see connectAgain). */
function offerAgain(): void {
  // Nothing reconnects by itself: what waited for a connection is not sent.
  chats.retry(null);
  // Lines typed while out too: a reconnection signed out at once (its name
  // signed in elsewhere, in the welcome's batch) put them back in the
  // queue, which nothing would send.
  refuseQueued();
  relink(null);
  // Signed out: another tab signed in as this name may have the keys.
  stopE2e();
  ui.again.hidden = false;
}

/** Each line that waited for a connection said not sent, and dropped. */
function refuseQueued(): void {
  for (const { line } of queued.splice(0)) {
    emit({
      type: "error",
      re: null,
      code: "connection",
      text: `ERROR: Not sent: ${line}`,
    });
  }
}

/**
 * Connect again, after /quit, a dismissal or a refusal at a reconnection:
 * signs in anew under the same name and keys, without a reload, as the
 * terminal would be started again. Nothing of the old connection comes
 * along: the lists are asked anew, and no line typed meanwhile is queued
 * (one is refused until the welcome, as before the click).
 */
async function connectAgain(): Promise<void> {
  ui.again.hidden = true;
  people.clear();
  away.clear();
  peopleMore = 0;
  groups.clear();
  drawLists();
  setStatus(`Connecting to ${host}\u2026`);
  const next = await connect();
  if (next === null) {
    // A changed key says so, and refuses for good: no button.
    if (keyChanged) return;
    setStatus(`Could not connect: ${lastConnectError}`);
    offerAgain();
    return;
  }
  const reply = await next.register(self, identity!, ledger);
  if (reply.t !== "welcome") {
    next.abort();
    if (reply.t === "error") {
      emit({ type: "incoming", message: reply, text: "" });
    }
    setStatus(
      `Could not connect again: ${
        reply.t === "error" ? reply.text : `unexpected answer (${reply.t})`
      }`,
    );
    offerAgain();
    return;
  }
  quitting = false;
  dismissed = false;
  // A new sign-in: what the last /quit asked about is over.
  quitAsked = null;
  queued.length = 0;
  if (!e2eStarted) {
    e2eStarted = true;
    e2eWarning = await startE2e(identity!, self);
    if (e2eWarning !== null) {
      emit({ type: "error", re: null, code: "e2e", text: e2eWarning });
    }
  }
  use(next);
  emit({ type: "notice", text: `Connected again as ${reply.name}.` });
  caughtUp = catchUp(next);
  // After the catch-up, which the connection's free history request is for.
  older.loadIfNear();
  drawTarget();
  ui.line.focus();
}

ui.connectAgain.addEventListener("click", () => void connectAgain());

async function join(name: string): Promise<void> {
  // Join while the first connection waits for its next try: it tries at
  // once. Before, the click waited out the rest of the wait (up to 10 s).
  firstWaits.wake();
  ui.joinButton.disabled = true;
  setJoinError("");
  try {
    identity ??= await loadIdentity();
    if (!ignoredLoaded) {
      ignored = await IgnoreStore.load(await openIgnoredRecord(), localStorage);
      ignoredLoaded = true;
    }
    let joining = await link;
    if (joining === null || joining.isOver) {
      link = connectFirst();
      joining = await link;
    }
    if (joining === null) return;
    const reply = await joining.register(name, identity, ledger);
    if (reply.t !== "welcome") {
      setJoinError(
        reply.t === "error"
          ? reply.text
          : `ERROR: Unexpected answer from the server (${reply.t})`,
      );
      // Selected, as a sign-in form does: the name typed next replaces the
      // refused one ("jojo" taken, "webby" typed: not "jojowebby").
      ui.name.focus();
      ui.name.select();
      return;
    }
    self = reply.name;
    localStorage.setItem(NAME_KEY, self);
    // The keys of this name (each name has its own), once it is ours.
    if (!e2eStarted) {
      e2eStarted = true;
      e2eWarning = await startE2e(identity, self);
    }
    ui.joinForm.hidden = true;
    ui.chat.hidden = false;
    emit({ type: "incoming", message: reply, text: "" });
    emit({
      type: "notice",
      text: `Your identity key: ${identity.fingerprint}`,
    });
    if (e2eWarning !== null) {
      emit({ type: "error", re: null, code: "e2e", text: e2eWarning });
    }
    use(joining);
    // Where the room stands: in an empty one nothing loaded tells the next
    // reconnection where to start (client/missed_public.ts).
    void missed.mark(historyPaging(joining), joining.welcomeLastId).catch(
      () => {},
    );
    // After the mark, which a server without `last_id` is asked for.
    older.loadIfNear();
    drawTarget();
    ui.line.focus();
  } catch (error) {
    setJoinError(`ERROR: ${messageOf(error)}`);
  } finally {
    ui.joinButton.disabled = false;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.name.value.trim();
  if (name !== "") void join(name);
});

/**
 * Why this page cannot work here, or null: browsers give a page WebCrypto
 * only in a secure context (https://, or http://localhost), and a page
 * loaded over plain http:// from another machine is not one.
 */
const NO_CRYPTO = globalThis.crypto?.subtle === undefined
  ? `ERROR: This browser lets a page encrypt only over https:// or on the machine itself, and this page came over plain http:// from ${host}, so it cannot connect. Open https://${host}/ instead (chat serve speaks both on its port), or use the terminal client (chat connect ${host})`
  : null;
if (NO_CRYPTO !== null) {
  document.body.classList.add("no-crypto");
  ui.trustNote.textContent = NO_CRYPTO;
  ui.key.open = true;
  ui.joinButton.disabled = true;
}

/**
 * Deletes what this browser keeps of its user (forget.ts), once they said
 * so, and starts the page afresh for whoever comes next.
 */
async function forgetMe(): Promise<void> {
  const who = self !== "" ? self : localStorage.getItem(NAME_KEY) ?? "";
  const you = who === "" ? "you" : who;
  const sure = confirm(
    `Forget ${you} in this browser? Your identity key, your end-to-end keys and your archive of private messages are deleted from this browser, and your name is no longer filled in: do this on a computer others use too. ${
      who === "" ? "Your name" : `The name ${who}`
    } stays bound to the deleted key, as does every other name signed in from this browser (one browser has one identity key): each can be signed in with again only after the host releases it (chat admin release).`,
  );
  if (!sure) return;
  ui.forget.disabled = true;
  leaveUser();
  // The page's other tabs hold the same user (signed in, or their name
  // filled in): they start afresh as well.
  forgetting.postMessage("forget");
  setStatus(`Forgetting ${you} in this browser…`);
  try {
    await forgetUser(
      localStorage,
      [NAME_KEY, IGNORED_KEY],
      () =>
        setStatus(
          "Waiting for the other tabs of this page to close, to forget you there too…",
        ),
    );
  } catch (error) {
    setStatus(`ERROR: ${messageOf(error)}`);
    return;
  }
  location.reload();
}

/**
 * Where a tab that forgets its user tells the page's other tabs (one
 * object: a channel is not told what it posts itself).
 */
const forgetting = new BroadcastChannel("chat-forget");

/**
 * Lets go of the user this page holds: no reconnecting (it would load, and
 * so make, a key again), no connection, no received files.
 */
function leaveUser(): void {
  quitting = true;
  // Nor, waiting for the end-to-end keys, take (and so open) them.
  e2eWait?.abort();
  e2eWait = null;
  retryNow();
  client?.abort();
  savable.releaseAll();
}

ui.forget.addEventListener("click", () => void forgetMe());
forgetting.onmessage = () => {
  leaveUser();
  location.reload();
};

// The protocol's limit, not the page's own (index.html says it too).
ui.name.maxLength = MAX_NAME_LENGTH;
ui.name.value = localStorage.getItem(NAME_KEY) ?? "";
ui.name.focus();
// Connect at once: the fingerprint is there to compare before joining.
link = connectFirst();

// Leaving the page (closed, or another address in the tab): the connection
// ends now, so the room sees the user leave. Chromium may keep a page it
// leaves in its back/forward cache, alive with its connection open (the
// user stayed "online" while gone, and their messages went to a page no one
// sees); a page brought back from that cache starts afresh.
addEventListener("pagehide", () => {
  quitting = true;
  retryNow();
  client?.abort();
  // A page kept in the back/forward cache would hold every received file
  // while no one sees it; one brought back starts afresh anyway.
  savable.releaseAll();
});
// Closing or reloading the tab while something is on its way (onItsWay)
// asks first, as /quit does; never when idle, nor once the user left
// (/quit, or forgot the user: the page reloads then). The browser asks in
// its own words.
addEventListener("beforeunload", (event) => {
  if (quitting) return;
  const { sent, unsent, queued: away, sending, receiving } = onItsWay();
  if (
    sent.size === 0 && unsent === 0 && away.length === 0 &&
    sending.length === 0 && receiving === 0
  ) return;
  event.preventDefault();
  // Browsers before preventDefault asked (Chromium 119) ask for this.
  (event as Event & { returnValue: unknown }).returnValue = true;
});
addEventListener("pageshow", (event) => {
  // A PageTransitionEvent; typed as a plain Event where the DOM's types
  // are not loaded (deno check src/).
  if ((event as Event & { persisted?: boolean }).persisted === true) {
    location.reload();
  }
});
