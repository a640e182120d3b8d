/**
 * The first connection to a server whose key is not known yet, with real
 * `chat serve` and `chat connect` processes: a script is refused unless it
 * passes --pub or --trust-first-use; a person at a terminal (a real
 * pseudo-terminal) is shown the fingerprint and asked.
 */

import assert from "node:assert/strict";
import {
  ChatProcess,
  hasPty,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { ANSWER_GUARD_MS } from "../../src/client/offer_prompts.ts";
import { TYPED_AHEAD_NOTE } from "../../src/client/first_contact.ts";

const PTY = await hasPty();

/**
 * ANSWER_GUARD_MS: an answer sooner after the question is not taken
 * (first_contact.ts). The wait is the rule's own, not a guess at timing.
 */
async function afterGuard(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ANSWER_GUARD_MS + 100));
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-first-contact-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A server with the key in `dir`/server (not keys/, which the client would pin), and its port and fingerprint. */
async function serve(
  dir: string,
  port: number | string = 0,
): Promise<{ server: ChatProcess; port: string; fingerprint: string }> {
  const server = serveProcess(`${dir}/server`, port, "--data", ":memory:");
  const listening = await listeningPort(server);
  const [, fingerprint] = await server.waitFor(
    /Server key fingerprint: (SHA256:\S+)/,
  );
  return { server, port: listening, fingerprint: fingerprint! };
}

async function stop(server: ChatProcess): Promise<void> {
  server.kill("SIGTERM");
  await server.finish();
}

/** `chat connect` run from `dir` (no keys/public.pem there) with its own config folder. */
function connect(
  dir: string,
  port: string,
  args: string[],
  options: { tty?: boolean; umask?: string } = {},
): ChatProcess {
  return new ChatProcess(["connect", `127.0.0.1:${port}`, ...args], {
    cwd: dir,
    env: { XDG_CONFIG_HOME: `${dir}/config` },
    ...options,
  });
}

function knownHosts(dir: string): string | null {
  try {
    return Deno.readTextFileSync(`${dir}/config/chat/known_hosts`);
  } catch {
    return null;
  }
}

Deno.test("chat connect in a script refuses an unknown server without --pub or --trust-first-use, and says so", async () => {
  await withDir(async (dir) => {
    await makeKeys(`${dir}/server`);
    const { server, port, fingerprint } = await serve(dir);
    try {
      const client = connect(dir, port, ["--user", "sophia"]);
      await client.write("hello\n");
      assert.equal((await client.finish()).code, 1);
      assert.ok(
        client.stderr.includes(
          `ERROR: The authenticity of host '127.0.0.1:${port}' can't be established: ` +
            `its key (fingerprint ${fingerprint}) is not known yet, and stdin is not a terminal to ask on. ` +
            "Refusing to connect; pass the server's public key with --pub FILE, " +
            "or --trust-first-use to trust the key it presents now",
        ),
        client.stderr,
      );
      assert.doesNotMatch(client.stdout, /Username registered|Broadcast/);
      assert.equal(knownHosts(dir), null);
    } finally {
      await stop(server);
    }
  });
});

Deno.test("chat connect --trust-first-use remembers the key, and a later script connects without it", async () => {
  await withDir(async (dir) => {
    await makeKeys(`${dir}/server`);
    const { server, port, fingerprint } = await serve(dir);
    try {
      const first = connect(dir, port, [
        "--user",
        "sophia",
        "--trust-first-use",
      ]);
      await first.waitFor(/SUCCESS: Username registered\./);
      await first.write("/quit\n");
      assert.equal((await first.finish()).code, 0, first.stderr);
      assert.ok(
        first.stdout.includes(
          `First connection to 127.0.0.1:${port}: its key is ${fingerprint}.`,
        ),
      );
      assert.ok(knownHosts(dir)!.includes(`127.0.0.1:${port} ${fingerprint}`));

      const again = connect(dir, port, ["--user", "sophia"]);
      await again.waitFor(/SUCCESS: Username registered\./);
      await again.write("/quit\n");
      assert.equal((await again.finish()).code, 0, again.stderr);
      assert.doesNotMatch(again.stdout, /First connection|authenticity/);
    } finally {
      await stop(server);
    }
  });
});

Deno.test("chat connect --pub needs no known hosts and writes none", async () => {
  await withDir(async (dir) => {
    await makeKeys(`${dir}/server`);
    const { server, port } = await serve(dir);
    try {
      const client = connect(dir, port, [
        "--user",
        "sophia",
        "--pub",
        `${dir}/server/public.pem`,
      ]);
      await client.waitFor(/SUCCESS: Username registered\./);
      await client.write("/quit\n");
      assert.equal((await client.finish()).code, 0, client.stderr);
      assert.doesNotMatch(client.stdout, /authenticity|First connection/);
      assert.equal(knownHosts(dir), null);
    } finally {
      await stop(server);
    }
  });
});

Deno.test("chat connect --pub with another server's key is refused, naming the file", async () => {
  await withDir(async (dir) => {
    await makeKeys(`${dir}/server`);
    await makeKeys(`${dir}/other`);
    const { server, port, fingerprint } = await serve(dir);
    try {
      const client = connect(dir, port, [
        "--user",
        "sophia",
        "--pub",
        `${dir}/other/public.pem`,
      ]);
      assert.equal((await client.finish()).code, 1);
      assert.match(
        client.stderr,
        new RegExp(
          `Server key mismatch: expected SHA256:\\S+ \\(from '${dir}/other/public.pem'\\), the server presented ${
            fingerprint.replace(/[+/]/g, "\\$&")
          }\\.`,
        ),
      );
      assert.ok(
        client.stderr.includes(
          "get the server's public key from its operator and pass it with --pub FILE",
        ),
        client.stdout,
      );
      assert.doesNotMatch(client.stdout, /Username registered/);
    } finally {
      await stop(server);
    }
  });
});

Deno.test({
  name:
    "chat connect on a terminal shows the fingerprint, asks yes/no, remembers the key on yes, and does not ask again when it reconnects",
  ignore: !PTY,
  fn: () =>
    withDir(async (dir) => {
      await makeKeys(`${dir}/server`);
      let { server, port, fingerprint } = await serve(dir);
      const client = connect(dir, port, [], { tty: true });
      try {
        await client.waitFor(
          /Are you sure you want to continue connecting \(yes\/no\/\[fingerprint\]\)\? /,
        );
        assert.ok(
          client.stdout.includes(
            `The authenticity of host '127.0.0.1:${port}' can't be established.`,
          ),
          client.stdout,
        );
        assert.ok(
          client.stdout.includes(`Server key fingerprint is ${fingerprint}.`),
        );
        // Asked before the name, and nothing remembered before the answer.
        assert.doesNotMatch(client.stdout, /Enter your username/);
        assert.equal(knownHosts(dir), null);

        await afterGuard();
        await client.write("maybe\r");
        await client.waitFor(/Please type 'yes', 'no' or the fingerprint: /);
        await client.write("yes\r");
        await client.waitFor(
          /Permanently added '127\.0\.0\.1:\d+' to the list of known servers/,
        );
        assert.ok(
          knownHosts(dir)!.includes(`127.0.0.1:${port} ${fingerprint}`),
        );
        await client.waitFor(/Enter your username: /);
        await client.write("sophia\r");
        await client.waitFor(/SUCCESS: Username registered\./);

        // The server restarts with the same key: the client reconnects
        // without asking again.
        await stop(server);
        await client.waitFor(/Reconnecting in/);
        ({ server } = await serve(dir, port));
        await client.waitFor(/Reconnected as sophia\./);
        assert.equal(client.stdout.match(/Are you sure/g)?.length, 1);
        await client.write("/quit\r");
        assert.equal((await client.finish()).code, 0, client.stdout);
      } finally {
        client.kill();
        await client.finish();
        await stop(server);
      }
    }),
});

Deno.test({
  name:
    "chat connect on a terminal refuses on no, on Ctrl-D, and on a fingerprint that is not the server's",
  ignore: !PTY,
  fn: () =>
    withDir(async (dir) => {
      await makeKeys(`${dir}/server`);
      const { server, port } = await serve(dir);
      try {
        for (
          const [answer, said] of [
            [
              "no",
              /Host key for 127\.0\.0\.1:\d+ not accepted; not connecting/,
            ],
            [
              "SHA256:rB/WMu3IX0cdNkPCFb+HUN1RkEt+fBNXNdi0hBVsJAs",
              /That is not the fingerprint of the key 127\.0\.0\.1:\d+ presents/,
            ],
            // Ctrl-D is a "no" here, said as one: not a silent leaving.
            [
              "\x04",
              /Host key for 127\.0\.0\.1:\d+ not accepted; not connecting/,
            ],
          ] as const
        ) {
          const client = connect(dir, port, [], { tty: true });
          await client.waitFor(/Are you sure you want to continue connecting/);
          await afterGuard();
          await client.write(answer === "\x04" ? answer : `${answer}\r`);
          assert.equal((await client.finish()).code, 1, client.stdout);
          assert.match(client.stdout, said);
          assert.doesNotMatch(client.stdout, /Enter your username/);
          assert.equal(knownHosts(dir), null);
        }
      } finally {
        await stop(server);
      }
    }),
});

Deno.test({
  name:
    "chat connect on a terminal takes no yes typed before the fingerprint was shown, nor one typed just after",
  ignore: !PTY,
  fn: () =>
    withDir(async (dir) => {
      await makeKeys(`${dir}/server`);
      const { server, port } = await serve(dir);
      const client = connect(dir, port, [], { tty: true });
      try {
        // Typed blind while the client starts: before, this answered the
        // question and trusted a key nobody had read.
        await client.write("yes\r");
        await client.waitFor(/Are you sure you want to continue connecting/);
        // The note, as a terminal 80 columns wide wraps it.
        const note = TYPED_AHEAD_NOTE.slice(
          TYPED_AHEAD_NOTE.indexOf("compare"),
        );
        await client.waitFor(new RegExp(note.replace(".", "\\.")));
        // At once after the question: not read yet either.
        await client.write("yes\r");
        await client.waitUntil(
          () => client.stdout.split(note).length === 3 || null,
          "the note again",
        );
        assert.doesNotMatch(
          client.stdout,
          /Permanently added|Enter your username/,
        );
        assert.equal(knownHosts(dir), null);
        await afterGuard();
        await client.write("no\r");
        assert.equal((await client.finish()).code, 1, client.stdout);
        assert.match(
          client.stdout,
          /Host key for 127\.0\.0\.1:\d+ not accepted; not connecting/,
        );
        assert.equal(knownHosts(dir), null);
      } finally {
        client.kill();
        await client.finish();
        await stop(server);
      }
    }),
});
