import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderTemplate } from '../../../src/steps/render.ts';
import { templateStep } from '../../../src/steps/template.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { expectConverges, makeCtx, snapshot, tempRoot } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const vars = {
  cluster: { name: 'ramster', node: { number: 1 } },
  port: 7777,
  enabled: true,
  hosts: ['a', 'b'],
  empty: null,
};
const ctx = (apply: boolean) => makeCtx(t, apply, { vars, baseDir: join(root, 'pb') });

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot());
  t = new LocalTransport(root);
  await mkdir(join(root, 'pb'));
});
afterEach(() => cleanup());

describe('renderTemplate', () => {
  it('substitutes names, dotted paths and scalars', () => {
    expect(
      renderTemplate(
        'c={{ cluster.name }} n={{cluster.node.number}} p={{ port }} e={{ enabled }} h={{ hosts }} z=[{{ empty }}]',
        vars,
        'x',
      ),
    ).toBe('c=ramster n=1 p=7777 e=true h=["a","b"] z=[]');
  });

  it('writes a literal {{ through a quoted string', () => {
    expect(renderTemplate("a {{ '{{' }} b", vars, 'x')).toBe('a {{ b');
  });

  it('names the unknown variable and its template line, all problems at once', () => {
    const text = 'line one\nport={{ port }}\nname={{ cluster.nmae }}\nx={{ missing }}\n';
    let msg = '';
    try {
      renderTemplate(text, vars, 'pb/ramster.conf.tpl');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain(
      "pb/ramster.conf.tpl: template line 3 (name={{ cluster.nmae }}): unknown variable 'cluster.nmae' ('cluster' has no key 'nmae')",
    );
    expect(msg).toContain("pb/ramster.conf.tpl: template line 4 (x={{ missing }}): unknown variable 'missing'");
    expect(msg).toContain('hint:');
  });

  it('never evaluates code, and does not reach Object.prototype', () => {
    expect(() => renderTemplate('{{ process.exit(1) }}', vars, 'x')).toThrow(/not a variable reference/);
    expect(() => renderTemplate('{{ constructor }}', vars, 'x')).toThrow(/unknown variable 'constructor'/);
    expect(() => renderTemplate('{{ cluster.name.length }}', vars, 'x')).toThrow(/unknown variable/);
  });
});

describe('template step', () => {
  it('renders src from the playbook folder, dry run equals apply, then converges', async () => {
    await writeFile(join(root, 'pb/ramster.conf.tpl'), 'cluster:\n\tname = {{ cluster.name }}\n\tport = {{ port }}\n');
    const { dry } = await expectConverges(
      templateStep,
      { path: '/etc/ramster.conf', src: 'ramster.conf.tpl', mode: '0644' },
      ctx,
      root,
    );
    expect(dry.action).toBe('create');
    expect(dry.diff).toContain('+\tname = ramster');
    expect(await readFile(join(root, 'etc/ramster.conf'), 'utf8')).toBe('cluster:\n\tname = ramster\n\tport = 7777\n');
  });

  it('updates when a variable changes', async () => {
    await templateStep.checkApply({ path: '/etc/p', content: 'port={{ port }}\n' }, ctx(true));
    const c = await templateStep.checkApply(
      { path: '/etc/p', content: 'port={{ port }}\n' },
      makeCtx(t, true, { vars: { port: 8888 } }),
    );
    expect(c).toMatchObject({ action: 'update', summary: 'update /etc/p (content)' });
    expect(await readFile(join(root, 'etc/p'), 'utf8')).toBe('port=8888\n');
  });

  it('fails on an unknown variable before touching the host', async () => {
    const before = await snapshot(root);
    await expect(templateStep.checkApply({ path: '/etc/p', content: 'a\n{{ nope }}\n' }, ctx(true))).rejects.toThrow(
      "template for /etc/p: template line 2 ({{ nope }}): unknown variable 'nope'",
    );
    expect(await snapshot(root)).toEqual(before);
  });

  it('says where src was looked for when it is missing', async () => {
    await expect(templateStep.checkApply({ path: '/etc/p', src: 'nothere.tpl' }, ctx(false))).rejects.toThrow(
      `template source ${join(root, 'pb/nothere.tpl')} cannot be read (ENOENT)`,
    );
  });

  it('leaves the old file byte-identical when validate rejects the rendered content', async () => {
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/p'), 'port=1\n');
    const before = await snapshot(root);
    await expect(
      templateStep.checkApply(
        { path: '/etc/p', content: 'port={{ port }}\n', validate: 'grep -q port=1 %s' },
        ctx(true),
      ),
    ).rejects.toThrow(/validation failed/);
    expect(await snapshot(root)).toEqual(before);
  });
});
