// scripts/serve.mjs: a dependency-free static file server for the repository root, so that /www/
// (the demo) and /dist/ (the built package) both resolve; / redirects to /www/. Binds 127.0.0.1.
//   node scripts/serve.mjs [port]      (default 8080; 0 picks a free port)
// Also importable: `serve({ port })` resolves to the running server (the Chromium smoke test uses it).

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

/** Maps a URL path to a file under `root` (which ends with a separator), or null if it escapes. */
function resolvePath(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const file = join(root, decoded);
  return file.startsWith(root) || `${file}${sep}` === root ? file : null;
}

async function handle(root, request, response) {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  const { pathname } = new URL(request.url ?? "/", "http://127.0.0.1");
  if (pathname === "/") {
    response.writeHead(302, { location: "/www/" }).end();
    return;
  }
  let file = resolvePath(root, pathname);
  let info = file && (await stat(file).catch(() => null));
  if (info?.isDirectory()) {
    if (!pathname.endsWith("/")) {
      response.writeHead(301, { location: `${pathname}/` }).end();
      return;
    }
    file = join(file, "index.html");
    info = await stat(file).catch(() => null);
  }
  if (!file || !info?.isFile()) {
    response.writeHead(404, { "content-type": MIME[".txt"] }).end(`not found: ${pathname}\n`);
    return;
  }
  response.writeHead(200, {
    "content-type": MIME[extname(file)] ?? "application/octet-stream",
    "content-length": info.size,
    "cache-control": "no-store",
  });
  if (request.method === "HEAD") response.end();
  else createReadStream(file).pipe(response);
}

/**
 * Starts the server on 127.0.0.1.
 * @param {{ port?: number, root?: string }} options port 0 (the default) picks a free port
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export function serve({ port = 0, root = ROOT } = {}) {
  const base = resolve(root) + sep;
  const server = createServer((request, response) => {
    handle(base, request, response).catch((e) => {
      console.error(`serve: ${request.url}: ${e}`);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address();
      resolve({
        url: `http://127.0.0.1:${bound}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? 8080);
  const { url } = await serve({ port });
  console.log(`serving ${ROOT} at ${url}`);
  console.log(`demo: ${url}www/`);
}
