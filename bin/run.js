#!/usr/bin/env node
import { execute } from '@oclif/core';

// Everything the project writes (lake, state, logs, ledgers, credentials) holds users' data or
// secrets: private to the user by default (files 0600, directories 0700).
process.umask(0o077);

await execute({ dir: import.meta.url });
