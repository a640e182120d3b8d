import assert from "node:assert/strict";
import {
  hideNatsCredentials,
  natsServers,
} from "../../../src/server/nats_urls.ts";

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

Deno.test("natsServers refuses a % that is not percent-encoding, saying to write %25, without the password", () => {
  for (const url of ["nats://chat:50%off@h:4222", "nats://50%off@h:4222"]) {
    assert.throws(
      () => natsServers([url]),
      (error: Error) =>
        error.message.includes("nats://***@h:4222") &&
        error.message.includes("write % as %25") &&
        !error.message.includes("50") && !(error instanceof URIError),
      url,
    );
  }
  // Encoded, it is the password.
  assert.deepEqual(natsServers(["nats://chat:50%25off@h:4222"]).auth, {
    user: "chat",
    pass: "50%off",
  });
});

Deno.test("natsServers refuses USER:@ and :PASS@ rather than taking them as a token", () => {
  for (
    const url of ["nats://chat:@h:4222", "nats://:s3cret@h:4222", "nats://:@h"]
  ) {
    assert.throws(
      () => natsServers([url]),
      (error: Error) =>
        /one of them empty: give USER:PASS@, or TOKEN@ alone/.test(
          error.message,
        ) && !/chat|s3cret/.test(error.message),
      url,
    );
  }
  // TOKEN@ alone is still a token.
  assert.deepEqual(natsServers(["nats://chat@h:4222"]).auth, { token: "chat" });
});

Deno.test("hideNatsCredentials hides all before a URL's last @, parsable or not", () => {
  assert.equal(
    hideNatsCredentials("nats://chat:s3cret@:4222"),
    "nats://***@:4222",
  );
  assert.equal(hideNatsCredentials("u:p/q@w@h:1"), "***@h:1");
  assert.equal(
    hideNatsCredentials("nats://10.0.0.5:4222"),
    "nats://10.0.0.5:4222",
  );
});
