#!/usr/bin/env node
// Runs the compiled CLI in dist/ (plain JS, no TypeScript loader). `npm run build` writes it;
// `npm ci` and `npm pack` run the build through the `prepare` script.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`ramster-provision: ${entry.pathname} is missing: run \`npm run build\` (npm ci does it)\n`);
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
