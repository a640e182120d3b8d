// Answers !time in group haha; run it with the chat command it drives:
//   deno run --allow-run time_bot.ts chat connect HOST --pub public.pem --user timebot --json
const [program, ...args] = Deno.args;
const io = { args, stdin: "piped", stdout: "piped" } as const;
const chat = new Deno.Command(program!, io).spawn();
const input = chat.stdin.getWriter();
const send = (command: object) =>
  input.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
await send({ cmd: "join", group: "haha" });
let rest = "";
for await (const text of chat.stdout.pipeThrough(new TextDecoderStream())) {
  const lines = (rest + text).split("\n");
  rest = lines.pop()!; // an unfinished line waits for the rest
  for (const event of lines.map((line) => JSON.parse(line))) {
    if (event.type !== "message" || event.kind !== "group") continue;
    if (event.history || event.text.trim() !== "!time") continue;
    const time = new Date().toISOString();
    await send({ cmd: "group", group: event.group, text: `It is ${time}` });
  }
}
