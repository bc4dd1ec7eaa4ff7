// `sqlite-sync-wasm/relay/node`: what runs the relay on Node (and, for the store, Deno): the
// SQLite file store and the node:http + ws server. The CLI (cli.ts) is these two put together.

export { openSqliteStore, type SqliteDriver, type SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
export { serve, type RelayServer, type ServeOptions } from "./serve.js";
