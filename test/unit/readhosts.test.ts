import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readExitCode, readHosts } from '../../src/engine/readhosts.ts';
import { EXIT } from '../../src/engine/result.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { tempDir } from '../helpers/tmp.ts';

const connect = { acceptNewHostKeys: false, connectTimeoutMs: 2000 };

describe('the engine runs read-only commands (verify, status, doctor, facts)', () => {
  const dir = tempDir('readhosts-');
  for (const h of ['a', 'b']) mkdirSync(join(dir, h), { recursive: true });
  const inv = loadInventoryText(
    join(dir, 'inv.yaml'),
    `all:
  hosts:
    a: {address: 127.0.0.1, connection: local, root: ${dir}/a}
    b: {address: 127.0.0.1, connection: local, root: ${dir}/b}
    down: {address: 127.0.0.1, port: 1}
`,
  );

  it('answers per host in inventory order: a value, unreachable (with why), or failed (with why)', async () => {
    const reads = await readHosts(inv, { forks: 2, connect }, async (t, h) => {
      if (h === 'b') throw new Error('the probe broke');
      return (await t.exec('echo hello', { touches: [] })).stdout.trim();
    });
    expect(reads.map((r) => r.host)).toEqual(['a', 'b', 'down']);
    expect(reads[0]).toEqual({ host: 'a', value: 'hello' });
    expect(reads[1]).toEqual({ host: 'b', failed: 'the probe broke' });
    expect(reads[2]).toHaveProperty('unreachable');
  });

  it('selects by --limit and by the caller (cluster members only), and bounds every command', async () => {
    const limited = await readHosts(
      inv,
      { forks: 1, connect, limit: 'a,b', only: (h) => h !== 'b' },
      async (_t, h) => h,
    );
    expect(limited).toEqual([{ host: 'a', value: 'a' }]);
    const slow = await readHosts(inv, { forks: 1, connect, limit: 'a', commandTimeoutMs: 300 }, async (t) => {
      const r = await t.exec('sleep 5; echo late', { touches: [] });
      return r.code;
    });
    expect('value' in slow[0] ? slow[0].value : slow[0]).not.toBe(0);
  });

  it('exit codes as apply has them: 3 failed, 4 unreachable, 5 both', () => {
    expect(readExitCode(false, false)).toBe(EXIT.OK);
    expect(readExitCode(true, false)).toBe(EXIT.HOST_FAILED);
    expect(readExitCode(false, true)).toBe(EXIT.HOST_UNREACHABLE);
    expect(readExitCode(true, true)).toBe(EXIT.FAILED_AND_UNREACHABLE);
  });
});
