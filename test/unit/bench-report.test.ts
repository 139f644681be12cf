import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { updateReadme } from '../bench/report.ts';

// `npm run bench` rewrites the generated part of the README's "## Speed" section; the
// subsections written by hand below it (other benchmarks' figures) must survive.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-bench-report-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('bench README update', () => {
  it('replaces the Speed section up to its first subsection and keeps the rest', () => {
    const file = join(dir, 'README.md');
    writeFileSync(
      file,
      '# t\n\n## Speed\n\nold table\n\n### Connection set-up\n\nhand figures\n\n## Architecture\n\narch\n',
    );
    updateReadme(file, '## Speed\n\nnew table\n');
    expect(readFileSync(file, 'utf8')).toBe(
      '# t\n\n## Speed\n\nnew table\n\n### Connection set-up\n\nhand figures\n\n## Architecture\n\narch\n',
    );
  });

  it('without subsections replaces up to the next section; without a Speed section adds one before Architecture', () => {
    const file = join(dir, 'README.md');
    writeFileSync(file, '# t\n\n## Speed\n\nold\n\n## Architecture\n\narch\n');
    updateReadme(file, '## Speed\n\nnew\n');
    expect(readFileSync(file, 'utf8')).toBe('# t\n\n## Speed\n\nnew\n\n## Architecture\n\narch\n');
    writeFileSync(file, '# t\n\n## Architecture\n\narch\n');
    updateReadme(file, '## Speed\n\nnew\n');
    expect(readFileSync(file, 'utf8')).toBe('# t\n\n## Speed\n\nnew\n\n## Architecture\n\narch\n');
  });
});
