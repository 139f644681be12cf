import { stepTypes } from '../steps/registry.ts';
import { buildPlaybookSchema } from './schema.ts';

/** The exact text of schemas/playbook.schema.json (a unit test keeps the file current). */
export function playbookSchemaText(): string {
  const schemas = Object.fromEntries([...stepTypes].map(([n, s]) => [n, s.argsSchema]));
  const descriptions = Object.fromEntries([...stepTypes].map(([n, s]) => [n, s.description]));
  return `${JSON.stringify(buildPlaybookSchema(schemas, descriptions), null, 2)}\n`;
}
