/** `--name value` and `--flag` command-line arguments, without a parser package. */
export function parseFlags(args: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) throw new Error(`Unexpected argument '${arg}'`);
    const eq = arg.indexOf("=");
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (i + 1 < args.length && !args[i + 1]!.startsWith("--")) {
      flags.set(arg.slice(2), args[++i]!);
    } else {
      flags.set(arg.slice(2), "");
    }
  }
  return flags;
}

export function required(flags: Map<string, string>, name: string): string {
  const value = flags.get(name);
  if (value === undefined || value === "") {
    throw new Error(`Missing --${name}`);
  }
  return value;
}
