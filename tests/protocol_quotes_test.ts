/**
 * What docs/PROTOCOL.md quotes the server and the reference client saying
 * is what they say: each text is made by the code that sends it and looked
 * for in the document (whitespace compared as one space), as
 * tests/readme_quotes_test.ts does for README.md. A client writer matches
 * these texts against what a server sends; a wording changed in the code
 * and not in the document fails here.
 */

import assert from "node:assert/strict";
import { TOO_MANY_NEW, TOO_MANY_UNFINISHED } from "../src/server/admission.ts";
import {
  groupNameUserRefusal,
  lookalikeRefusal,
  OUTDATED_CLIENT,
} from "../src/server/identity_gate.ts";
import {
  TOO_MANY_NEW_NAMES,
  TOO_MANY_SIGN_INS,
} from "../src/protocol/sign_in_refusals.ts";
import { noWebPage } from "../src/server/web_assets.ts";
import { lookalikeWarning } from "../src/client/e2e_sessions.ts";
import { lookalikeGroupWarning } from "../src/client/lookalike_groups.ts";
import {
  asClause,
  CONNECTION_CLOSED,
  CONNECTION_LOST,
} from "../src/client/chat_client.ts";

const DOC = (await Deno.readTextFile(
  new URL("../docs/PROTOCOL.md", import.meta.url),
)).replace(/\s+/g, " ");

/** Asserts that PROTOCOL.md quotes `text`. */
function quoted(text: string): void {
  assert.ok(
    DOC.includes(text.replace(/\s+/g, " ")),
    `docs/PROTOCOL.md does not quote: ${text}`,
  );
}

Deno.test("PROTOCOL.md 1.1 quotes the reasons of a 503 as admission.ts words them", () => {
  quoted(`\`${TOO_MANY_NEW}\``);
  quoted(`\`${TOO_MANY_UNFINISHED}\``);
});

Deno.test("PROTOCOL.md 1.1 quotes the page a server started with --no-web answers with", () => {
  quoted(noWebPage("executable").trimEnd());
});

Deno.test("PROTOCOL.md 5.8 and 6.2 quote the sign-in refusals as the server words them", () => {
  quoted(`\`${TOO_MANY_NEW_NAMES}\``);
  quoted(`\`${TOO_MANY_SIGN_INS}\``);
});

Deno.test("PROTOCOL.md 6.2 quotes texts C, E and F as identity_gate.ts words them", () => {
  quoted(`C: ${OUTDATED_CLIENT}`);
  quoted(`E: ${lookalikeRefusal("<name>", "<other>")}`);
  quoted(`F: ${groupNameUserRefusal("<name>", "<name>")}`);
  quoted(`F: ${groupNameUserRefusal("<name>", "<group>")}`);
});

Deno.test("PROTOCOL.md 8 quotes the client's warning of a look-alike name as e2e_sessions.ts words it", () => {
  quoted(`\`${lookalikeWarning("a1ice", "alice")}\``);
});

Deno.test("PROTOCOL.md 8 quotes the client's warning of a look-alike group name as lookalike_groups.ts words it", () => {
  quoted(`\`${lookalikeGroupWarning("tearn", "team")}\``);
});

Deno.test("PROTOCOL.md 5.2 quotes the reference client's local answer to a request the connection's end cut off as chat_client.ts words it", () => {
  // notSent: the ending's brief reason, as the end of the sentence.
  quoted(`\`ERROR: Not sent: ${asClause(CONNECTION_LOST)}\``);
  quoted(`\`ERROR: Not sent: ${asClause(CONNECTION_CLOSED)}\``);
});
