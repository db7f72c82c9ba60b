// Model ids where there is no file system (browsers, web workers, service workers, Cloudflare-style
// workers, Deno Deploy): the hub's own URLs through fetch, as hub.ts resolves them, with each file
// kept in the Cache API (`caches`) when the runtime has one, in the cache named HUB_CACHE_NAME
// ("simdbert-hub"; transformers.js keeps its files in "transformers-cache").
//
//   revision  a branch or tag is resolved to its commit once per model through the hub's
//             /api/models/{repo}/revision/{rev} (sha, siblings): one request, not a HEAD per file,
//             and the listing says which files exist (optional tokenizer files, which weights
//             file) without asking for each. The answer is cached too: offline, it is what the
//             branch points to (as refs/ in huggingface_hub's cache).
//   keys      a file's entry is keyed by its URL at the commit, {endpoint}/{repo}/resolve/{sha}/
//             {file}: immutable, so a cached entry is served with no network at all. Without a
//             commit (an endpoint that has no /api: a plain mirror), the key is the branch URL and
//             a cached entry is revalidated with If-None-Match (a 304 serves it).
//   offline   local_files_only or HF_HUB_OFFLINE=1: the cache only; a file it does not have is
//             named in the error (optional files are then absent, as on disk).
//   writes    an entry is put only once its whole body arrived with the size the server declared
//             (a body that breaks off makes put() fail: nothing half-written is kept).
//   reads     weights are read through the cached entry's Blob, a slice at a time, so a browser
//             need not hold the file in JS memory.
import type { TensorSource } from "../safetensors.js";
import { SafetensorsFile } from "./checkpoint.js";
import { FileError, MAX_FILE_BYTES } from "./files.js";
import type { RandomAccess } from "./random_access.js";
import { WeightsError } from "../errors.js";
import {
  HubError,
  hubEndpoint,
  hubErrorFor,
  hubRequest,
  hubToken,
  isOffline,
  listingUrl,
  offlineReason,
  parseListing,
  resolveUrl,
  type HubCacheLike,
  type HubOptions,
} from "./hub.js";

/** The Cache API cache that holds hub files (browsers, workers). */
export const HUB_CACHE_NAME = "simdbert-hub";

type CacheLike = HubCacheLike;

const COMMIT = /^[0-9a-f]{40}$/;

/** The cache the options ask for: an object given, caches.open(HUB_CACHE_NAME), or none. */
export async function openHubCache(o: HubOptions): Promise<CacheLike | null> {
  const b = o.browser_cache;
  if (b === false) return null;
  if (b && typeof b === "object") return b;
  const storage = (globalThis as { caches?: { open(name: string): Promise<CacheLike> } }).caches;
  if (!storage || typeof storage.open !== "function") {
    if (b === true)
      throw new HubError(
        "browser_cache: this runtime has no Cache API (globalThis.caches); leave the option out to fetch without a cache",
        "Cache",
      );
    return null;
  }
  try {
    return await storage.open(HUB_CACHE_NAME);
  } catch (e) {
    // an opaque origin (sandboxed iframe, file:) or storage switched off: fetch without a cache
    if (b === true)
      throw new HubError(
        `browser_cache: caches.open("${HUB_CACHE_NAME}") failed (${(e as Error)?.message ?? e})`,
        "Cache",
      );
    return null;
  }
}

/** The commit a revision points to (null: the endpoint could not say), and its files if known. */
interface Snapshot {
  commit: string | null;
  files: Set<string> | null;
}

/** A hub repo's files through fetch and the Cache API (a ModelFiles: see source.ts). */
export class WebHubFiles {
  private snap: Promise<Snapshot> | null = null;
  private cacheP: Promise<CacheLike | null> | null = null;
  private readonly revision: string;
  private readonly base: string;
  /** Files asked for offline that the cache does not have (optional ones are then absent). */
  private readonly notCached: string[] = [];

  constructor(
    readonly repo: string,
    private readonly hub: HubOptions = {},
  ) {
    this.revision = hub.revision ?? "main";
    this.base = `${repo} (${hubEndpoint(hub)}, revision ${this.revision}`;
  }

  get where(): string {
    const cache =
      this.cached === null
        ? ""
        : this.cached
          ? `, Cache API "${HUB_CACHE_NAME}"`
          : ", no Cache API: fetched each time";
    return this.notCached.length
      ? `${this.base}${cache}) (offline, and the cache does not have ${this.notCached.join(", ")}; the network is off: ${offlineReason(this.hub)})`
      : `${this.base}${cache})`;
  }

  /** Whether a cache is in use (null: not known yet). */
  private cached: boolean | null = null;

  private cache(): Promise<CacheLike | null> {
    this.cacheP ??= openHubCache(this.hub).then((c) => ((this.cached = c !== null), c));
    return this.cacheP;
  }

  private async headers(url: string): Promise<Record<string, string>> {
    const token = await hubToken(this.hub);
    // the token goes to the endpoint only (fetch drops it on a redirect to another origin)
    return token && new URL(url).origin === new URL(hubEndpoint(this.hub)).origin
      ? { Authorization: `Bearer ${token}` }
      : {};
  }

  /** The revision's commit and file list: the listing, cached; offline, the cached listing. */
  snapshot(): Promise<Snapshot> {
    this.snap ??= (async () => {
      const cache = await this.cache();
      const url = listingUrl(this.repo, this.hub);
      const fromCache = async (): Promise<Snapshot | null> => {
        const r = await cache?.match(url);
        return r ? parseListing(await r.text(), this.revision) : null;
      };
      const pinned = COMMIT.test(this.revision);
      if (isOffline(this.hub) || pinned) {
        const cached = await fromCache();
        if (cached || isOffline(this.hub))
          return cached ?? { commit: pinned ? this.revision : null, files: null };
      }
      let res: Response;
      try {
        res = await hubRequest(url, { headers: await this.headers(url) }, this.hub);
      } catch (e) {
        // no network: what the cache knows of this revision still serves
        if (e instanceof HubError && e.code === "Network") {
          const cached = await fromCache();
          if (cached) return cached;
          if (pinned) return { commit: this.revision, files: null };
        }
        throw e;
      }
      const code = res.headers.get("x-error-code");
      if (res.ok) {
        const text = await res.text();
        const s = parseListing(text, this.revision);
        if (s) {
          await cache
            ?.put(url, new Response(text, { headers: { "content-type": "application/json" } }))
            .catch(() => undefined);
          return s;
        }
      } else {
        await res.body?.cancel();
        if (code === "RepoNotFound" || code === "GatedRepo" || code === "RevisionNotFound")
          throw hubErrorFor(res, this.repo, "", this.hub);
        if (res.status === 401) throw hubErrorFor(res, this.repo, "", this.hub);
      }
      // an endpoint without the hub's API (a plain mirror): the files' own URLs at the revision
      return (await fromCache()) ?? { commit: pinned ? this.revision : null, files: null };
    })();
    // a failed listing is asked again by the next call
    this.snap.catch(() => (this.snap = null));
    return this.snap;
  }

  /** The file's response (from the cache, or fetched and cached), or null when it is absent. */
  private async response(name: string): Promise<Response | null> {
    const parts = name.split("/");
    if (parts.some((p) => !p || p === "." || p === ".."))
      throw new HubError(`invalid file name ${JSON.stringify(name)}`, "EntryNotFound");
    const progress = this.hub.progress_callback;
    progress?.({ status: "initiate", name: this.repo, file: name });
    const snap = await this.snapshot();
    if (snap.files && !snap.files.has(name)) return null;
    const url = resolveUrl(this.repo, name, {
      ...this.hub,
      revision: snap.commit ?? this.revision,
    });
    const cache = await this.cache();
    const cached = await cache?.match(url);
    if (cached && (snap.commit || isOffline(this.hub))) return cached;
    if (isOffline(this.hub)) {
      this.notCached.push(name);
      return null;
    }
    const headers = await this.headers(url);
    const etag = cached?.headers.get("etag");
    if (etag) headers["If-None-Match"] = etag;
    const res = await hubRequest(url, { headers }, this.hub);
    if (res.status === 304 && cached) {
      await res.body?.cancel();
      return cached;
    }
    if (
      res.status === 404 &&
      (res.headers.get("x-error-code") ?? "EntryNotFound") === "EntryNotFound"
    ) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw hubErrorFor(res, this.repo, name, this.hub);
    }
    progress?.({ status: "download", name: this.repo, file: name });
    const body = counted(res, this.repo, name, progress);
    if (!cache) return body;
    try {
      await cache.put(url, body);
    } catch (e) {
      if (e instanceof HubError) throw e;
      throw new HubError(
        `${this.repo}/${name}: the download broke off (${(e as Error)?.message ?? e}); nothing was cached, run again`,
        "Network",
      );
    }
    const stored = await cache.match(url);
    if (!stored)
      throw new HubError(`${this.repo}/${name}: the Cache API did not keep the file`, "Cache");
    progress?.({ status: "done", name: this.repo, file: name });
    return stored;
  }

  async bytes(name: string, maxBytes = MAX_FILE_BYTES): Promise<Uint8Array | null> {
    const res = await this.response(name);
    if (!res) return null;
    const declared = Number(res.headers.get("content-length") ?? 0);
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new FileError(`${this.repo}/${name}: more than the ${maxBytes}-byte limit`);
    }
    const b = new Uint8Array(await res.arrayBuffer());
    if (b.length > maxBytes)
      throw new FileError(`${this.repo}/${name}: more than the ${maxBytes}-byte limit`);
    return b;
  }

  async open(name: string): Promise<RandomAccess | null> {
    const res = await this.response(name);
    if (!res) return null;
    return new BlobAccess(await res.blob(), `${this.repo}/${name}`);
  }

  async tensors(name: string): Promise<TensorSource | null> {
    const ra = await this.open(name);
    if (!ra) return null;
    try {
      return await SafetensorsFile.open(ra);
    } catch (e) {
      await ra.close();
      throw e;
    }
  }

  /** From the listing (no request per file); else the cache, else a HEAD. */
  async exists(name: string): Promise<boolean> {
    const snap = await this.snapshot();
    if (snap.files) return snap.files.has(name);
    const url = resolveUrl(this.repo, name, {
      ...this.hub,
      revision: snap.commit ?? this.revision,
    });
    if (await (await this.cache())?.match(url)) return true;
    if (isOffline(this.hub)) return false;
    const res = await hubRequest(
      url,
      { method: "HEAD", headers: await this.headers(url) },
      this.hub,
    );
    await res.body?.cancel();
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw hubErrorFor(res, this.repo, name, this.hub);
  }
}

/**
 * The response with a body that reports progress and fails unless it ends at the declared size
 * (Content-Length): a cut connection then fails the cache's put instead of storing a stub.
 */
function counted(
  res: Response,
  repo: string,
  file: string,
  progress: HubOptions["progress_callback"],
): Response {
  const h = res.headers.get("content-length");
  const total = h !== null && /^\d+$/.test(h) ? Number(h) : null;
  let loaded = 0;
  let last = 0;
  const body = res.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        loaded += chunk.length;
        if (total !== null && loaded > total)
          throw new HubError(
            `${repo}/${file}: the download is longer than its ${total} bytes`,
            "Integrity",
          );
        ctl.enqueue(chunk);
        const now = Date.now();
        if (progress && (now - last > 100 || loaded === total)) {
          last = now;
          progress({
            status: "progress",
            name: repo,
            file,
            loaded,
            total: total ?? loaded,
            progress: total ? (loaded / total) * 100 : 0,
          });
        }
      },
      flush() {
        if (total !== null && loaded !== total)
          throw new HubError(
            `${repo}/${file}: downloaded ${loaded} bytes, expected ${total}; nothing was cached`,
            "Integrity",
          );
      },
    }),
  );
  const headers = new Headers();
  for (const k of ["content-type", "content-length", "etag", "x-repo-commit", "x-linked-etag"]) {
    const v = res.headers.get(k);
    if (v !== null) headers.set(k, v);
  }
  return new Response(body, { status: 200, headers });
}

/** A Blob read a slice at a time (a cached entry's Blob stays on disk in browsers). */
export class BlobAccess implements RandomAccess {
  readonly size: number;
  constructor(
    private blob: Blob,
    readonly where: string,
  ) {
    this.size = blob.size;
  }
  async read(pos: number, dst: Uint8Array): Promise<void> {
    if (!Number.isSafeInteger(pos) || pos < 0 || pos + dst.length > this.size)
      throw new WeightsError(
        `${this.where}: bytes [${pos}, ${pos + dst.length}) lie outside the file (${this.size} bytes): truncated or damaged`,
      );
    dst.set(new Uint8Array(await this.blob.slice(pos, pos + dst.length).arrayBuffer()));
  }
  async close(): Promise<void> {
    this.blob = new Blob([]);
  }
}

/** Whether this runtime has a file system for the disk cache (not Deno Deploy, not workerd). */
export function hasFileSystem(): boolean {
  const g = globalThis as {
    process?: { versions?: { node?: string } };
    Deno?: { env?: { get(k: string): string | undefined } };
    Bun?: unknown;
    navigator?: { userAgent?: string };
  };
  if (g.navigator?.userAgent === "Cloudflare-Workers") return false;
  if (g.Deno) {
    try {
      if (g.Deno.env?.get("DENO_DEPLOYMENT_ID")) return false;
    } catch {
      /* no env permission: assume a file system */
    }
    return true;
  }
  return !!(g.process?.versions?.node || g.Bun);
}
