// The one entry of the OPFS worker code (js/worker/) for the rest of the package: how a page opens
// a database through the package worker, and how a dedicated worker opens one for itself. Nothing
// outside js/worker/ imports any other file of it; js/worker/host.ts is the package worker's own
// script, loaded by URL.

export { openInThisWorker } from "./dedicated.js";
export { openThroughPackageWorker } from "./client.js";
