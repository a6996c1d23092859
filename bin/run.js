#!/usr/bin/env -S node --max-semi-space-size=64
// The V8 flag above: a 64 MiB young-generation semi-space (default 16 MiB on Node 20). The speed
// layer's `stream` allocates short-lived objects per event (decode, ledger steps, checkpoint JSON)
// and with the default semi-space it spent 36% of its time in scavenges; at 64 MiB that was 26% and
// the events per CPU-second rose 25% (bench/speed-users-core.ts, 300k events/24k users: 9,069 ->
// 11,305; RSS +60 MiB). V8 reads it only at start-up (v8.setFlagsFromString here measured no gain),
// so it is in the shebang; `node bin/run.js stream` needs NODE_OPTIONS=--max-semi-space-size=64
// (docs/runbook.md).
import { execute } from '@oclif/core';

// Everything the project writes (lake, state, logs, ledgers, credentials) holds users' data or
// secrets: private to the user by default (files 0600, directories 0700).
process.umask(0o077);

await execute({ dir: import.meta.url });
