/** One readable line per finding, for logs and the CLI. */
import type { Finding } from './types.js';

export function describeFinding(f: Finding): string {
  switch (f.kind) {
    case 'checksum-mismatch':
      return `checksum-mismatch: ${f.name} was edited after it was applied`;
    case 'drift':
      return `drift: the live schema differs from the recorded schema of ${f.revision}` +
        (f.differences.length ? `: ${f.differences.join('; ')}` : '');
    case 'ambiguous-match': {
      const said = (f.probes ?? []).map((p) => `${p.name}: ${p.present === null ? `not asked (${p.unanswered ?? 'no answer'})` : p.present ? 'present' : 'absent'}`);
      const how = f.chosen === null ? '' : f.decidedBy?.length ? ` (stamping ${f.chosen}, as the probes of ${f.decidedBy.join(' and ')} say)` : ` (stamping ${f.chosen})`;
      return `ambiguous-match: the schema matches ${f.revisions.join(', ')}${how}` + (said.length ? `; probes: ${said.join(', ')}` : '');
    }
    case 'missing-fingerprints':
      return `missing-fingerprints: ${f.reason}`;
    case 'duplicate-history':
      return `duplicate-history: the history names ${f.names.join(', ')} more than once, which plain node-pg-migrate refuses to run on; ${f.settle} writes each name once`;
    case 'invalid-index':
      return `invalid-index: ${f.index} on ${f.table} is invalid (a CREATE INDEX CONCURRENTLY failed, or is still running); ` +
        `${f.clear} clears it`;
  }
}
