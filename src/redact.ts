/**
 * Passwords never appear in any output (CONTRACT.md "Exit codes"). Every
 * password the settings see is registered here, and every line the runner
 * writes (logs, errors, JSON) passes through `redact`.
 */
const secrets = new Set<string>();

export function registerSecret(secret: string): void {
  // Very short secrets would mask ordinary words; they are still never printed
  // by us, since URLs are always shown masked.
  if (secret.length >= 3) secrets.add(secret);
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret && encoded.length >= 3) secrets.add(encoded);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('****');
  // A connection string echoed back by a driver error: mask its password too.
  return out.replace(/(postgres(?:ql)?:\/\/[^:@/\s]*:)[^@\s]*@/gi, '$1****@');
}
