/** Schema properties shared by every step that writes one file (file, template, blockinfile,
 *  lineinfile): how the written file looks and how it is written. */
export type FileAttrArgs = {
  mode?: string | number; // a YAML number 644 means the digits typed (normalizeMode)
  owner?: string;
  group?: string;
  backup?: boolean;
  validate?: string;
  sensitive?: boolean;
};

/** `validate` is a shell command (see StepType.shellArgs). */
export const FILE_SHELL_ARGS = ['validate'];

export const fileAttrProperties = {
  mode: {
    type: ['string', 'integer'],
    pattern: '^[0-7]{3,4}$',
    description: 'Octal permission bits, e.g. "0644" (quote it: YAML reads 0644 as a number).',
  },
  owner: { type: 'string', description: 'User that owns the file (name or numeric id).' },
  group: { type: 'string', description: 'Group of the file (name or numeric id).' },
  backup: { type: 'boolean', description: 'Keep the previous version as <path>.<timestamp>~ before replacing it.' },
  validate: {
    type: 'string',
    description:
      'Shell command that must accept the new content before it replaces the old file; %s is the temporary file (appended when absent), e.g. "visudo -cf %s". A {{ value }} in it must be a plain word or written {{ value | quote }}.',
  },
  sensitive: { type: 'boolean', description: 'The content is secret: no diff and no values in logs, reports or JSON.' },
} as const;
