// The Cloudflare Worker run by tests/smoke/workerd.mjs: imports the package's workerd loader and
// answers every request with the scenario's outcome as JSON.

import * as api from "../../dist/load/workerd.js";
import { scenario } from "./scenario.mjs";

export default {
  async fetch() {
    try {
      return Response.json({ ok: true, summary: await scenario(api) });
    } catch (e) {
      return Response.json({ ok: false, error: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};
