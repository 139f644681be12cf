// `npm run schemas`: regenerates schemas/playbook.schema.json from the step registry, and the
// backend keys of schemas/inventory.schema.json from src/ramster/model.ts and src/modern/model.ts.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inventorySchemaText } from '../inventory/schema.ts';
import { playbookSchemaText } from './schema-text.ts';

const target = fileURLToPath(new URL('../../schemas/playbook.schema.json', import.meta.url));
writeFileSync(target, playbookSchemaText());
process.stdout.write(`wrote ${target}\n`);
const inventory = fileURLToPath(new URL('../../schemas/inventory.schema.json', import.meta.url));
writeFileSync(inventory, inventorySchemaText());
process.stdout.write(`wrote ${inventory}\n`);
