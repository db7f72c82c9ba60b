// Serves the browser example on http://127.0.0.1:PORT: this repository at / (the page, dist/ and
// build/simdbert.wasm) and MODEL_DIR at /model/.
//   node examples/browser/serve.mjs MODEL_DIR [--port 8080]
// (With simdbert from npm, serve node_modules/simdbert the same way, or use a bundler: pass the
// .wasm's URL as { wasm } if the bundler moves it.)
import { createServer } from "node:http";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const modelDir = args[0] && !args[0].startsWith("--") ? resolve(args[0]) : null;
const portArg = args.indexOf("--port");
const port = portArg >= 0 ? Number(args[portArg + 1]) : 8080;
const repo = resolve(fileURLToPath(new URL("../../", import.meta.url)));
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
};

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
  const [root, rel] =
    path.startsWith("/model/") && modelDir ? [modelDir, path.slice(7)] : [repo, path.slice(1)];
  let file = resolve(root, rel);
  if (file !== root && !file.startsWith(root + sep)) return res.writeHead(404).end();
  let st = await stat(file).catch(() => null);
  if (st?.isDirectory()) st = await stat((file = resolve(file, "index.html"))).catch(() => null);
  if (!st?.isFile()) return res.writeHead(404).end("not found");
  res.writeHead(200, {
    "content-type": types[extname(file)] ?? "application/octet-stream",
    "content-length": st.size,
  });
  createReadStream(file).pipe(res);
});
server.listen(port, "127.0.0.1", () => {
  const { port } = server.address();
  console.log(
    `http://127.0.0.1:${port}/examples/browser/${modelDir ? `  (model: ${modelDir} at /model/)` : "  (no MODEL_DIR: point the page at a model URL)"}`,
  );
});
