#!/usr/bin/env node
// The installed command: runs the compiled CLI (built by `npm ci` through the `prepare` script).
import { main } from '../dist/src/cli/main.js';
import { termOf } from '../dist/src/cli/render/term.js';
// A reader that stops early (`iommu-model scenarios | head`) closes the pipe: stop quietly, as
// a Unix filter does, instead of dying on an unhandled EPIPE.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.exitCode = await main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stderr.isTTY),
  term: termOf(Boolean(process.stdout.isTTY), process.stdout.columns, process.env),
});
