/**
 * Passwords never appear in any output (CONTRACT.md "Exit codes"). Every
 * password the settings see is registered here, and every line the runner
 * writes (logs, errors, JSON) passes through `redact`.
 *
 * Two layers: the password part of any connection string is always masked;
 * a registered password is also masked wherever it appears on its own, unless
 * it is a word that output legitimately contains (a dev password "postgres"
 * would otherwise turn `postgres://postgres@db` into `****://****@db`).
 */
const secrets = new Set<string>();

/** Words that appear in normal output; masking them would hide everything and protect nothing. */
const TOO_COMMON = new Set(['postgres', 'postgresql', 'password', 'public', 'migrate', 'localhost']);

export function registerSecret(secret: string): void {
  for (const candidate of [secret, encodeURIComponent(secret)]) {
    if (candidate.length >= 4 && !TOO_COMMON.has(candidate.toLowerCase())) secrets.add(candidate);
  }
}

export function redact(text: string): string {
  // A connection string echoed back by a driver error, or printed by us.
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:@/\s]*:)[^@\s]*@/gi, '$1****@');
  for (const secret of secrets) out = out.split(secret).join('****');
  return out;
}
