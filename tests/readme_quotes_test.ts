/**
 * What README.md quotes the program saying is what it says: each text is
 * made by the code that prints it and looked for in the README, whose
 * prose may wrap a quote over several lines (whitespace is compared as one
 * space). A wording changed in the code and not in the README (or merged
 * into the README by hand and mistyped) fails here.
 */

import assert from "node:assert/strict";
import { offerQuestion } from "../src/client/consent.ts";
import { historyReplyText } from "../src/client/history_count.ts";
import { jsonHistoryCommand } from "../src/client/history_pages.ts";
import {
  filesAtQuit,
  unansweredAtLeaving,
  unansweredLine,
  unconfirmedAtQuit,
  unsentAtQuit,
} from "../src/client/leave_questions.ts";
import {
  atOnceNotice,
  awayNotice,
  heldNotice,
} from "../src/client/sending_places.ts";
import {
  STOPPED_AT_END,
  STOPPED_BY_YOU,
} from "../src/client/outgoing_files.ts";
import { TAKEN_BACK } from "../src/client/offer_withdrawal.ts";
import { lateRefusal } from "../src/client/unconfirmed_chat.ts";
import {
  TOO_MANY_NEW_NAMES,
  TOO_MANY_SIGN_INS,
} from "../src/server/sign_in.ts";
import { openNatsWarning } from "../src/server/cluster/node.ts";
import { lookalikeWarning } from "../src/client/e2e_sessions.ts";
import { plainLookalikeWarning } from "../src/client/plain_messages.ts";
import { lookalikeGroupWarning } from "../src/client/lookalike_groups.ts";
import { parseInput } from "../src/client/commands.ts";
import { formatTransfers } from "../src/client/transfers_view.ts";
import { offeredAgainLine } from "../src/client/offered_again.ts";
import { withLikelyName } from "../src/client/likely_name.ts";
import { parseCommandLine } from "../src/cli.ts";
import { PRESS_A_KEY, TAP_RETRY } from "../src/client/reconnect_status.ts";
import { firstConnectWait } from "../src/client/server_connect.ts";
import { tryingAgainLine } from "../src/client/first_connect_lines.ts";
import { finishingLine } from "../src/client/session_reconnect.ts";
import {
  CutInHandshakeError,
  HandshakeTimeoutError,
} from "../src/transport/secure_channel.ts";
import { HANDSHAKE_TIMEOUT_MS } from "../src/protocol/limits.ts";

const README = (await Deno.readTextFile(
  new URL("../README.md", import.meta.url),
)).replace(/\s+/g, " ");

/** Asserts that the README quotes `text` (between backticks, or within). */
function quoted(text: string): void {
  assert.ok(
    README.includes(text.replace(/\s+/g, " ")),
    `README.md does not quote: ${text}`,
  );
}

Deno.test("README quotes the questions and notes of leaving as leave_questions.ts words them", () => {
  quoted(`\`${unconfirmedAtQuit(1)}\``);
  quoted(`\`${unsentAtQuit(3)}\``);
  quoted(`\`${unansweredAtLeaving(1)}\``);
  quoted(`\`${unansweredLine("everyone")}\``);
  quoted(`\`${filesAtQuit(["notes.txt to carol"])}\``);
  quoted(`\`${filesAtQuit(["a.txt to jojo"])}\``);
});

Deno.test("README quotes the line a script says when its connection drops after its input ended, with its file under way", () => {
  quoted(`\`${finishingLine("big.bin")}\``);
});

Deno.test("README quotes the line said when a pending line's late answer is slow_down after later lines went", () => {
  quoted(`\`${lateRefusal}\``);
});

Deno.test("README quotes the question of an offer whose name keeps it from being opened", () => {
  const question = offerQuestion({
    t: "file_offer",
    xfer: 1,
    from: "sophia",
    name: "setup.zip",
    size: 2 * 1024 * 1024,
  });
  // The README leaves out the answers after `Accept?`.
  const asked = question.slice(0, question.indexOf(" [y]es"));
  assert.equal(
    asked,
    "sophia wants to send you setup.zip (2.0 MiB) (.zip: will be saved, not opened). Accept?",
  );
  quoted(`\`${asked} ...\``);
});

Deno.test("README quotes the end of a --json history with the JSON command that shows more", () => {
  const text = historyReplyText(
    "End of history for the public room (20 messages).",
    { shown: 20, unopened: 0, waiting: 0 },
    {
      kind: "paged",
      pages: 1,
      gaveUp: false,
      more: jsonHistoryCommand(undefined, 40),
    },
  );
  quoted(`\`${text}\``);
});

Deno.test("README quotes the refusals of an address's new names and sign-ins past their rates", () => {
  quoted(`\`${TOO_MANY_NEW_NAMES}\``);
  quoted(`\`${TOO_MANY_SIGN_INS}\``);
});

Deno.test("README quotes what is said of a 5th file to one person, which waits on the sender's side", () => {
  quoted(`\`${heldNotice("photo5.jpg", { to: "bob" })}\``);
});

Deno.test("README quotes what is said of a file the page sends while reconnecting", () => {
  quoted(`\`${awayNotice("notes.txt")}\``);
});

Deno.test("README quotes the warning of a cluster node whose NATS asks for no credentials", () => {
  quoted(openNatsWarning("10.0.0.5:4222"));
});

Deno.test("README quotes the warning of a name that reads like one known by another key", () => {
  quoted(lookalikeWarning("j0jo", "jojo"));
  quoted(plainLookalikeWarning("j0jo", "jojo"));
});

Deno.test("README quotes the warning of a group name that reads like one known end to end", () => {
  quoted(lookalikeGroupWarning("tearn", "team"));
});

Deno.test("README quotes what a command of another chat program is told", () => {
  const told = parseInput("/names");
  assert.equal(told?.kind, "invalid");
  quoted(`\`${told.kind === "invalid" ? told.message : ""}\``);
});

Deno.test("README quotes /transfers' lines for a held file waiting for its place and, once it has it, for its turn", () => {
  const [, place, turn] = formatTransfers([
    [5, { kind: "resend", id: 5, name: "photo5.jpg", to: "bob", why: "place" }],
    [6, { kind: "resend", id: 6, name: "photo6.jpg", to: "bob", why: "turn" }],
  ]);
  quoted(`\`${place!.trim()}\``);
  quoted(`\`${turn!.trim()}\``);
});

Deno.test("README quotes /transfers' line for a --json bot's file waiting for one of those under way at once to end", () => {
  const [, many] = formatTransfers([
    [9, { kind: "resend", id: 9, name: "f9.txt", to: "amy", why: "many" }],
  ]);
  quoted(`\`${many!.trim()}\``);
});

Deno.test("README quotes the reasons of a --json bot's file stopped before it was offered, and of an offer taken back", () => {
  quoted(`\`${STOPPED_BY_YOU}\``);
  quoted(`\`${STOPPED_AT_END}\``);
  quoted(`\`${TAKEN_BACK.reason}\``);
});

Deno.test("README quotes the line of a file not sent yet, to be offered again, as offered_again.ts words it", () => {
  quoted(offeredAgainLine("big.bin", { reconnected: true }));
  quoted(
    `\`${
      offeredAgainLine("big.bin", { reason: "User 'jojo' is not online" })
    }\``,
  );
  quoted(offeredAgainLine("big.bin", { reason: "jojo disconnected" }));
});

Deno.test("README quotes the line of a file that waits for one of the 8 under way at once, as sending_places.ts words it", () => {
  quoted(`\`${atOnceNotice("notes.txt")}\``);
});

Deno.test("README quotes the name likely meant added to the answer of a private message to a name nobody online has", () => {
  const reply = withLikelyName(
    { kind: "msg", to: "jojp", text: "hi" },
    {
      t: "error",
      re: 1,
      code: "no_such_user",
      text: "ERROR: User 'jojp' is not online.",
    },
    { users: ["jojo", "nana"], groups: [] },
    "sophia",
  );
  quoted(`\`${reply.t === "error" ? reply.text : ""}\``);
});

Deno.test("README quotes the group likely meant added to the answer of /join of a group that does not exist", () => {
  const reply = withLikelyName(
    { kind: "join", group: "hahq" },
    {
      t: "error",
      re: 1,
      code: "no_such_group",
      text: "ERROR: Group 'hahq' does not exist.",
    },
    { users: [], groups: ["haha"] },
    "sophia",
  );
  quoted(`\`${reply.t === "error" ? reply.text : ""}\``);
});

Deno.test("README quotes what chat connect without a host, and with a key without --pub, and chat serve with a key without --key, say", () => {
  const cases = [
    ["connect"],
    ["connect", "192.168.1.104", "public.pem"],
    ["serve", "private.pem"],
  ];
  for (const args of cases) {
    const command = parseCommandLine(args);
    assert.equal(command.cmd, "exit");
    quoted(
      `$ chat ${args.join(" ")} ${
        command.cmd === "exit" ? command.output : ""
      }`,
    );
  }
});

Deno.test("README quotes how a reconnection's wait is cut short, with keys and on a touch screen", () => {
  quoted(`"${PRESS_A_KEY}"`);
  quoted(`"${TAP_RETRY}"`);
});

Deno.test("README quotes why a first connection waits, and the line that counts each wait down", () => {
  for (
    const error of [
      new CutInHandshakeError(),
      new HandshakeTimeoutError(HANDSHAKE_TIMEOUT_MS),
    ]
  ) {
    const wait = firstConnectWait(error, "...", 1);
    assert.ok(wait !== null, String(error));
    quoted(`"${wait.text}"`);
  }
  quoted(`"${tryingAgainLine(4, true)}"`);
});
