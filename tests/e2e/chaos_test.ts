/**
 * Exactly once under chaos, as users use it (docs/PROTOCOL.md, "Delivery"
 * and "Sending once"; docs/SCALING.md): real `chat serve` processes (one,
 * then two `--cluster` nodes on a real nats-server), real `chat connect
 * --json` clients, each behind a TCP proxy of its own, sending a numbered
 * mix of public, private and group lines while the test kills the server
 * (or a node) with kill -9 and starts it again, freezes it for 0.5 to 13 s
 * (SIGSTOP, then SIGCONT: a process swapped out or a machine paused), cuts
 * and stalls the clients' connections, and restarts clients (quitting or
 * killed). Then
 * every line a sender was told was sent has been shown once to each of its
 * recipients, in the sender's order per conversation, nothing else was
 * shown, and no line its sender was told failed was shown.
 *
 * The seed is random; a failure names it, and `CHAT_CHAOS_SEED=N` plays
 * the same choices again (the timing is the machine's); `CHAT_CHAOS_MS`
 * sets how long the chaos lasts (10 s). A private or group line a killed
 * client had shown may come again, as history, to its next process
 * (docs/PROTOCOL.md, "A new client process"); public lines are checked as
 * complete only for the clients never restarted (a new process is not sent
 * what was said before it).
 */

import { join } from "node:path";
import { ChaosProxy } from "../_helpers/chaos_proxy.ts";
import {
  Changes,
  type Kind,
  Member,
  missing,
  violations,
} from "../_helpers/chaos_members.ts";
import { Rng } from "../_helpers/fuzz.ts";
import {
  type ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { natsServerPath } from "../_helpers/nats.ts";
import { Cluster } from "../_helpers/cluster.ts";

/** How long the chaos lasts, in ms; then everything settles. */
const CHAOS_MS = Number(Deno.env.get("CHAT_CHAOS_MS") ?? 10_000);
const MEMBERS = 5;
/** Members 0 to 2 run all along: every public line is theirs to see. */
const STEADY = 3;
const GROUP = "crew";
/** All clients come from 127.0.0.1: the per-address rate is not the point. */
const SERVE_LIMITS = ["--rate-per-address", "0", "--burst-per-address", "0"];

const NATS = await natsServerPath();

function seed(): number {
  const given = Deno.env.get("CHAT_CHAOS_SEED");
  return given === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(given);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the chaos acts on: the server side, restarted by `crash`. */
interface Servers {
  /** Kills one server (node) with kill -9 and starts it again, on its port. */
  crash(rng: Rng): Promise<string>;
  /**
   * Stops one server (node) with SIGSTOP for `ms`, then lets it go on with
   * SIGCONT: its sockets stay open, nothing is read or answered meanwhile.
   */
  freeze(rng: Rng, ms: number): Promise<string>;
  /** What the servers wrote, for a failure. */
  output(): string;
}

/** One run: members on `addresses`, chaos, settling, the check. */
async function play(
  rng: Rng,
  dir: string,
  servers: Servers,
  addresses: (member: number) => { proxies: ChaosProxy[]; list: string },
): Promise<void> {
  const changes = new Changes();
  const names = Array.from({ length: MEMBERS }, (_, i) => `m${i}`);
  const proxies: ChaosProxy[][] = [];
  const members = names.map((name, i) => {
    const { proxies: mine, list } = addresses(i);
    proxies.push(mine);
    return new Member({
      name,
      addresses: list,
      publicKey: join(dir, "public.pem"),
      configHome: join(dir, `${name}-config`),
      changes,
    });
  });
  const log: string[] = [];
  const started = Date.now();
  const note = (what: string) =>
    log.push(`${what} (${new Date().toISOString().slice(11, 23)})`);
  const stalled = new Set<ChaosProxy>();
  try {
    await Promise.all(members.map((member) => member.start()));
    const [first, ...others] = members;
    const created = await first!.ask({ cmd: "create", group: GROUP });
    if (created.type !== "ok") throw new Error(JSON.stringify(created));
    for (const member of others) {
      // On a cluster the group reaches the other node through its bucket.
      for (let tries = 0;; tries++) {
        const joined = await member.ask({ cmd: "join", group: GROUP });
        if (joined.type === "ok") break;
        if (tries > 50) throw new Error(JSON.stringify(joined));
        await sleep(100);
      }
    }

    // Everyone talks, each at 3 to 8 lines a second.
    let talking = true;
    const talk = members.map(async (member, i) => {
      const mine = new Rng(rng.seed + i + 1);
      while (talking) {
        const roll = mine.int(3);
        const kind: Kind = roll === 0
          ? "public"
          : roll === 1
          ? "private"
          : "group";
        const to = names.filter((name) => name !== member.name)[mine.int(4)];
        await member.send(kind, GROUP, kind === "private" ? to : undefined);
        await sleep(mine.range(120, 350));
      }
    });

    const end = Date.now() + CHAOS_MS;
    while (Date.now() < end) {
      await sleep(rng.range(300, 1200));
      const who = rng.int(MEMBERS);
      const member = members[who]!;
      const roll = rng.int(100);
      if (roll < 25) {
        note(`cut ${member.name}`);
        for (const proxy of proxies[who]!) proxy.cut();
      } else if (roll < 45) {
        const ms = rng.range(300, 2500);
        note(`stall ${member.name} ${ms} ms`);
        for (const proxy of proxies[who]!) {
          proxy.stall();
          stalled.add(proxy);
        }
        await sleep(ms);
        for (const proxy of proxies[who]!) proxy.resume();
      } else if (roll < 60) {
        note(await servers.crash(rng));
      } else if (roll < 70) {
        // One freeze in four outlasts the clients' wait for an answer
        // (SEND_WAIT_MS, 10 s): their queues go on past a line whose answer
        // comes when the server wakes.
        const long = rng.int(4) === 0;
        const ms = long ? rng.range(11_000, 13_000) : rng.range(500, 4000);
        note(await servers.freeze(rng, ms));
      } else {
        // Only the members that need not see every public line restart.
        const restarted = members[STEADY + rng.int(MEMBERS - STEADY)]!;
        const kill = roll < 85;
        note(`${kill ? "kill -9" : "quit"} ${restarted.name}`);
        await (kill ? restarted.kill() : restarted.quit(30_000));
        await restarted.start();
      }
    }
    talking = false;
    await Promise.all(talk);
    note("settling");
    for (const proxy of stalled) proxy.resume();

    const complete = new Set(names.slice(0, STEADY));
    await changes.until(
      () => members.every((member) => member.pending === 0),
      () =>
        `every answer (${
          members.map((m) =>
            `${m.name}: ${m.pending}${
              m.pending === 0 || m.lastAnswer === 0
                ? ""
                : ` pending, the last answer ${
                  Date.now() - m.lastAnswer
                } ms ago`
            }`
          ).join(", ")
        })`,
      30_000,
    );
    await changes.until(
      () => missing(members, complete).length === 0,
      () => `every line shown: ${missing(members, complete).join("; ")}`,
      30_000,
    ).catch(() => {}); // Said below with the rest.
    // A round trip each: a second copy on its way has come by now.
    await Promise.all(members.map((member) => member.ask({ cmd: "list" })));
    const broken = violations(members, complete);
    if (broken.length > 0) {
      throw new Error(
        `${broken.length} broken:\n${broken.slice(0, 30).join("\n")}`,
      );
    }
    console.log(
      `seed ${rng.seed}: ${
        members.reduce((sum, m) => sum + m.lines.length, 0)
      } lines, ${members.reduce((sum, m) => sum + m.shown.length, 0)} shown; ${
        log.join(", ")
      }`,
    );
    await Promise.all(members.map((member) => member.quit()));
  } catch (error) {
    await Promise.all(members.map((member) => member.kill()));
    const transcripts = members.flatMap((member) => member.transcript);
    const saved = join(
      await Deno.makeTempDir({ prefix: "chat-chaos-failed-" }),
      "log",
    );
    await Deno.writeTextFile(
      saved,
      [...transcripts, "--- servers", servers.output()].join("\n"),
    );
    throw new Error(
      `seed ${rng.seed} (CHAT_CHAOS_SEED=${rng.seed}, clients' output in ${saved}), ${
        Date.now() - started
      } ms in: ${(error as Error).message}\nwhat happened: ${log.join(", ")}`,
      { cause: error },
    );
  } finally {
    await Promise.all(members.map((member) => member.kill()));
    for (const mine of proxies) {
      await Promise.all(mine.map((proxy) => proxy.close()));
    }
  }
}

Deno.test("chaos: one server killed and restarted, connections cut and stalled, clients restarted: every line sent is shown once, in order", async () => {
  const rng = new Rng(seed());
  const dir = await Deno.makeTempDir({ prefix: "chat-chaos-" });
  let server: ChatProcess | null = null;
  try {
    await makeKeys(dir);
    const start = (port: number | string) =>
      serveProcess(dir, port, "--data", join(dir, "data"), ...SERVE_LIMITS);
    server = start(0);
    const port = Number(await listeningPort(server));
    const outputs: ChatProcess[] = [server];
    await play(rng, dir, {
      output: () => outputs.map((s) => s.stdout + s.stderr).join("\n---\n"),
      async crash() {
        server!.kill("SIGKILL");
        await server!.finish();
        server = start(port);
        outputs.push(server);
        await server.waitFor(/listening on/, 30_000);
        return "kill -9 server";
      },
      async freeze(_rng, ms) {
        const frozen = server!;
        frozen.kill("SIGSTOP");
        await sleep(ms);
        frozen.kill("SIGCONT");
        return `SIGSTOP server ${ms} ms`;
      },
    }, () => {
      const proxy = new ChaosProxy(port);
      return { proxies: [proxy], list: `127.0.0.1:${proxy.port}` };
    });
  } finally {
    if (server !== null) {
      server.kill("SIGKILL");
      await server.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "chaos: two cluster nodes, one killed and restarted at a time, connections cut and stalled, clients restarted: every line sent is shown once, in order",
  ignore: NATS === null,
  async fn() {
    const rng = new Rng(seed());
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-chaos-cluster",
    });
    const names = ["a", "b"];
    const nodes = await Promise.all(
      names.map((name) => cluster.node(name, ...SERVE_LIMITS)),
    );
    const processes = nodes.map((node) => node.process);
    const ports = nodes.map((node) => Number(node.port));
    const outputs = [...processes];
    await play(rng, cluster.dir, {
      output: () => outputs.map((s) => s.stdout + s.stderr).join("\n---\n"),
      async crash(rng) {
        const which = rng.int(2);
        const dying = processes[which]!;
        dying.kill("SIGKILL");
        await dying.finish();
        const again = cluster.track(
          serveProcess(
            cluster.dir,
            ports[which]!,
            "--data",
            join(cluster.dir, names[which]!),
            "--cluster",
            cluster.nats.url,
            ...SERVE_LIMITS,
          ),
        );
        processes[which] = again;
        outputs.push(again);
        await again.waitFor(/joined the cluster through NATS/, 30_000);
        return `kill -9 node ${names[which]}`;
      },
      async freeze(rng, ms) {
        const which = rng.int(2);
        const frozen = processes[which]!;
        frozen.kill("SIGSTOP");
        await sleep(ms);
        frozen.kill("SIGCONT");
        return `SIGSTOP node ${names[which]} ${ms} ms`;
      },
    }, (member) => {
      // Each client knows both nodes, half of them node b first.
      const proxies = ports.map((port) => new ChaosProxy(port));
      const list = proxies.map((proxy) => `127.0.0.1:${proxy.port}`);
      if (member % 2 === 1) list.reverse();
      return { proxies, list: list.join(",") };
    });
  },
});
