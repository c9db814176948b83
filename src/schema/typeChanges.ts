/**
 * What changing a column from one type to another does to its values and
 * its table, for the types `format_type` prints. Pure: no I/O.
 *
 * Only conversions known to keep every value are `lossless`; any other
 * (narrowing, or between unrelated types, where a cast may fail or round)
 * needs the caller's consent to lose data. `rewrite` follows
 * ATColumnChangeRequiresRewrite in src/backend/commands/tablecmds.c:
 * binary-coercible changes (varchar(n) to a longer varchar or text, a
 * numeric with more precision and the same scale, a timestamp with more
 * fractional digits) keep the table as it is.
 */
export interface TypeChange {
  readonly lossless: boolean;
  readonly rewrite: boolean;
  /** PostgreSQL converts without `USING` (an assignment cast exists). */
  readonly implicit: boolean;
}

interface ParsedType {
  readonly name: string;
  readonly modifiers: readonly number[];
  readonly arrayDepth: number;
}

export function parseTypeName(type: string): ParsedType {
  let text = type.trim();
  let arrayDepth = 0;
  while (text.endsWith('[]')) {
    text = text.slice(0, -2);
    arrayDepth++;
  }
  const match = /^([^(]*)\(([^)]*)\)(.*)$/.exec(text);
  if (match === null) return { name: text, modifiers: [], arrayDepth };
  const modifiers = match[2]!.split(',').map((m) => Number(m.trim()));
  return { name: `${match[1]!.trim()}${match[3]!.trimEnd()}`.replace(/\s+/g, ' ').trim(), modifiers, arrayDepth };
}

const INTEGER_WIDTHS: Readonly<Record<string, number>> = { smallint: 2, integer: 4, bigint: 8 };
const FLOAT_WIDTHS: Readonly<Record<string, number>> = { real: 4, 'double precision': 8 };
const BOUNDED_STRINGS = new Set(['character varying', 'bit varying']);
const PRECISION_TYPES = new Set([
  'timestamp without time zone',
  'timestamp with time zone',
  'time without time zone',
  'time with time zone',
  'interval',
]);
const TIMESTAMPS = new Set(['timestamp without time zone', 'timestamp with time zone']);

const SAME: TypeChange = { lossless: true, rewrite: false, implicit: true };
const WIDER_IN_PLACE: TypeChange = { lossless: true, rewrite: false, implicit: true };
const WIDER_REWRITE: TypeChange = { lossless: true, rewrite: true, implicit: true };
const NARROWER: TypeChange = { lossless: false, rewrite: true, implicit: true };
const UNRELATED: TypeChange = { lossless: false, rewrite: true, implicit: false };

export function classifyTypeChange(from: string, to: string): TypeChange {
  if (from === to) return SAME;
  const a = parseTypeName(from);
  const b = parseTypeName(to);
  if (a.arrayDepth !== b.arrayDepth) return UNRELATED;
  if (a.name === b.name) return sameTypeNewModifiers(a, b);
  if (BOUNDED_STRINGS.has(a.name) && b.name === 'text') return a.name === 'character varying' ? WIDER_IN_PLACE : UNRELATED;
  if (a.name === 'text' && b.name === 'character varying') return b.modifiers.length === 0 ? WIDER_IN_PLACE : NARROWER;
  const intA = INTEGER_WIDTHS[a.name];
  const intB = INTEGER_WIDTHS[b.name];
  if (intA !== undefined && intB !== undefined) return intB > intA ? WIDER_REWRITE : NARROWER;
  if (intA !== undefined && b.name === 'numeric') return b.modifiers.length === 0 ? WIDER_REWRITE : NARROWER;
  const floatA = FLOAT_WIDTHS[a.name];
  const floatB = FLOAT_WIDTHS[b.name];
  if (floatA !== undefined && floatB !== undefined) return floatB > floatA ? WIDER_REWRITE : NARROWER;
  if (TIMESTAMPS.has(a.name) && TIMESTAMPS.has(b.name)) return WIDER_REWRITE;
  return UNRELATED;
}

function sameTypeNewModifiers(a: ParsedType, b: ParsedType): TypeChange {
  if (a.name === 'numeric') {
    if (b.modifiers.length === 0) return WIDER_IN_PLACE;
    if (a.modifiers.length === 0) return NARROWER;
    const [p1 = 0, s1 = 0] = a.modifiers;
    const [p2 = 0, s2 = 0] = b.modifiers;
    if (s2 === s1 && p2 >= p1) return WIDER_IN_PLACE;
    if (s2 >= s1 && p2 - s2 >= p1 - s1) return WIDER_REWRITE;
    return NARROWER;
  }
  if (BOUNDED_STRINGS.has(a.name) || PRECISION_TYPES.has(a.name) || a.name === 'character' || a.name === 'bit') {
    const n1 = a.modifiers[0];
    const n2 = b.modifiers[0];
    if (n2 === undefined) return a.name === 'character' || a.name === 'bit' ? UNRELATED : WIDER_IN_PLACE;
    if (n1 === undefined) return NARROWER;
    if (n2 < n1) return NARROWER;
    // char(n) pads to its length: a longer one rewrites the values.
    return a.name === 'character' || a.name === 'bit' ? (a.name === 'bit' ? UNRELATED : WIDER_REWRITE) : WIDER_IN_PLACE;
  }
  return UNRELATED;
}
