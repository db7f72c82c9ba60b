// A Hugging Face hub of our own for the tests (node:http on 127.0.0.1, started and stopped by the
// test): /{repo}/resolve/{revision}/{file} answered as the hub answers (X-Repo-Commit, ETag as the
// git sha1 of a small file, a 302 to a file store with X-Linked-Etag = sha256 and X-Linked-Size
// for a large one, X-Error-Code on errors), /api/models/{repo}[/revision/{rev}] (sha, siblings),
// and faults on demand: a connection dropped after N bytes, 500s before success, a slow body, a
// body that does not match its hash. Bodies carry an ETag and answer If-None-Match with 304.
// Every request is logged with its headers and, once answered, its status. `api: false` makes a
// plain mirror (no /api routes); `cors: true` answers browsers as huggingface.co does (CORS
// headers, preflights).
import { createServer } from "node:http";
import { createHash } from "node:crypto";

const sha1Git = (b) =>
  createHash("sha1")
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest("hex");
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

/**
 * repos: { "org/name": { files: { name: bytes|string }, commit?, tags?: {tag: commit}, gated?: bool } }
 * Files of at least `lfsFrom` bytes (default 1024) are "large": served through the store.
 */
export async function startHub(
  repos,
  { lfsFrom = 1024, token = null, api = true, cors = false } = {},
) {
  const log = [];
  const faults = new Map(); // file name -> { drop?: n, fail?: count, slowMs?, corrupt? }
  const blobs = new Map(); // sha256 -> bytes
  const state = {};
  for (const [id, r] of Object.entries(repos)) {
    const files = {};
    for (const [n, v] of Object.entries(r.files))
      files[n] = Buffer.from(typeof v === "string" ? v : v);
    const commit =
      r.commit ??
      createHash("sha1")
        .update(id + JSON.stringify(Object.keys(files)))
        .digest("hex");
    state[id] = { ...r, files, commit };
    for (const b of Object.values(files)) if (b.length >= lfsFrom) blobs.set(sha256(b), b);
  }
  let base;
  let storeBase = "";
  const handler = (req, res) => {
    const url = new URL(req.url, "http://x");
    const entry = {
      method: req.method,
      path: decodeURIComponent(url.pathname),
      headers: req.headers,
    };
    log.push(entry);
    res.on("finish", () => (entry.status = res.statusCode));
    if (cors) {
      res.setHeader("Access-Control-Allow-Origin", "*");
      res.setHeader(
        "Access-Control-Expose-Headers",
        "ETag, X-Repo-Commit, X-Error-Code, X-Error-Message, X-Linked-Etag, X-Linked-Size, Content-Range, Content-Length",
      );
      if (req.method === "OPTIONS") {
        res.writeHead(204, {
          "Access-Control-Allow-Methods": "GET, HEAD",
          "Access-Control-Allow-Headers": "authorization, range, if-none-match",
        });
        return res.end();
      }
    }
    const send = (status, headers = {}, body) => {
      res.writeHead(status, headers);
      res.end(req.method === "HEAD" ? undefined : body);
    };
    const p = decodeURIComponent(url.pathname);
    if (p.startsWith("/store/"))
      return serveBody(req, res, p.slice(7), blobs.get(p.slice(7)), faults, p);
    let m = /^\/api\/models\/([^/]+(?:\/[^/]+)?)(?:\/revision\/([^/]+))?$/.exec(p);
    if (m && api) {
      const r = state[m[1]];
      if (!r) return send(401, { "X-Error-Code": "RepoNotFound" }, "{}");
      if (r.gated && req.headers.authorization !== `Bearer ${token}`)
        return send(401, { "X-Error-Code": "GatedRepo" }, "{}");
      const rev = m[2] ?? "main";
      const commit = rev === "main" || rev === r.commit ? r.commit : r.tags?.[rev];
      if (!commit) return send(404, { "X-Error-Code": "RevisionNotFound" }, "{}");
      return send(
        200,
        { "Content-Type": "application/json" },
        JSON.stringify({
          id: m[1],
          sha: commit,
          siblings: Object.keys(r.files).map((rfilename) => ({ rfilename })),
        }),
      );
    }
    m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    if (!m) return send(404, {}, "");
    const [, id, rev, file] = m;
    const r = state[id];
    if (!r)
      return send(
        401,
        { "X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found" },
        "",
      );
    if (r.gated && req.headers.authorization !== `Bearer ${token}`)
      return send(
        401,
        { "X-Error-Code": "GatedRepo", "X-Error-Message": "Access to this repo is restricted" },
        "",
      );
    const commit = rev === "main" || rev === r.commit ? r.commit : r.tags?.[rev];
    if (!commit) return send(404, { "X-Error-Code": "RevisionNotFound" }, "");
    const b = r.files[file];
    if (!b)
      return send(
        404,
        {
          "X-Error-Code": "EntryNotFound",
          "X-Repo-Commit": commit,
          "X-Error-Message": "Entry not found",
        },
        "",
      );
    if (b.length >= lfsFrom) {
      const h = sha256(b);
      return send(302, {
        Location: `${storeBase}/store/${h}`,
        "X-Repo-Commit": commit,
        "X-Linked-Etag": `"${h}"`,
        "X-Linked-Size": String(b.length),
        ETag: `"${sha1Git(b)}"`,
        "Content-Length": "0",
      });
    }
    res.setHeader("X-Repo-Commit", commit);
    res.setHeader("ETag", `"${sha1Git(b)}"`);
    return serveBody(req, res, file, b, faults, p);
  };
  // the hub and its file store (another origin, as the hub's CDN is another host)
  const server = createServer(handler);
  const store = createServer(handler);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  await new Promise((r) => store.listen(0, "127.0.0.2", r)); // loopback too, another host
  base = `http://127.0.0.1:${server.address().port}`;
  storeBase = `http://127.0.0.2:${store.address().port}`;
  return {
    url: base,
    log,
    faults,
    state,
    requests: (re, method = "GET") => log.filter((l) => l.method === method && re.test(l.path)),
    close: () =>
      Promise.all(
        [server, store].map(
          (s) =>
            new Promise((r) => {
              s.closeAllConnections?.();
              s.close(r);
            }),
        ),
      ),
  };
}

function serveBody(req, res, key, body, faults, path) {
  if (!body) {
    res.writeHead(404);
    return res.end();
  }
  const name = path.split("/").pop();
  const f = faults.get(name) ?? faults.get(key);
  if (f?.fail > 0 && req.method === "GET") {
    f.fail--;
    res.writeHead(500);
    return res.end("fault");
  }
  let data = body;
  if (f?.corrupt) {
    data = Buffer.from(body);
    data[data.length >> 1] ^= 1;
  }
  let a = 0;
  const m = /bytes=(\d+)-(\d+)?/.exec(req.headers.range ?? "");
  const etag = `"${createHash("sha256").update(body).digest("hex")}"`;
  const headers = { "Accept-Ranges": "bytes", ETag: res.getHeader("etag") ?? etag };
  if (req.headers["if-none-match"] === headers.ETag) {
    res.writeHead(304, headers);
    return res.end();
  }
  if (m) {
    a = Number(m[1]);
    if (a >= data.length) {
      res.writeHead(416, { "Content-Range": `bytes */${data.length}` });
      return res.end();
    }
    const e = m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
    data = data.subarray(a, e + 1);
    res.writeHead(206, {
      ...headers,
      "Content-Length": data.length,
      "Content-Range": `bytes ${a}-${a + data.length - 1}/${body.length}`,
    });
  } else res.writeHead(200, { ...headers, "Content-Length": data.length });
  if (req.method === "HEAD") return res.end();
  if (f?.drop !== undefined && f.drop >= 0 && req.method === "GET") {
    const n = f.drop;
    f.drop = -1; // once
    res.write(data.subarray(0, Math.max(0, n - a)));
    return setTimeout(() => res.socket.destroy(), 300);
  }
  if (f?.slowMs) {
    const chunk = Math.max(1, data.length >> 3);
    let at = 0;
    const tick = () => {
      if (at >= data.length) return res.end();
      res.write(data.subarray(at, at + chunk));
      at += chunk;
      setTimeout(tick, f.slowMs);
    };
    return tick();
  }
  res.end(data);
}
