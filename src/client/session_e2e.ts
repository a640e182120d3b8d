/**
 * A session's end-to-end messages (issue 17): the private and group
 * sessions, opening what comes in its turn (in_turn.ts) and showing it, or
 * why it could not be opened, and the secrets that come with them (file
 * keys, group chains).
 *
 * @module
 */

import { unarrivedEvents } from "./unarrived_events.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { nameKey } from "../protocol/limits.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { type ChatClient, HELD, type Held } from "./chat_client.ts";
import { AwaitingKeys, UnopenedHistory } from "./awaiting_keys.ts";
import type { OwnKeysOnServer } from "./own_keys_on_server.ts";
import type { Keyring } from "./e2e_keys.ts";
import {
  type E2ePrivate,
  E2eSessions,
  type IdentityBook,
  type Opened,
} from "./e2e_sessions.ts";
import type { E2eState } from "./e2e_state.ts";
import { FileKeyInbox } from "./file_key_share.ts";
import { keepingFileKeys, tookFileKey } from "./early_file_keys.ts";
import {
  PlainGroupWarnings,
  PlainLookalikeWarnings,
  plainPrivateRefusal,
  plainRefusedWith,
} from "./plain_messages.ts";
import {
  type E2eGroup,
  type GroupOpened,
  GroupSessions,
} from "./group_sessions.ts";
import {
  emitOpenedLines,
  emitOrHold,
  emitPlainRefusal,
  emitRefusedGroup,
  type HistoryCount,
} from "./history_count.ts";
import { type InTurn, laneOf } from "./in_turn.ts";
import { e2eLineEvent, type SessionEvent } from "./session_events.ts";
import type { E2eLine } from "./e2e_lines.ts";

/**
 * The keyring to publish and where new keys are saved first; the sessions,
 * archive and verifications (e2e_state.ts) and identity keys seen per name.
 */
export interface E2eKeys {
  keyring: Keyring;
  save: (keyring: Keyring) => Promise<void>;
  state: E2eState;
  /**
   * `warn` shows a line should the state be made smaller to stay readable
   * (e2e_store.ts `saveE2eStateTo`).
   */
  saveState: (state: E2eState, warn: (line: string) => void) => Promise<void>;
  identities: IdentityBook;
  /**
   * Whether the server took these keys (publish_keys.ts tells it): the
   * user's own name counts as using them only then. Absent: it does.
   */
  onServer?: OwnKeysOnServer;
}

/**
 * What a signed-in name gets of its end-to-end keys: its own, or none
 * because another process signed in as that name has them (e2e_lock.ts);
 * then private messages are refused rather than sent in the clear.
 */
export type E2eOpening =
  | { kind: "keys"; keys: E2eKeys }
  | { kind: "elsewhere"; warning: string; pid: number | null };

/** The process that has this name's end-to-end keys: its pid, if known. */
export interface E2eHolder {
  pid: number | null;
}

export interface SessionE2eOptions {
  /** Absent: no keys, and what comes end to end is said to be unreadable. */
  keys: E2eKeys | undefined;
  /**
   * Without keys because another process signed in as this name has them
   * (e2e_lock.ts): what comes end to end is left unacknowledged, for that
   * process to get once it is back, rather than lost.
   */
  elsewhere?: E2eHolder | null;
  emit: (event: SessionEvent) => void;
  /** Where what comes is shown, in the order it came. */
  order: InTurn;
  /**
   * Shows a message opened, as any other chat message; counted in `count`
   * (a history request's) when shown.
   */
  show: (message: ServerMessage, text: string, count?: HistoryCount) => void;
  /** The connection now. */
  client: () => ChatClient;
  /**
   * Whether the user /ignored `name`: errors and notices their end-to-end
   * messages cause are not said (E2eSessionsOptions `ignored`).
   */
  ignored: (name: string) => boolean;
}

export function sessionE2e(options: SessionE2eOptions) {
  const { keys, emit, order, show, client, ignored, elsewhere = null } =
    options;
  // In the lane of `from`, the sender, or the one of history answers
  // (`asked`: in_turn.ts laneOf).
  const inTurn = (
    from: string,
    run: () => void | Promise<void>,
    asked = false,
  ) => order.run(run, laneOf(from, asked));
  const warn = (line: string) => emit(e2eErrorLine(line));
  /** Says `line` as an end-to-end error now, or with the history answer. */
  const warnOrHold = (line: string, count: HistoryCount | undefined) =>
    emitOrHold(emit, e2eErrorLine(line), count);
  // Names in these lines may come from the server: made safe here.
  const notify = (lines: readonly E2eLine[]) => {
    for (const line of lines) {
      emit(e2eLineEvent(line, sanitizeForTerminal(line.text)));
    }
  };
  // Messages a chain skipped that never came (the host may drop them).
  const unarrived = unarrivedEvents({ emit, inTurn, ignored });
  // Private messages end to end (issue 17), when there are keys.
  const e2e = keys === undefined ? null : new E2eSessions({
    unarrived,
    keyring: keys.keyring,
    saveKeyring: keys.save,
    state: keys.state,
    saveState: (state) => keys.saveState(state, warn),
    identities: keys.identities,
    ignored,
    notify,
  });
  // File keys that came end to end, until their offers ask for them.
  const fileKeys = new FileKeyInbox();
  const usesE2e = (server: string) => (name: string) =>
    keys?.identities.known(server, name) != null;
  // Group messages end to end (issue 17 item 3), when there are keys.
  const e2eKeys = keys;
  const groupSessions = e2e === null || e2eKeys === undefined
    ? null
    : new GroupSessions({
      unarrived,
      state: e2eKeys.state.groups,
      save: () => e2eKeys.saveState(e2eKeys.state, warn),
      sendSecret: (...args) => e2e.sendSecret(...args),
      knownKey: (server, name) =>
        e2eKeys.identities.known(server, name) ?? null,
      ignored,
      notify,
      // Settles once shown, in turn: acknowledged only then.
      late: (opened, from) => inTurn(from, () => showGroupOpened(opened)),
      // Private messages are opened in turn (`inTurn`): a sender key sent
      // before a group message is delivered once those before it are (its
      // sender's: the key comes from them, live or in a history answer).
      before: (from) => order.settledFrom(from),
      // A sender key held with its sender's new identity key holds the
      // message too, until /trust (showOpened, kind "group").
      holdUntilTrusted: (...args) => e2e.holdGroup(...args),
    });
  /**
   * Shows an opened end-to-end message, or why it was not; counted in
   * `count` when it answers a history request.
   */
  const showOpened = (
    opened: Opened,
    count?: HistoryCount,
  ): Promise<void> | undefined => {
    switch (opened.kind) {
      case "message":
        show(opened.message, opened.text, count);
        // Its sender's time and the server's differ, or it came out of
        // order (sender_time.ts).
        emitOpenedLines(
          emit,
          (opened.warnings ?? []).map(sanitizeForTerminal),
          count,
        );
        return;
      case "refused":
        // No lines: a secret that was taken before, not a message.
        if (count !== undefined && opened.lines.length > 0) count.unopened++;
        emitOpenedLines(emit, opened.lines.map(sanitizeForTerminal), count);
        return;
      case "secret":
        // A file's key, for the offer that names it (file_key_share.ts), or
        // a member's chain for a group (group_sessions.ts).
        if (tookFileKey(fileKeys, opened)) return;
        {
          // Acknowledged once kept (deliverKey), not before.
          const kept = groupSessions?.deliverKey(
            client(),
            opened.from,
            opened.label,
            opened.secret,
            opened.taken,
          );
          if (kept) return kept;
        }
        opened.taken();
        // Nothing said of what someone ignored sends.
        if (ignored(opened.from)) return;
        emit({
          type: "notice",
          text: sanitizeForTerminal(
            `${opened.from} sent a secret for '${opened.label}', which this client has no use for yet`,
          ),
        });
        return;
      case "group":
        // Held until /trust accepted its sender's key, which came with the
        // secrets before it (delivered above, so queued before it).
        void openGroup(client(), opened.message, opened.body);
        return;
      default: {
        const unreachable: never = opened;
        return unreachable;
      }
    }
  };
  /**
   * Says, in turn, that `what` is end to end and this session cannot open
   * it: a session started without any key store (runSession without `e2e`),
   * which never gets keys. Acknowledged, as a message that does not open
   * with the keys is: left unacknowledged it would come back at every
   * sign-in of such a session and hold its conversation's cursor for good.
   * One whose keys another process has is left for it (`leaveFor`).
   */
  const noKeysFor = (
    from: string,
    what: string,
    count: HistoryCount | undefined,
    asked: boolean,
  ) =>
    inTurn(from, () => {
      if (count !== undefined) count.unopened++;
      warnOrHold(
        `ERROR: ${what} is end to end, and this session has no end-to-end keys to open it`,
        count,
      );
    }, asked);
  /** The end-to-end messages left for the keys this session. */
  const awaitingKeys = new AwaitingKeys();
  /** The end-to-end messages in history answers it could not try. */
  const unopenedHistory = new UnopenedHistory();
  /**
   * Leaves a message for the process that has the keys (awaiting_keys.ts
   * `Openable`, kind "await"): `HELD`, so it is never acknowledged, and
   * /quit does not wait for it (ChatClient `Held`): the server keeps it for that
   * process, or for this name's next sign-in with the keys. Acknowledged
   * here it would be lost, since this session cannot open it and the server
   * would not send it again. A message that cannot be opened with the keys
   * either (corrupt, hostile) is acknowledged there, as always. One line, in
   * turn, says what waits for a burst of them (what waited at the sign-in),
   * not a line each.
   *
   * A copy in the answer to a history request (`asked`, ChatClient
   * `answers`) is not left: it is not what waits (the server keeps that
   * anyway, or delivered it already), and never acknowledged it would hold
   * back its conversation's cursor, and so every later message of it, for
   * as long as the connection lasts. It is counted, said in one line with
   * the rest of the answer, and acknowledged.
   */
  const leaveFor = (
    holder: E2eHolder,
    from: string,
    count: HistoryCount | undefined,
    asked: boolean,
  ): Promise<void> | Held => {
    if (asked) {
      const due = unopenedHistory.add(from);
      const counted = inTurn(from, () => {
        if (count !== undefined) count.unopened++;
        if (!due) return;
        emitOrHold(emit, {
          type: "notice",
          text: sanitizeForTerminal(
            unopenedHistory.line({ kind: "other_process", pid: holder.pid }),
          ),
        }, count);
      }, true);
      // Acknowledged once its line is counted and held with the answer.
      return counted;
    }
    const due = awaitingKeys.add(from);
    inTurn(from, () => {
      if (count !== undefined) count.unopened++;
      if (!due) return;
      emitOrHold(emit, {
        type: "notice",
        text: sanitizeForTerminal(
          awaitingKeys.line({ kind: "other_process", pid: holder.pid }),
        ),
      }, count);
    });
    return HELD;
  };
  const openE2e = (
    client: ChatClient,
    message: E2ePrivate,
    body: Uint8Array,
    count?: HistoryCount,
    asked = false,
  ) => {
    if (e2e === null) {
      const what = `A private message from ${message.from}`;
      if (elsewhere !== null) {
        return leaveFor(elsewhere, message.from, count, asked);
      }
      noKeysFor(message.from, what, count, asked);
      return;
    }
    // A file's key is kept at once (connection_files.ts `hold` waits for it).
    const opened = keepingFileKeys(e2e.open(client, message, body), fileKeys);
    // Settles once it is shown, kept held, or shown as an error: only then
    // is it acknowledged (chat_client.ts MessageListener).
    const dealt = Promise.withResolvers<void>();
    inTurn(message.from, async () => {
      let kept: Promise<void> | undefined;
      try {
        kept = showOpened(await opened, count);
      } finally {
        // A sender key: once kept, without holding up what comes after.
        if (kept === undefined) dealt.resolve();
        else void kept.then(dealt.resolve);
      }
    }, asked);
    return dealt.promise;
  };

  /**
   * Before a group line (`message`), plain or end to end, the warning that
   * its group's name reads like another group this client knows end to end
   * (lookalike_groups.ts), the first in this session for that name.
   */
  const warnLookalikeGroup = (
    message: ServerMessage,
    count?: HistoryCount,
  ): void => {
    if (message.t !== "group" || groupSessions === null) return;
    const warning = groupSessions.lookalikeWarning(
      client().serverFingerprint,
      message.group,
    );
    if (warning === null) return;
    warnOrHold(warning, count);
  };

  /**
   * Shows an opened end-to-end group message, or why it was not; counted in
   * `count` when it answers a history request.
   */
  const showGroupOpened = (opened: GroupOpened, count?: HistoryCount) => {
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
        emitRefusedGroup(emit, opened.lines.map(sanitizeForTerminal), count);
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
  };
  const openGroup = (
    client: ChatClient,
    message: E2eGroup,
    body: Uint8Array,
    count?: HistoryCount,
    asked = false,
  ) => {
    if (groupSessions === null) {
      const what = `A group message from ${message.from} in ${message.group}`;
      if (elsewhere !== null) {
        return leaveFor(elsewhere, message.from, count, asked);
      }
      noKeysFor(message.from, what, count, asked);
      return;
    }
    const opened = groupSessions.open(client, message, body);
    // As openE2e; one waiting for its sender key settles with its outcome.
    const dealt = Promise.withResolvers<void>();
    inTurn(message.from, async () => {
      const outcome = await opened.catch((error) => {
        dealt.resolve();
        throw error;
      });
      try {
        showGroupOpened(outcome, count);
      } finally {
        if (outcome.kind === "waiting") outcome.settled.then(dealt.resolve);
        else dealt.resolve();
      }
    }, asked);
    return dealt.promise;
  };

  const plainGroupWarnings = new PlainGroupWarnings();
  const plainLookalikes = new PlainLookalikeWarnings();

  /**
   * Shows a plain chat message (`show`), unless it is a private message
   * with someone known to use end-to-end keys, which is refused with an
   * error (counted in `count` as a message not opened); a group message
   * from such a member is followed by a warning, the first in its group,
   * and one from a look-alike of such a name is preceded by one, the first
   * from that name (plain_messages.ts). Call it in turn, as `show`.
   */
  const showPlain = (
    message: ServerMessage,
    show: () => void,
    count?: HistoryCount,
  ): void => {
    const server = client().serverFingerprint;
    // The user's own name too, with keys the server took: this client
    // sends end to end then (notes to oneself included), and history shows
    // a plain line of its name worded as sent, the host's words passing
    // for the user's own. Keys the server refused are none to it: a note
    // to oneself then goes in the clear, and is the user's own.
    const self = client().name ?? "";
    const ownKeys = keys !== undefined && (keys.onServer?.usesKeys ?? true);
    const known = (name: string) =>
      usesE2e(server)(name) ||
      (ownKeys && self !== "" && nameKey(name) === nameKey(self));
    const lookalike = plainLookalikes.before(
      message,
      known,
      // No key to pass over: a plain message names none.
      (name) => keys?.identities.lookalikeOf?.(server, name, "") ?? null,
    );
    if (lookalike !== null) {
      warnOrHold(lookalike, count);
    }
    warnLookalikeGroup(message, count);
    const refusal = plainPrivateRefusal(message, known, self);
    if (refusal !== null && message.t === "private") {
      emitPlainRefusal(
        emit,
        e2eErrorLine(refusal),
        { other: plainRefusedWith(message, self), ts: message.ts },
        count,
      );
      return;
    }
    show();
    const warning = plainGroupWarnings.after(message, known);
    if (warning === null) return;
    warnOrHold(warning, count);
  };

  return {
    e2e,
    unarrived,
    groupSessions,
    fileKeys,
    usesE2e,
    showOpened,
    openE2e,
    openGroup,
    showPlain,
  };
}

/** `line` as an end-to-end error event, made safe for the terminal. */
function e2eErrorLine(line: string): SessionEvent {
  return {
    type: "error",
    re: null,
    code: "e2e",
    text: sanitizeForTerminal(line),
  };
}
