/**
 * A chat client in its own process, for tests that freeze it with SIGSTOP so
 * that it stops reading its socket.
 * Usage: frozen_client.ts URL SPKI_BASE64 NAME [IDENTITY_PEM_FILE]
 */

import { ChatClient } from "../../src/client/chat_client.ts";
import { fromBase64 } from "../../src/crypto/bytes.ts";
import { importIdentityPem } from "../../src/crypto/identity.ts";

const [url, spki, name, identityFile] = Deno.args;
const client = await ChatClient.connect(url!, {
  pinnedSpki: fromBase64(spki!),
});
const identity = identityFile === undefined
  ? undefined
  : await importIdentityPem(await Deno.readTextFile(identityFile));
const reply = await client.register(name!, identity);
console.log(
  reply.t === "welcome" ? "ready" : `failed ${JSON.stringify(reply)}`,
);
client.onMessage(() => {});
const ending = await client.ended;
console.log(`ended ${JSON.stringify(ending)}`);
