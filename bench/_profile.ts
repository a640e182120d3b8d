/**
 * Summarises a V8 CPU profile (`deno run --cpu-prof`): where the server's
 * time went, by function (self time) and by source file.
 */

interface ProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
  };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  selfPercent: number;
  /** Time in this function and everything it called. */
  totalPercent?: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Share of samples where the main thread ran no JavaScript. */
  idlePercent: number;
  functions: ProfileEntry[];
  files: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (url === "") return "(native)";
  const src = url.indexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  const ext = url.lastIndexOf("/ext:");
  if (ext >= 0) return url.slice(ext + 1);
  return url.replace(/^.*\/(.*\/.*)$/, "$1");
}

export function summariseProfile(
  profile: CpuProfile,
  file: string,
  top = 25,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, delta));
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  let idleUs = 0;
  const functions = new Map<string, ProfileEntry>();
  const files = new Map<string, ProfileEntry>();
  // Inclusive time: each node's self time counts for it and its ancestors.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)") idleUs += us;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : "";
    const key = `${name} ${where}`;
    const entry = functions.get(key) ??
      { name, where, selfMs: 0, selfPercent: 0 };
    entry.selfMs += us / 1000;
    functions.set(key, entry);
    const fileKey = shortUrl(url);
    const fileEntry = files.get(fileKey) ??
      { name: fileKey, where: "", selfMs: 0, selfPercent: 0 };
    fileEntry.selfMs += us / 1000;
    files.set(fileKey, fileEntry);
    const seen = new Set<string>();
    for (
      let at: number | undefined = id;
      at !== undefined;
      at = parent.get(at)
    ) {
      const frame = byId.get(at)!.callFrame;
      const k = `${frame.functionName || "(anonymous)"} ${
        frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ""
      }`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const finish = (entries: Iterable<ProfileEntry>, withTotal: boolean) =>
    [...entries]
      .map((e) => ({
        ...e,
        selfMs: Math.round(e.selfMs),
        selfPercent: Math.round((e.selfMs * 1000 / totalUs) * 1000) / 10,
        ...(withTotal
          ? {
            totalPercent: Math.round(
              ((inclusive.get(`${e.name} ${e.where}`) ?? 0) / totalUs) * 1000,
            ) / 10,
          }
          : {}),
      }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top);
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    idlePercent: Math.round((idleUs / totalUs) * 1000) / 10,
    functions: finish(functions.values(), true),
    files: finish(files.values(), false),
  };
}

export async function summariseProfileDir(
  dir: string,
): Promise<ProfileSummary | null> {
  // One profile per isolate: the server's main one, and those of workers it
  // started (the TLS certificate's, which lives a second or two). The main
  // one is the longest; the directory's order says nothing.
  let longest: { profile: CpuProfile; path: string } | null = null;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
    const path = `${dir}/${entry.name}`;
    const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
    if (
      longest === null ||
      profile.endTime - profile.startTime >
        longest.profile.endTime - longest.profile.startTime
    ) longest = { profile, path };
  }
  return longest === null
    ? null
    : summariseProfile(longest.profile, longest.path);
}

export function formatProfile(summary: ProfileSummary): string {
  const lines = [
    `CPU profile of the chat server (${summary.file})`,
    `${
      (summary.totalMs / 1000).toFixed(1)
    } s sampled; ${summary.idlePercent}% idle or outside JavaScript ((idle) + (program))`,
    "",
    "Top functions by self time:",
    "   self%  total%   self ms  function  (where)",
  ];
  for (const f of summary.functions) {
    lines.push(
      `  ${f.selfPercent.toFixed(1).padStart(5)}  ${
        (f.totalPercent ?? 0).toFixed(1).padStart(6)
      }  ${String(f.selfMs).padStart(8)}  ${f.name}  ${f.where}`,
    );
  }
  lines.push("", "Self time by file:");
  for (const f of summary.files.slice(0, 15)) {
    lines.push(
      `  ${f.selfPercent.toFixed(1).padStart(5)}  ${
        String(f.selfMs).padStart(8)
      }  ${f.name}`,
    );
  }
  return lines.join("\n");
}
