import assert from "node:assert/strict";
import { natsServers } from "../../../src/server/cluster/nats.ts";

Deno.test("natsServers takes a user and password out of the URLs it dials", () => {
  assert.deepEqual(
    natsServers([
      "nats://chat:s3cret@10.0.0.5:4222",
      "nats://10.0.0.6:4222",
      "10.0.0.7:4222",
    ]),
    {
      servers: [
        "nats://10.0.0.5:4222",
        "nats://10.0.0.6:4222",
        "nats://10.0.0.7:4222",
      ],
      auth: { user: "chat", pass: "s3cret" },
    },
  );
});

Deno.test("natsServers reads a URL's user alone as a token and decodes percent-encoding", () => {
  assert.deepEqual(natsServers(["nats://t%40k%3Aen@h:4222"]), {
    servers: ["nats://h:4222"],
    auth: { token: "t@k:en" },
  });
  assert.deepEqual(natsServers(["nats://u:p%2Fq%40@h:4222"]).auth, {
    user: "u",
    pass: "p/q@",
  });
});

Deno.test("natsServers gives no credentials when no URL has any", () => {
  assert.deepEqual(natsServers(["nats://127.0.0.1:4222"]), {
    servers: ["nats://127.0.0.1:4222"],
    auth: {},
  });
});

Deno.test("natsServers refuses URLs with different credentials", () => {
  assert.throws(
    () => natsServers(["nats://a:1@h:1", "nats://a:2@h:2"]),
    /carry different credentials/,
  );
  // The same in each is one set.
  assert.deepEqual(natsServers(["nats://a:1@h:1", "nats://a:1@h:2"]).auth, {
    user: "a",
    pass: "1",
  });
});
