#!/usr/bin/env node
// The CLI straight from its TypeScript sources through tsx, as the tests spawn it: no build
// step and never a stale dist/. The published bin (bin/ramster-provision.js) runs dist/ instead;
// test/integration/package.test.ts packs, installs and runs that one.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../../src/cli/main.ts');
process.exitCode = await main(process.argv);
