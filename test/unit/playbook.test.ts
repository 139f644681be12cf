import { describe, expect, it } from 'vitest';
import { InputError, formatDiagnostic } from '../../src/input/diagnostics.ts';
import { loadPlaybookText } from '../../src/playbook/load.ts';

function errors(text: string): string[] {
  try {
    loadPlaybookText('pb.yaml', text);
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.map(formatDiagnostic);
    throw e;
  }
  throw new Error('expected an InputError');
}

describe('playbook loading', () => {
  it('reads plays, steps, handlers and their locations', () => {
    const pb = loadPlaybookText(
      'pb.yaml',
      `- name: p
  hosts: lab
  vars: {x: 1}
  steps:
    - name: s1
      file: {path: /etc/a, content: "a"}
      tags: [conf]
      notify: [h]
      barrier: cluster
      timeout_s: 5
    - command: {cmd: "true", creates: /x}
  handlers:
    - name: h
      command: {cmd: "true"}
`,
    );
    const [play] = pb.plays;
    expect(play.hosts).toBe('lab');
    expect(play.steps.map((s) => [s.name, s.type, s.loc.line, s.loc.col])).toEqual([
      ['s1', 'file', 5, 7],
      ['command true', 'command', 11, 7],
    ]);
    expect(play.steps[0]).toMatchObject({ tags: ['conf'], notify: ['h'], barrier: 'cluster', timeoutS: 5 });
    expect(play.handlers.map((h) => h.name)).toEqual(['h']);
  });

  it('reports every problem at once, each with file:line:col and a hint', () => {
    const out = errors(`- hosts: all
  steps:
    - fiel: {path: /etc/a}
    - file: {path: /etc/a, contnet: x}
    - name: two
      file: {path: /etc/a}
      command: {cmd: "true"}
    - command: {cmd: "true"}
      when: "x == "
    - command: {cmd: "true"}
      notify: [missing]
  handlrs: []
`);
    expect(out).toEqual([
      "pb.yaml:3:7: error: unknown step type 'fiel'\n  hint: did you mean 'file'?",
      "pb.yaml:4:28: error: unknown key 'contnet' in 'file' step\n  hint: did you mean 'content'?",
      "pb.yaml:7:7: error: step has two step types ('file' and 'command')\n  hint: split it into two steps",
      "pb.yaml:9:19: error: bad 'when' expression: expression ends too early\n  hint: conditions look like: facts.os_family == 'debian' and not ramster.node.targets",
      "pb.yaml:11:16: error: step 'command true' notifies unknown handler 'missing'\n  hint: define it under 'handlers:' of this play",
      "pb.yaml:12:3: error: unknown key 'handlrs' in play\n  hint: did you mean 'handlers'?",
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(errors('- hosts: all\n  steps: [\n')[0]).toMatch(/^pb\.yaml:\d+:\d+: error: YAML: /);
  });

  it('leaves templated values to be checked after interpolation', () => {
    expect(() =>
      loadPlaybookText('pb.yaml', `- hosts: all\n  steps:\n    - command: {cmd: "true", timeout_s: "{{ t }}"}\n`),
    ).not.toThrow();
  });
});
