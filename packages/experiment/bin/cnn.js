#!/usr/bin/env node
// The compiled CLI (built by `tsc -b`, which `npm ci` runs through the root `prepare` script).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
