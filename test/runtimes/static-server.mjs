// A tiny static file server on loopback for the browser check, the browser example and the
// workerd bert-base check: the repository at /, the reference fixtures at /fixtures/. GET/HEAD
// only, single byte ranges (Range: bytes=a-b, as the library's URL loader asks), no directory
// listing.
import { createServer } from "node:http";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".css": "text/css",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

/**
 * Serves `mounts` ({ "/prefix/": "/abs/dir" }, longest prefix first) on 127.0.0.1.
 * Resolves to { url, close() }.
 */
export function serve(mounts, { port = 0, log = false } = {}) {
  const entries = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  const server = createServer(async (req, res) => {
    try {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405).end();
        return;
      }
      const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      const mount = entries.find(([prefix]) => path.startsWith(prefix));
      if (!mount) return notFound(res);
      const root = resolve(mount[1]);
      let file = resolve(root, "." + path.slice(mount[0].length - 1));
      if (file !== root && !file.startsWith(root + sep)) return notFound(res);
      let st = await stat(file).catch(() => null);
      if (st?.isDirectory()) {
        file = resolve(file, "index.html");
        st = await stat(file).catch(() => null);
      }
      if (!st?.isFile()) return notFound(res);
      // one range, "bytes=a-b" / "bytes=a-": 206 with Content-Range; past the end: 416
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      let start = 0;
      let end = st.size - 1;
      if (m) {
        start = Number(m[1]);
        end = m[2] ? Math.min(Number(m[2]), st.size - 1) : st.size - 1;
        if (start >= st.size) {
          res.writeHead(416, { "content-range": `bytes */${st.size}` }).end();
          return;
        }
      }
      res.writeHead(m ? 206 : 200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "content-length": end - start + 1,
        "accept-ranges": "bytes",
        ...(m ? { "content-range": `bytes ${start}-${end}/${st.size}` } : {}),
        "cache-control": "no-store",
        // cross-origin isolation: SharedArrayBuffer, so WebAssembly threads, in the page
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
      });
      if (log) console.error(`GET ${path}`);
      if (req.method === "HEAD") return res.end();
      if (end < start) return res.end(); // an empty file
      createReadStream(file, { start, end }).pipe(res);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  return new Promise((ok, fail) => {
    server.on("error", fail);
    server.listen(port, "127.0.0.1", () => {
      const { port } = server.address();
      ok({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

function notFound(res) {
  res.writeHead(404, { "content-type": "text/plain" }).end("not found");
}
