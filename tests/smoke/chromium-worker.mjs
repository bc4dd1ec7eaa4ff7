// Module dedicated worker for the Chromium smoke page: loads the package's web loader (fetching the
// .wasm over HTTP) and posts the scenario's outcome back to the page.

import * as api from "../../dist/load/web.js";
import { scenario } from "./scenario.mjs";

try {
  postMessage({ ok: true, summary: await scenario(api) });
} catch (e) {
  postMessage({ ok: false, error: String(e?.stack ?? e) });
}
