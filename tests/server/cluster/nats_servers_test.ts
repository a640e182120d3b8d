import assert from "node:assert/strict";
import {
  hideNatsCredentials,
  natsServers,
  shownNatsUrl,
  splitNatsUrls,
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

Deno.test("splitNatsUrls keeps a comma typed in a password, user or token with its URL", () => {
  assert.deepEqual(splitNatsUrls("nats://chat:pa,ss@10.0.0.5:4222"), {
    urls: ["nats://chat:pa,ss@10.0.0.5:4222"],
    ambiguous: false,
  });
  assert.deepEqual(
    splitNatsUrls(
      "nats://chat:a,b,,c@10.0.0.5:4222, 10.0.0.6:4222,nats://chat:a,b,,c@h:1",
    ),
    {
      urls: [
        "nats://chat:a,b,,c@10.0.0.5:4222",
        "10.0.0.6:4222",
        "nats://chat:a,b,,c@h:1",
      ],
      ambiguous: false,
    },
  );
  // As natsServers reads it: the password whole, the hosts apart.
  assert.deepEqual(
    natsServers(splitNatsUrls("nats://chat:pa,ss@h1:4222,h2:4222").urls),
    {
      servers: ["nats://h1:4222", "nats://h2:4222"],
      auth: { user: "chat", pass: "pa,ss" },
    },
  );
  // Encoded, as before.
  assert.deepEqual(natsServers(["nats://chat:pa%2Css@h:4222"]).auth, {
    user: "chat",
    pass: "pa,ss",
  });
});

Deno.test("splitNatsUrls splits URLs as before where no comma can be a credential's", () => {
  for (
    const value of [
      "10.0.0.5:4222,10.0.0.6:4222",
      "nats://u:p@h1:4222,nats://u:p@h2:4222",
      "nats://h1:4222,nats://tok@h2:4222",
      " h1:4222 ,, h2:4222, ",
    ]
  ) {
    assert.equal(splitNatsUrls(value).ambiguous, false, value);
    assert.deepEqual(
      splitNatsUrls(value).urls,
      value.split(",").map((one) => one.trim()).filter((one) => one !== ""),
      value,
    );
  }
});

Deno.test("splitNatsUrls says when a comma before an @ reads both ways, and reads it as one URL", () => {
  // Host chat port 12 then token 34 at h, or user chat password "12,34".
  assert.deepEqual(splitNatsUrls("nats://chat:12,34@h:4222"), {
    urls: ["nats://chat:12,34@h:4222"],
    ambiguous: true,
  });
  assert.equal(splitNatsUrls("h1:4222,tok@h2:4222").ambiguous, true);
});

Deno.test("splitNatsUrls keeps a password holding :// after a comma with its URL", () => {
  assert.deepEqual(splitNatsUrls("nats://chat:pa,ss://x@h:4222"), {
    urls: ["nats://chat:pa,ss://x@h:4222"],
    ambiguous: false,
  });
  // A further URL begins with nats:// (the only scheme taken).
  assert.deepEqual(splitNatsUrls("nats://h1:4222,nats://tok@h2:4222"), {
    urls: ["nats://h1:4222", "nats://tok@h2:4222"],
    ambiguous: false,
  });
});

Deno.test("splitNatsUrls reads host:port URLs without nats:// apart when their commas cannot be a password's (it would hold a second :)", () => {
  assert.deepEqual(splitNatsUrls("h1:4222,h2:4222,chat:pw@h3:4222"), {
    urls: ["h1:4222", "h2:4222", "chat:pw@h3:4222"],
    ambiguous: false,
  });
  assert.deepEqual(
    natsServers(splitNatsUrls("h1:4222,h2:4222,chat:pw@h3:4222").urls),
    {
      servers: ["nats://h1:4222", "nats://h2:4222", "nats://h3:4222"],
      auth: { user: "chat", pass: "pw" },
    },
  );
  // Still both ways: h1:4222 then the token tok, or user h1 with the
  // password "4222,tok".
  assert.equal(splitNatsUrls("h1:4222,tok@h2:4222").ambiguous, true);
});

Deno.test("shownNatsUrl hides credentials, and a part that may begin a password cut at a comma", () => {
  const urls = ["h0:4222", "nats://chat:s3", "nats://x@h:4222"];
  assert.deepEqual(urls.map((_, i) => shownNatsUrl(urls, i)), [
    "h0:4222",
    "***",
    "nats://***@h:4222",
  ]);
  // Without an @ after it, a part holds no credentials.
  assert.equal(shownNatsUrl(["nats://h:x"], 0), "nats://h:x");
});

Deno.test("natsServers refuses a ? # or / after the host (a token or password typed as is) without printing it", () => {
  for (const url of ["nats://t0k#en@h:4222", "nats://t0k?en@h:4222"]) {
    assert.throws(
      () => natsServers([url]),
      (error: Error) =>
        !/t0k|en@/.test(error.message) && /%3F %23 %2F/.test(error.message),
      url,
    );
  }
  assert.deepEqual(natsServers(["nats://h:4222/"]).servers, ["nats://h:4222"]);
});
