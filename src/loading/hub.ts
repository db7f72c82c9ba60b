// Model ids ("org/name", legacy "bert-base-uncased") resolved as huggingface_hub resolves them,
// with its cache, so that a model downloaded by Python loads here offline and one downloaded here
// is found by Python with local_files_only=True.
//
//   URL       {endpoint}/{repo}/resolve/{revision}/{file}; endpoint: option, HF_ENDPOINT, else
//             https://huggingface.co; the token (option, HF_TOKEN, HUGGING_FACE_HUB_TOKEN,
//             $HF_HOME/token) is sent to the endpoint only, never to the file store a large file
//             redirects to.
//   metadata  a HEAD without following redirects: X-Repo-Commit, X-Linked-Etag / ETag (a sha256
//             for large files, a git sha1 otherwise), X-Linked-Size / Content-Length, and for a
//             large file a 302 whose Location is where the bytes are. X-Error-Code (RepoNotFound,
//             GatedRepo, RevisionNotFound, EntryNotFound) and 401 become HubErrors.
//   cache     HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (cache_dir option):
//             models--org--name/blobs/<etag>, snapshots/<commit>/<file> as a relative symlink into
//             blobs (a copy where symlinks fail), refs/<revision> holding the commit (no newline),
//             .no_exist/<commit>/<file> for files known to be absent.
//   download  into blobs/<etag>.incomplete (resumed with a Range request when a previous run left
//             one), retried with backoff on connection errors and 5xx, checked (size, and sha256
//             when the etag is one) before it is renamed to the blob; a lock file in
//             .locks/models--org--name/<etag>.lock keeps two processes from fetching one file.
//   offline   local_files_only or HF_HUB_OFFLINE=1: no network; a missing file is named.
// Node, Deno and Bun (the cache is a folder). Where there is no file system (browsers, workers,
// Deno Deploy) ids go through hub_web.ts: the same URLs through fetch, kept in the Cache API.
import { SimdbertError } from "../errors.js";
import { envEndpoint, envRepoPath, envSettings } from "../env.js";

export class HubError extends SimdbertError {
  override name = "HubError";
  constructor(
    message: string,
    /** huggingface_hub's error code (RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound, Offline, Network, Integrity) */
    readonly code: string,
  ) {
    super(message);
  }
}

/** transformers.js' progress events. */
export interface ProgressInfo {
  status: "initiate" | "download" | "progress" | "done" | "ready";
  name: string;
  file?: string;
  progress?: number;
  loaded?: number;
  total?: number;
  task?: string;
  model?: string;
}

export interface HubOptions {
  /** Hub endpoint (default HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Branch, tag or 40-hex commit (default "main"). */
  revision?: string;
  /** Access token (default HF_TOKEN, HUGGING_FACE_HUB_TOKEN, $HF_HOME/token); false: none. */
  token?: string | false;
  /** Cache folder (default HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub). */
  cache_dir?: string;
  /** Never touch the network (also HF_HUB_OFFLINE=1). */
  local_files_only?: boolean;
  progress_callback?: (info: ProgressInfo) => void;
  /** Attempts per request on connection errors and 5xx (default 5), first pause (default 500 ms, doubling). */
  retries?: number;
  retryDelayMs?: number;
  /**
   * Keep files fetched by id in the Cache API (cache "simdbert-hub", see hub_web.ts) instead of
   * the disk cache: true, or a Cache-like object ({ match, put }) to use instead of
   * caches.open(). Default: where there is no file system (browsers, workers, Deno Deploy) and
   * `globalThis.caches` exists. false: fetch without a cache there.
   */
  browser_cache?: boolean | HubCacheLike;
}

/** What the hub's files need of a Cache (the Cache API's Cache, or an object of your own). */
export interface HubCacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
}

type Env = Record<string, string | undefined>;
const env = (): Env => (globalThis as { process?: { env?: Env } }).process?.env ?? ({} as Env);

const NODE = {
  fs: "node:fs/promises",
  path: "node:path",
  os: "node:os",
  crypto: "node:crypto",
  fsSync: "node:fs",
};
const imp = <T>(s: string) => import(/* @vite-ignore */ s) as Promise<T>;
const fsP = () => imp<typeof import("node:fs/promises")>(NODE.fs);
const pathM = () => imp<typeof import("node:path")>(NODE.path);

const COMMIT = /^[0-9a-f]{40}$/;

/** Whether s reads as a hub model id (and not as a path or URL). */
export function isModelId(s: string): boolean {
  if (!s || s.length > 96 + 1 + 96) return false;
  if (/^[a-z][a-z0-9+.-]*:/i.test(s)) return false; // a URL or a drive letter
  if (s.startsWith(".") || s.startsWith("/") || s.startsWith("~") || s.includes("\\")) return false;
  const parts = s.split("/");
  if (parts.length > 2) return false;
  return parts.every(
    (p) =>
      /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(p) &&
      !p.includes("--") &&
      !p.includes("..") &&
      !p.endsWith("."),
  );
}

export function hubEndpoint(o: HubOptions = {}): string {
  return (o.endpoint ?? envEndpoint() ?? env().HF_ENDPOINT ?? "https://huggingface.co").replace(
    /\/+$/,
    "",
  );
}

export async function hubCacheDir(o: HubOptions = {}): Promise<string> {
  if (o.cache_dir) return o.cache_dir;
  const set = envSettings().cacheDir;
  if (set) return set;
  const e = env();
  if (e.HF_HUB_CACHE) return e.HF_HUB_CACHE;
  const path = await pathM();
  if (e.HF_HOME) return path.join(e.HF_HOME, "hub");
  const os = await imp<typeof import("node:os")>(NODE.os);
  const xdg = e.XDG_CACHE_HOME;
  return path.join(xdg ?? path.join(os.homedir(), ".cache"), "huggingface", "hub");
}

export async function hubToken(o: HubOptions): Promise<string | null> {
  if (o.token === false) return null;
  if (typeof o.token === "string" && o.token) return o.token;
  const e = env();
  const t = e.HF_TOKEN || e.HUGGING_FACE_HUB_TOKEN;
  if (t) return t.trim();
  try {
    const path = await pathM();
    const os = await imp<typeof import("node:os")>(NODE.os);
    const home =
      e.HF_HOME ?? path.join(e.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "huggingface");
    const file = e.HF_TOKEN_PATH ?? path.join(home, "token");
    const s = (await (await fsP()).readFile(file, "utf8")).trim();
    return s || null;
  } catch {
    return null;
  }
}

/** local_files_only or HF_HUB_OFFLINE=1 (TRANSFORMERS_OFFLINE=1). */
export function isOffline(o: HubOptions): boolean {
  const v = (env().HF_HUB_OFFLINE ?? env().TRANSFORMERS_OFFLINE ?? "").toUpperCase();
  return (
    o.local_files_only === true ||
    !envSettings().allowRemoteModels ||
    ["1", "ON", "YES", "TRUE"].includes(v)
  );
}

/** Why the network is off, for messages. */
export function offlineReason(o: HubOptions): string {
  if (o.local_files_only) return "local_files_only";
  if (!envSettings().allowRemoteModels) return "env.allowRemoteModels is false";
  return "HF_HUB_OFFLINE=1";
}

/** models--org--name */
export function repoFolderName(repo: string): string {
  return ["models", ...repo.split("/")].join("--");
}

export function resolveUrl(repo: string, file: string, o: HubOptions = {}): string {
  const f = file.split("/").map(encodeURIComponent).join("/");
  // {endpoint}/{repo}/resolve/{revision}/{file}, or env.remotePathTemplate's path
  return `${hubEndpoint(o)}/${envRepoPath(repo, o.revision ?? "main", f)}`;
}

interface Meta {
  commit: string;
  etag: string;
  size: number | null;
  /** Where the bytes are (the 302's Location for a large file). */
  location: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** fetch with a retry on connection errors and 5xx (backoff doubling). */
export async function hubRequest(url: string, init: RequestInit, o: HubOptions): Promise<Response> {
  // metadata requests retry less than downloads: an unreachable hub should fail (or fall back to
  // the cache) quickly
  const tries = Math.max(1, Math.min(o.retries ?? 2, 2));
  let delay = o.retryDelayMs ?? 500;
  let last: unknown;
  for (let k = 0; k < tries; k++) {
    try {
      const res = await fetch(url, init);
      if (res.status < 500 || k === tries - 1) return res;
      await res.body?.cancel();
      last = new Error(`HTTP ${res.status}`);
    } catch (e) {
      last = e;
    }
    if (k < tries - 1) await sleep(delay);
    delay *= 2;
  }
  throw new HubError(
    `cannot reach ${new URL(url).origin} (${(last as Error)?.message ?? last}${(last as { cause?: Error })?.cause ? `: ${(last as { cause: Error }).cause.message}` : ""}): pass a local model folder instead, or point HF_ENDPOINT (the endpoint option) at a reachable hub or mirror; with the model already in the cache, HF_HUB_OFFLINE=1 loads it without the network`,
    "Network",
  );
}

export function hubErrorFor(res: Response, repo: string, file: string, o: HubOptions): HubError {
  const code = res.headers.get("x-error-code") ?? "";
  const msg = res.headers.get("x-error-message");
  const extra = msg ? ` (${msg})` : "";
  if (code === "GatedRepo")
    return new HubError(
      `${repo} is a gated repository: accept its conditions on the hub, then pass a token (HF_TOKEN or the token option)${extra}`,
      "GatedRepo",
    );
  if (code === "RevisionNotFound")
    return new HubError(
      `${repo} has no revision "${o.revision ?? "main"}"${extra}`,
      "RevisionNotFound",
    );
  if (code === "RepoNotFound" || res.status === 401)
    return new HubError(
      `repository ${repo} not found at ${hubEndpoint(o)} (HTTP ${res.status})${extra}: check the id; if it is private or gated, pass a token (HF_TOKEN or the token option)`,
      "RepoNotFound",
    );
  if (code === "EntryNotFound" || res.status === 404)
    return new HubError(
      `${repo} has no file ${file} at revision ${o.revision ?? "main"}${extra}`,
      "EntryNotFound",
    );
  return new HubError(`${resolveUrl(repo, file, o)}: HTTP ${res.status}${extra}`, "Http");
}

function normalizeEtag(e: string | null): string | null {
  if (!e) return null;
  return e.replace(/^W\//, "").replace(/^"+|"+$/g, "");
}

/** HEAD metadata of a file (null: EntryNotFound, recorded in .no_exist when the commit is known). */
async function headMeta(
  repo: string,
  file: string,
  o: HubOptions,
  token: string | null,
  storage: string,
): Promise<Meta | null> {
  let url = resolveUrl(repo, file, o);
  const endpointOrigin = new URL(hubEndpoint(o)).origin;
  for (let hop = 0; hop < 5; hop++) {
    const headers: Record<string, string> = { "Accept-Encoding": "identity" };
    if (token && new URL(url).origin === endpointOrigin) headers.Authorization = `Bearer ${token}`;
    const res = await hubRequest(url, { method: "HEAD", headers, redirect: "manual" }, o);
    await res.body?.cancel();
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get("location");
      if (!loc) throw new HubError(`${url}: a redirect without Location`, "Http");
      const next = new URL(loc, url).href;
      // a relative redirect (a renamed repo) is followed; an absolute one to another host is
      // the file store of a large file: its metadata is in this answer
      if (new URL(next).origin === new URL(url).origin && !/^[a-z]+:/i.test(loc)) {
        url = next;
        continue;
      }
      return metaFrom(res, next, repo, file);
    }
    if (res.ok) return metaFrom(res, url, repo, file);
    const code = res.headers.get("x-error-code");
    if (res.status === 404 && (code === "EntryNotFound" || !code)) {
      const commit = res.headers.get("x-repo-commit");
      if (code === "EntryNotFound" && commit && COMMIT.test(commit)) {
        const path = await pathM();
        const fs = await fsP();
        const p = path.join(storage, ".no_exist", commit, ...file.split("/"));
        await fs.mkdir(path.dirname(p), { recursive: true }).catch(() => {});
        await fs.writeFile(p, "").catch(() => {});
        await writeRef(storage, o.revision ?? "main", commit);
        return null;
      }
      if (code === "EntryNotFound") return null;
    }
    throw hubErrorFor(res, repo, file, o);
  }
  throw new HubError(`${url}: too many redirects`, "Http");
}

function metaFrom(res: Response, location: string, repo: string, file: string): Meta {
  const commit = res.headers.get("x-repo-commit");
  const etag = normalizeEtag(res.headers.get("x-linked-etag") ?? res.headers.get("etag"));
  const sizeH = res.headers.get("x-linked-size") ?? res.headers.get("content-length");
  if (!commit || !COMMIT.test(commit))
    throw new HubError(
      `${repo}/${file}: the answer has no X-Repo-Commit header: the endpoint does not look like a Hugging Face hub (check HF_ENDPOINT)`,
      "Http",
    );
  if (!etag || !/^[A-Za-z0-9._-]+$/.test(etag))
    throw new HubError(`${repo}/${file}: the answer has no usable ETag`, "Http");
  const size = sizeH !== null && /^\d+$/.test(sizeH) ? Number(sizeH) : null;
  return { commit, etag, size, location };
}

async function writeRef(storage: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const path = await pathM();
  const fs = await fsP();
  const p = path.join(storage, "refs", ...revision.split("/"));
  try {
    if ((await fs.readFile(p, "utf8")) === commit) return;
  } catch {
    /* absent */
  }
  await fs.mkdir(path.dirname(p), { recursive: true });
  const tmp = `${p}.${process.pid}.${Math.random().toString(16).slice(2, 10)}.tmp`;
  await fs.writeFile(tmp, commit);
  await fs.rename(tmp, p);
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await (await fsP()).stat(p)).isFile();
  } catch {
    return false;
  }
}

/** The commit a revision names in the cache (itself for a commit hash), or null. */
async function cachedCommit(storage: string, revision: string): Promise<string | null> {
  if (COMMIT.test(revision)) return revision;
  const path = await pathM();
  try {
    const c = (
      await (await fsP()).readFile(path.join(storage, "refs", ...revision.split("/")), "utf8")
    ).trim();
    return COMMIT.test(c) ? c : null;
  } catch {
    return null;
  }
}

/**
 * Looks a file up in the cache without the network: its snapshot path, "absent" (.no_exist), or
 * null when the cache does not know.
 */
export async function tryCache(
  repo: string,
  file: string,
  o: HubOptions = {},
): Promise<string | "absent" | null> {
  const path = await pathM();
  const storage = path.join(await hubCacheDir(o), repoFolderName(repo));
  const commit = await cachedCommit(storage, o.revision ?? "main");
  if (!commit) return null;
  const p = path.join(storage, "snapshots", commit, ...file.split("/"));
  if (await isFile(p)) return p;
  if (await isFile(path.join(storage, ".no_exist", commit, ...file.split("/")))) return "absent";
  return null;
}

/** Takes the download lock of a blob (a file created exclusively), waiting for another holder. */
async function lock(p: string): Promise<() => Promise<void>> {
  const fs = await fsP();
  const path = await pathM();
  await fs.mkdir(path.dirname(p), { recursive: true });
  for (let waited = 0; ; waited += 100) {
    try {
      const h = await fs.open(p, "wx");
      await h.writeFile(String(process.pid));
      await h.close();
      return async () => {
        await fs.rm(p, { force: true });
      };
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
      // a holder that died leaves its lock: take it over
      let stale = false;
      try {
        const pid = Number(await fs.readFile(p, "utf8"));
        if (pid > 0) {
          try {
            process.kill(pid, 0);
          } catch (k) {
            stale = (k as { code?: string }).code === "ESRCH";
          }
        } else stale = Date.now() - (await fs.stat(p)).mtimeMs > 10_000;
      } catch {
        /* gone meanwhile */
      }
      if (stale) await fs.rm(p, { force: true });
      else await sleep(100);
    }
  }
}

async function sha256File(p: string): Promise<string> {
  const crypto = await imp<typeof import("node:crypto")>(NODE.crypto);
  const fsSync = await imp<typeof import("node:fs")>(NODE.fsSync);
  const h = crypto.createHash("sha256");
  await new Promise<void>((resolve, reject) => {
    const s = fsSync.createReadStream(p);
    s.on("data", (d) => h.update(d));
    s.on("end", () => resolve());
    s.on("error", reject);
  });
  return h.digest("hex");
}

/** Downloads meta.location into `incomplete` (resuming what is there), with retries. */
async function fetchInto(
  incomplete: string,
  meta: Meta,
  token: string | null,
  o: HubOptions,
  repo: string,
  file: string,
): Promise<void> {
  const fs = await fsP();
  const endpointOrigin = new URL(hubEndpoint(o)).origin;
  const tries = Math.max(1, o.retries ?? 5);
  let delay = o.retryDelayMs ?? 500;
  for (let k = 0; ; k++) {
    let have = 0;
    try {
      have = (await fs.stat(incomplete)).size;
    } catch {
      /* new */
    }
    if (meta.size !== null && have > meta.size) {
      await fs.rm(incomplete, { force: true });
      have = 0;
    }
    const headers: Record<string, string> = { "Accept-Encoding": "identity" };
    // the token goes to the endpoint only (not to the file store of a large file)
    if (token && new URL(meta.location).origin === endpointOrigin)
      headers.Authorization = `Bearer ${token}`;
    if (have) headers.Range = `bytes=${have}-`;
    let progressed = false;
    try {
      const res = await fetch(meta.location, { headers });
      if (res.status === 416 && meta.size !== null && have === meta.size) {
        await res.body?.cancel();
        return;
      }
      if (res.status >= 500) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel();
        throw hubErrorFor(res, repo, file, o);
      }
      if (res.status === 200) have = 0; // the server restarts from the start
      const h = await fs.open(incomplete, have ? "a" : "w");
      try {
        let loaded = have;
        let lastReport = 0;
        const reader = res.body!.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          await h.write(value);
          loaded += value.length;
          progressed = true;
          if (meta.size !== null && loaded > meta.size)
            throw new HubError(
              `${repo}/${file}: the download is longer than its ${meta.size} bytes`,
              "Integrity",
            );
          const now = Date.now();
          if (o.progress_callback && (now - lastReport > 100 || loaded === meta.size)) {
            lastReport = now;
            o.progress_callback({
              status: "progress",
              name: repo,
              file,
              loaded,
              total: meta.size ?? loaded,
              progress: meta.size ? (loaded / meta.size) * 100 : 0,
            });
          }
        }
      } finally {
        await h.close();
      }
      return;
    } catch (e) {
      if (e instanceof HubError && e.code !== "Network") throw e;
      if (k >= tries - 1)
        throw new HubError(
          `${repo}/${file}: download failed after ${tries} attempts (${(e as Error).message}); run again to resume it`,
          "Network",
        );
      if (!progressed) {
        await sleep(delay);
        delay *= 2;
      }
    }
  }
}

/**
 * hf_hub_download: the snapshot path of `file` of `repo` (downloading it into the cache when
 * needed), or null when the repo has no such file.
 */
export async function hubDownload(
  repo: string,
  file: string,
  o: HubOptions = {},
): Promise<string | null> {
  const path = await pathM();
  const fs = await fsP();
  const cache = await hubCacheDir(o);
  const storage = path.join(cache, repoFolderName(repo));
  const revision = o.revision ?? "main";
  const parts = file.split("/");
  if (parts.some((p) => !p || p === "." || p === ".."))
    throw new HubError(`invalid file name ${JSON.stringify(file)}`, "EntryNotFound");
  // a commit already in the cache needs no network
  if (COMMIT.test(revision)) {
    const p = path.join(storage, "snapshots", revision, ...parts);
    if (await isFile(p)) return p;
  }
  if (isOffline(o)) {
    const c = await tryCache(repo, file, o);
    if (c === "absent") return null;
    if (c) return c;
    throw new HubError(
      `${repo}: ${file} (revision ${revision}) is not in the cache ${cache}, and the network is off (${offlineReason(o)})`,
      "Offline",
    );
  }
  const token = await hubToken(o);
  let meta: Meta | null;
  try {
    meta = await headMeta(repo, file, o, token, storage);
  } catch (e) {
    // no network: what the cache has for this revision still serves (as huggingface_hub does)
    if (e instanceof HubError && e.code === "Network") {
      const c = await tryCache(repo, file, o);
      if (c === "absent") return null;
      if (c) return c;
    }
    throw e;
  }
  if (!meta) return null;
  await writeRef(storage, revision, meta.commit);
  const pointer = path.join(storage, "snapshots", meta.commit, ...parts);
  if (await isFile(pointer)) return pointer;
  const blob = path.join(storage, "blobs", meta.etag);
  await fs.mkdir(path.dirname(blob), { recursive: true });
  if (!(await isFile(blob))) {
    const release = await lock(
      path.join(cache, ".locks", repoFolderName(repo), `${meta.etag}.lock`),
    );
    try {
      if (!(await isFile(blob))) {
        o.progress_callback?.({ status: "download", name: repo, file });
        const incomplete = `${blob}.incomplete`;
        await fetchInto(incomplete, meta, token, o, repo, file);
        const size = (await fs.stat(incomplete)).size;
        if (meta.size !== null && size !== meta.size) {
          await fs.rm(incomplete, { force: true });
          throw new HubError(
            `${repo}/${file}: downloaded ${size} bytes, expected ${meta.size}; nothing was kept`,
            "Integrity",
          );
        }
        if (/^[0-9a-f]{64}$/.test(meta.etag)) {
          const sum = await sha256File(incomplete);
          if (sum !== meta.etag) {
            await fs.rm(incomplete, { force: true });
            throw new HubError(
              `${repo}/${file}: the download's sha256 ${sum} is not its etag ${meta.etag}; nothing was kept`,
              "Integrity",
            );
          }
        }
        await fs.rename(incomplete, blob);
      }
    } finally {
      await release();
    }
  }
  await fs.mkdir(path.dirname(pointer), { recursive: true });
  const rel = path.relative(path.dirname(pointer), blob);
  try {
    await fs.rm(pointer, { force: true });
    await fs.symlink(rel, pointer);
  } catch {
    await fs.copyFile(blob, pointer);
  }
  o.progress_callback?.({ status: "done", name: repo, file });
  return pointer;
}

/** Whether the repo has `file`, from the cache or a HEAD (nothing downloaded). */
export async function hubFileExists(
  repo: string,
  file: string,
  o: HubOptions = {},
): Promise<boolean> {
  const c = await tryCache(repo, file, o);
  if (c === "absent") return false;
  if (c) return true;
  if (isOffline(o)) return false;
  const path = await pathM();
  const storage = path.join(await hubCacheDir(o), repoFolderName(repo));
  try {
    return (await headMeta(repo, file, o, await hubToken(o), storage)) !== null;
  } catch (e) {
    if (e instanceof HubError && e.code === "EntryNotFound") return false;
    throw e;
  }
}

/** The files a download of a model for simdbert fetches (those that exist). */
export const MODEL_FILES = [
  "config.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "tokenizer.json",
  "vocab.txt",
  "modules.json",
  "sentence_bert_config.json",
  "config_sentence_transformers.json",
];

/** A revision's commit and files, from the hub's /api/models/{repo}/revision/{rev} answer. */
export interface RepoListing {
  commit: string;
  /** the repo's files (siblings' rfilename), or null when the answer has no list */
  files: Set<string> | null;
}

/** The listing in an API answer's text, or null when it is not one (or not of `revision`). */
export function parseListing(text: string, revision: string): RepoListing | null {
  let j: { sha?: unknown; siblings?: unknown };
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  if (!j || typeof j.sha !== "string" || !COMMIT.test(j.sha)) return null;
  if (COMMIT.test(revision) && j.sha !== revision) return null;
  const files = Array.isArray(j.siblings)
    ? new Set(
        j.siblings
          .map((x) => (x as { rfilename?: unknown })?.rfilename)
          .filter((n): n is string => typeof n === "string"),
      )
    : null;
  return { commit: j.sha, files };
}

export function listingUrl(repo: string, o: HubOptions = {}): string {
  return `${hubEndpoint(o)}/api/models/${repo}/revision/${encodeURIComponent(o.revision ?? "main")}`;
}

/**
 * repo_info: where the revision points and which files the repo has, in one request (what
 * huggingface_hub's snapshot_download asks first). Null when the endpoint has no such API (a plain
 * mirror) or cannot be reached; RepoNotFound, GatedRepo and RevisionNotFound are thrown.
 */
export async function repoListing(repo: string, o: HubOptions = {}): Promise<RepoListing | null> {
  const url = listingUrl(repo, o);
  const token = await hubToken(o);
  let res: Response;
  try {
    res = await hubRequest(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} }, o);
  } catch (e) {
    if (e instanceof HubError && e.code === "Network") return null;
    throw e;
  }
  if (res.ok) return parseListing(await res.text(), o.revision ?? "main");
  await res.body?.cancel();
  const code = res.headers.get("x-error-code");
  if (res.status === 401 || ["RepoNotFound", "GatedRepo", "RevisionNotFound"].includes(code ?? ""))
    throw hubErrorFor(res, repo, "", o);
  return null;
}

/**
 * snapshot_download for a BERT model: config, tokenizer and sentence-transformers files, and the
 * weights transformers would load (the first of model.safetensors, its index and shards,
 * pytorch_model.bin, its index and shards). Returns the snapshot folder. As huggingface_hub's
 * snapshot_download, the revision is resolved once through the hub's API (repoListing): every
 * file then comes from that commit, and only files the listing names are asked for (no HEAD per
 * absent file, no probing for the weights). Without the API (a mirror, or offline), each file is
 * asked for (HEAD) as from_pretrained does.
 */
export async function downloadModel(repo: string, o: HubOptions = {}): Promise<string> {
  const path = await pathM();
  const fs = await fsP();
  const listing = isOffline(o) ? null : await repoListing(repo, o);
  if (listing)
    await writeRef(
      path.join(await hubCacheDir(o), repoFolderName(repo)),
      o.revision ?? "main",
      listing.commit,
    );
  const at: HubOptions = listing ? { ...o, revision: listing.commit } : o;
  const listed = listing?.files ?? null;
  const get = (f: string) =>
    listed && !listed.has(f) ? Promise.resolve(null) : hubDownload(repo, f, at);
  const exists = (f: string) =>
    listed ? Promise.resolve(listed.has(f)) : hubFileExists(repo, f, at);
  const config = await get("config.json");
  if (!config)
    throw new HubError(`${repo} has no config.json: not a transformers model`, "EntryNotFound");
  const folder = path.dirname(config);
  for (const f of MODEL_FILES.slice(1)) await get(f);
  // the Pooling module's config, wherever modules.json puts it
  try {
    const modules = JSON.parse(await fs.readFile(path.join(folder, "modules.json"), "utf8"));
    if (Array.isArray(modules))
      for (const m of modules)
        if (typeof m?.path === "string" && m.path && /Pooling$/.test(String(m.type)))
          await get(`${m.path.replace(/\/+$/, "")}/config.json`);
  } catch {
    /* no modules.json */
  }
  const weights = [
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
  ];
  for (const w of weights) {
    if (!(await exists(w))) continue;
    const p = await get(w);
    if (!p) continue;
    if (w.endsWith(".index.json")) {
      const idx = JSON.parse(await fs.readFile(p, "utf8")) as {
        weight_map?: Record<string, string>;
      };
      const shards = new Set(Object.values(idx.weight_map ?? {}));
      for (const s of shards) {
        if (typeof s !== "string" || /[\\/]/.test(s) || s.startsWith("."))
          throw new HubError(`${repo}/${w}: invalid shard name ${JSON.stringify(s)}`, "Integrity");
        if (!(await get(s)))
          throw new HubError(
            `${repo}/${w} names the shard ${s}, which the repo does not have`,
            "EntryNotFound",
          );
      }
    }
    return folder;
  }
  throw new HubError(
    `${repo} has no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json`,
    "EntryNotFound",
  );
}

/** The default model of each task (as transformers.js has one). */
export const DEFAULT_MODELS: Record<string, string> = {
  "feature-extraction": "sentence-transformers/all-MiniLM-L6-v2",
  embeddings: "sentence-transformers/all-MiniLM-L6-v2",
  "fill-mask": "bert-base-uncased",
  "text-classification": "nlptown/bert-base-multilingual-uncased-sentiment",
  "sentiment-analysis": "nlptown/bert-base-multilingual-uncased-sentiment",
  "token-classification": "dslim/bert-base-NER",
  ner: "dslim/bert-base-NER",
  "question-answering": "deepset/bert-base-cased-squad2",
  "zero-shot-classification": "MoritzLaurer/MiniLM-L6-mnli",
};
