/** `chat serve --cluster` and `chat admin release --cluster` refusing bad NATS URLs, as real processes. */

import assert from "node:assert/strict";
import { ChatProcess } from "./_helpers/process.ts";

Deno.test("chat serve and chat admin release print a bad --cluster URL without its NATS credentials", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["serve", "--cluster", "nats://chat:s3cret@:4222"],
      /'nats:\/\/\*\*\*@:4222' is not a nats:\/\/HOST:PORT URL/,
    ],
    [
      ["serve", "--cluster=10.0.0.5:4222,nats://chat:s3cret@10.0.0.6:x"],
      /'nats:\/\/\*\*\*@10\.0\.0\.6:x' is not a nats:\/\/HOST:PORT URL/,
    ],
    [
      ["serve", "--cluster", "nats://chat:50%s3cret@10.0.0.5:4222"],
      /% that is not percent-encoding: write % as %25/,
    ],
    [
      ["serve", "--cluster", "nats://s3cret:@10.0.0.5:4222"],
      /one of them empty: give USER:PASS@, or TOKEN@ alone for a token/,
    ],
    // A comma typed in the password: the URL is read whole, and hidden.
    [
      ["serve", "--cluster", "nats://chat:s3cret,1@:4222"],
      /'nats:\/\/\*\*\*@:4222' is not a nats:\/\/HOST:PORT URL/,
    ],
    // Host chat port 4222 then the token s3cret, or one URL: asked to say.
    [
      ["serve", "--cluster", "nats://chat:4222,s3cret@10.0.0.5:4222"],
      /write a comma in a user, password or token as %2C \(nats:\/\/USER:PA%2CSS@HOST:PORT\), and begin each further URL with nats:\/\//,
    ],
    [
      ["admin", "release", "bob", "--cluster", "nats://chat:s3cret@:4222"],
      /'nats:\/\/\*\*\*@:4222' is not a nats:\/\/HOST:PORT URL/,
    ],
  ];
  for (const [args, said] of cases) {
    const chat = new ChatProcess(args);
    const status = await chat.finish();
    const shown = `${args.join(" ")}:\n${chat.stdout}${chat.stderr}`;
    assert.equal(status.code, 1, shown);
    assert.match(chat.stdout + chat.stderr, said, shown);
    assert.doesNotMatch(chat.stdout + chat.stderr, /s3cret/, shown);
  }
});
