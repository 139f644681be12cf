import { fileURLToPath } from 'node:url';

/** Script that runs the CLI from src/ through tsx (`node CLI ...args`): what the tests spawn. */
export const CLI = fileURLToPath(new URL('./ramster-provision-src.js', import.meta.url));
