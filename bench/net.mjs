// The `net.*` figures of `npm run bench`, sync through a real relay process on 127.0.0.1 (each part
// starts its own through the CLI and stops it by its PID, net-relay.mjs): what the relay stores
// with 50 clients pushing at once against one client alone (net-push.mjs), the latency from a
// commit on one device to the row on another over WebSockets against a Ping round trip
// (net-live.mjs), and a new device catching up through the relay over HTTP against importing the
// same changes as a bundle (net-catchup.mjs). Each part is bounded by its own timeouts and fails
// with an error rather than hanging; every figure says what it measured and over how many rounds.

import { catchupFigure } from "./net-catchup.mjs";
import { liveFigures } from "./net-live.mjs";
import { pushFigure } from "./net-push.mjs";

/** Every `net.*` figure: `rounds` for the push and catch-up figures, `rows` for the catch-up. */
export async function netFigures({ rounds, rows, progress, median }) {
  return [
    ...(await liveFigures({ progress, median })),
    await catchupFigure({ rounds, rows, progress, median }),
    await pushFigure({ rounds, progress, median }),
  ];
}
