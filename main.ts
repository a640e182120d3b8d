/**
 * `chat`: peer-hosted, encrypted LAN chat.
 *
 *     chat keygen [--bits 3072] [--out keys] [--force]
 *     chat serve [--key keys/private.pem] [--host 0.0.0.0] [--port 8767]
 *     chat connect HOST [--port 8767] [--pub keys/public.pem] [--user NAME]
 *
 * Parses the command line, runs the command, and is the only caller of Deno.exit.
 */

import {
  type CliCommand,
  DEFAULT_PRIVATE_KEY,
  DEFAULT_PUBLIC_KEY,
  parseCommandLine,
} from "./src/cli.ts";
import { runSession } from "./src/client/session.ts";
import { parseTarget } from "./src/client/target.ts";
import { openTerminal } from "./src/client/terminal.ts";
import {
  keyPairExists,
  readPrivateKeyFile,
  readPublicKeyFile,
  writeKeyPair,
} from "./src/crypto/key_files.ts";
import { generateRsaKeyPair } from "./src/crypto/keys.ts";
import { parseOpenWith } from "./src/files/open.ts";
import { defaultDownloadsDir } from "./src/files/save.ts";
import { startServer } from "./src/server/serve.ts";
import { messageOf } from "./src/transport/secure_channel.ts";

async function keygen(
  command: Extract<CliCommand, { cmd: "keygen" }>,
): Promise<number> {
  let force = command.force;
  if (!force && await keyPairExists(command.privatePath, command.publicPath)) {
    if (!Deno.stdin.isTerminal()) {
      console.error(
        `chat: ${command.privatePath} or ${command.publicPath} already exists; use --force to replace them`,
      );
      return 1;
    }
    const answer = prompt("Do you want to create new key pairs? (yes/no):");
    if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
      console.log("Keeping the existing keys.");
      return 0;
    }
    force = true;
  }
  const pair = await generateRsaKeyPair(command.bits);
  await writeKeyPair({
    privatePath: command.privatePath,
    publicPath: command.publicPath,
    privatePem: pair.privatePem,
    publicPem: pair.publicPem,
    force,
  });
  console.log(`Private key saved to ${command.privatePath}`);
  console.log(`Public key saved to ${command.publicPath}`);
  console.log(`Fingerprint: ${pair.fingerprint}`);
  return 0;
}

async function serve(
  command: Extract<CliCommand, { cmd: "serve" }>,
): Promise<number> {
  if (
    command.keyPathIsDefault &&
    !await keyPairExists(command.keyPath, DEFAULT_PUBLIC_KEY)
  ) {
    // First run just works: make the default key pair and say where it is.
    const pair = await generateRsaKeyPair(3072);
    await writeKeyPair({
      privatePath: DEFAULT_PRIVATE_KEY,
      publicPath: DEFAULT_PUBLIC_KEY,
      privatePem: pair.privatePem,
      publicPem: pair.publicPem,
      force: false,
    });
    console.log(
      `No key found; created ${DEFAULT_PRIVATE_KEY} and ${DEFAULT_PUBLIC_KEY}`,
    );
  }
  const { privateKey, publicSpki } = await readPrivateKeyFile(command.keyPath);
  let server;
  try {
    server = await startServer({
      hostname: command.host,
      port: command.port,
      privateKey,
      publicSpki,
      limits: { maxFileBytes: command.maxFileBytes },
      connectionLimits: command.connectionLimits,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Port ${command.port} is already in use; choose another with --port`,
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new Error(
        `Cannot listen on ${command.host}: no such address on this machine`,
      );
    }
    throw error;
  }
  console.log(
    `WebSocket server started and listening on ws://${command.host}:${server.port}`,
  );
  console.log(`Server key fingerprint: ${server.fingerprint}`);
  console.log(
    `Clients connect with: chat connect <this machine's IP> --pub <a copy of the public key>`,
  );

  const stop = () => {
    console.log("Shutting down...");
    server.shutdown().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  return 0;
}

async function connect(
  command: Extract<CliCommand, { cmd: "connect" }>,
): Promise<number> {
  const url = parseTarget(command.target, command.port);
  const { spki } = await readPublicKeyFile(command.pubPath);
  const terminal = openTerminal();
  return await runSession({
    url,
    pinnedSpki: spki,
    user: command.user,
    terminal,
    reconnect: command.reconnect,
    files: {
      downloadsDir: command.downloads ?? defaultDownloadsDir(),
      maxFileBytes: command.maxFileBytes,
      // A script's received files are opened only when it asks (--open-with).
      open: command.open && (terminal.interactive || command.openWith !== null),
      openWith: command.openWith === null
        ? null
        : parseOpenWith(command.openWith),
    },
  });
}

async function main(args: string[]): Promise<number> {
  const command = parseCommandLine(args);
  try {
    switch (command.cmd) {
      case "exit":
        if (command.code === 0) console.log(command.output.trimEnd());
        else console.error(command.output.trimEnd());
        return command.code;
      case "keygen":
        return await keygen(command);
      case "serve":
        return await serve(command);
      case "connect":
        return await connect(command);
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  } catch (error) {
    // Users get one line they can act on, not a stack trace.
    console.error(`chat: ${messageOf(error)}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
