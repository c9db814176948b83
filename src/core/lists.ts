/**
 * How the runner words lists of names and orders strings: one place, so a
 * reason, an error and a `status` line cut a long list the same way and every
 * machine sorts the same. Pure; imports nothing.
 */

/**
 * How many names a one-line reason lists before it says how many more: a
 * list this short is never cut (the detector's reasons, `status` and the
 * CLI's lines).
 */
export const LISTED = 10;

export interface ListWording {
  /** Between two shown items (default `, `). */
  readonly separator?: string;
  /** Before the count of the rest (default ` and `): `; and ` after a `; ` list. */
  readonly before?: string;
  /** After "N more": where the whole list is (default nothing). */
  readonly after?: string;
}

/**
 * The items, all of them up to `shown`, else the first `shown` and how many
 * more: "a, b and 3 more", "x; y; and 3 more".
 */
export function listFirst(items: readonly string[], shown: number = LISTED, { separator = ', ', before = ' and ', after = '' }: ListWording = {}): string {
  if (items.length <= shown) return items.join(separator);
  return `${items.slice(0, shown).join(separator)}${before}${items.length - shown} more${after}`;
}

/** Readable differences on one line: the first `shown`, `; `-separated, then how many more. */
export function listDifferences(differences: readonly string[], shown: number): string {
  return listFirst(differences, shown, { separator: '; ', before: '; and ' });
}

/**
 * Strings by UTF-16 code units. `localeCompare` is not used on purpose: its
 * order depends on the ICU version and locale of the machine, and the schema
 * model, the desired schema's files and tie-broken migration names are
 * compared across machines.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
