// The one entry of the OPFS worker code (js/worker/) for the rest of the package: how a page opens
// a database through the package worker, how a dedicated worker opens one for itself, and how a
// page starts a sync loop in the package worker for a database held there. Nothing
// outside js/worker/ imports any other file of it; js/worker/host.ts is the package worker's own
// script, loaded by URL.

export { openInThisWorker } from "./dedicated.js";
export { openThroughPackageWorker } from "./client.js";
export { startSyncInPackageWorker } from "./sync-client.js";
