/**
 * apt sources for a guest image of another Debian release, from this machine's own: the same
 * mirror (never a host written into the repository), another suite (e.g. `trixie` on a
 * Debian 12 machine). Reads both formats: deb822 (`*.sources`) and one-line (`sources.list`).
 */
import { ToolError } from './errors.ts';

interface Origin {
  uri: string;
  signedBy?: string;
}

const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
/** The main archive's suites: not security (another URI) nor -updates/-backports. */
const isMainSuite = (suite: string) => /^[a-z]+$/.test(suite);
const isSecurity = (uri: string) => /security/.test(uri);

function deb822Origins(text: string): Origin[] {
  const origins: Origin[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m && !line.startsWith('#')) fields.set(m[1].toLowerCase(), m[2].trim());
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    const suites = (fields.get('suites') ?? '').split(/\s+/);
    if (fields.get('enabled') === 'no' || !types.includes('deb') || !suites.some(isMainSuite)) continue;
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean))
      if (!isSecurity(uri)) origins.push({ uri, signedBy: fields.get('signed-by') });
  }
  return origins;
}

function oneLineOrigins(text: string): Origin[] {
  const origins: Origin[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (!m || !isMainSuite(m[3]) || isSecurity(m[2])) continue;
    const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
    origins.push({ uri: m[2], signedBy });
  }
  return origins;
}

/** A deb822 sources file for `suite` from the host's main Debian mirror. */
export function suiteSources(hostSources: string, hostFile: string, suite: string): string {
  const origins = hostFile.endsWith('.sources') ? deb822Origins(hostSources) : oneLineOrigins(hostSources);
  const origin = origins[0];
  if (!origin)
    throw new ToolError(
      `no Debian mirror for the main archive in ${hostFile} (a deb line or stanza of a release suite such as bookworm)`,
      `the lab builds its ${suite} image from the mirror apt uses here: configure apt's main Debian archive first`,
    );
  return `Types: deb\nURIs: ${origin.uri}\nSuites: ${suite}\nComponents: main\nSigned-By: ${origin.signedBy ?? DEFAULT_KEYRING}\n`;
}
