/**
 * A real `chat serve` on every interface, keeping nothing, and where the
 * machine's LAN clients reach it (the address its start-up hint names):
 * for tests of the per-address limits, which loopback is not held to
 * (address_budget_flags_test.ts, trusted_proxy_test.ts).
 */

import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import { ChatProcess, makeKeys } from "./process.ts";

/** A running `chat serve`, its port, and where LAN clients reach it. */
export interface LanServer extends AsyncDisposable {
  readonly process: ChatProcess;
  readonly port: number;
  /** ws://LAN-ADDRESS:PORT, or null on a machine with only loopback. */
  readonly lanUrl: string | null;
  readonly spki: Uint8Array;
}

/** One key pair for a test file's servers, made once per prefix. */
const keys = new Map<string, Promise<string>>();

function keyDir(prefix: string): Promise<string> {
  let dir = keys.get(prefix);
  if (dir === undefined) {
    dir = (async () => {
      const made = await Deno.makeTempDir({ prefix });
      globalThis.addEventListener("unload", () => {
        Deno.removeSync(made, { recursive: true });
      });
      await makeKeys(made);
      return made;
    })();
    keys.set(prefix, dir);
  }
  return dir;
}

/**
 * `chat serve --host 0.0.0.0 --port 0 --data :memory: --no-web` with
 * `flags`, its keys in a temporary folder named by `prefix`; its LAN
 * address read from the connect command it prints.
 */
export function serveOnLan(
  prefix: string,
  ...flags: string[]
): Promise<LanServer> {
  return start(prefix, ["--no-web", ...flags]);
}

/** The same keeping its data in the folder `data` (kept across restarts). */
export function serveOnLanIn(
  prefix: string,
  data: string,
  ...flags: string[]
): Promise<LanServer> {
  return start(prefix, ["--no-web", ...flags], data);
}

/**
 * The same serving the web page (over https:// too, with a certificate made
 * for the run and kept nowhere).
 */
export function serveWebOnLan(
  prefix: string,
  ...flags: string[]
): Promise<LanServer> {
  return start(prefix, flags);
}

async function start(
  prefix: string,
  flags: string[],
  data = ":memory:",
): Promise<LanServer> {
  const dir = await keyDir(prefix);
  const process = new ChatProcess([
    "serve",
    "--key",
    `${dir}/private.pem`,
    "--host",
    "0.0.0.0",
    "--port",
    "0",
    "--data",
    data,
    ...flags,
  ]);
  const dispose = async () => {
    process.kill();
    await process.finish();
  };
  try {
    const [, port] = await process.waitFor(
      /listening on ws:\/\/0\.0\.0\.0:(\d+)/,
    );
    const [, target] = await process.waitFor(
      / {4}deno task connect (\S+) --pub/,
    );
    // A machine with no network but loopback prints a placeholder.
    const lan = /^[\d.]+:\d+$/.test(target!) && !target!.startsWith("127.");
    const spki = (await importPublicKeyPem(
      await Deno.readTextFile(`${dir}/public.pem`),
    )).spki;
    return {
      process,
      port: Number(port),
      lanUrl: lan ? `ws://${target}` : null,
      spki,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
