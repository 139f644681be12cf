// `npm run schemas`: regenerates schemas/playbook.schema.json from the step registry.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { playbookSchemaText } from './schema-text.ts';

const target = fileURLToPath(new URL('../../schemas/playbook.schema.json', import.meta.url));
writeFileSync(target, playbookSchemaText());
process.stdout.write(`wrote ${target}\n`);
