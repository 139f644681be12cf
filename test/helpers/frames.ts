import { readFrames, type Frames } from '../../src/frame.ts';

/** The nonce of the shipped probe fixtures and of hand-written probe output in tests. */
export const FIXTURE_NONCE = 'f1f1f1f1f1f1f1f1f1f1f1f1';

/** The frames of a shipped fixture (written with FIXTURE_NONCE). */
export function fixtureFrames(text: string): Frames {
  return readFrames(text, FIXTURE_NONCE);
}

/** Hand-written probe output, shorthand: a line `@name [key]` is where the script called
 *  `rp_frame name [key]`; the text becomes exactly what rp_frame writes (frame.test.ts checks
 *  that against the sh writer). */
export function framedText(text: string): string {
  return text.replace(/^@(\w.*)$/gm, (_, header: string) => `\n@@rp ${FIXTURE_NONCE} ${header}`);
}

/** The frames of hand-written probe output (framedText's shorthand). */
export function framesOf(text: string): Frames {
  return fixtureFrames(framedText(text));
}

/** What a script that frames its output (src/frame.ts `framed`) would print, from framedText's
 *  shorthand: for fake transports in unit tests, which see the script and its nonce. */
export function framedAnswer(script: string, text: string): string {
  const nonce = /^rp_nonce=([0-9a-f]+)$/m.exec(script)?.[1];
  if (!nonce) return text;
  return framedText(text).replaceAll(FIXTURE_NONCE, nonce);
}
