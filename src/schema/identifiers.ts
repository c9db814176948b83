/**
 * Quoting of identifiers and literals in SQL the planner writes, by
 * PostgreSQL's own rules, so generated SQL reads like `pg_dump`'s and
 * round-trips through the catalog unchanged. Pure: no I/O.
 */

/**
 * Keywords that `quote_ident` quotes: every keyword whose category is not
 * UNRESERVED_KEYWORD (RESERVED_KEYWORD, COL_NAME_KEYWORD,
 * TYPE_FUNC_NAME_KEYWORD) in PostgreSQL's src/include/parser/kwlist.h, as
 * `pg_get_keywords()` lists them on PostgreSQL 17 (a superset of 12-16's).
 * Quoting a word that an older server would leave bare is harmless: the
 * quoted name means the same.
 */
const KEYWORDS_QUOTED_BY_QUOTE_IDENT: ReadonlySet<string> = new Set(
  `all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean
   both case cast char character check coalesce collate collation column concurrently constraint
   create cross current_catalog current_date current_role current_schema current_time
   current_timestamp current_user dec decimal default deferrable desc distinct do else end except
   exists extract false fetch float for foreign freeze from full grant greatest group grouping having
   ilike in initially inner inout int integer intersect interval into is isnull join json json_array
   json_arrayagg json_exists json_object json_objectagg json_query json_scalar json_serialize
   json_table json_value lateral leading least left like limit localtime localtimestamp merge_action
   national natural nchar none normalize not notnull null nullif numeric offset on only or order out
   outer overlaps overlay placing position precision primary real references returning right row
   select session_user setof similar smallint some substring symmetric system_user table tablesample
   then time timestamp to trailing treat trim true union unique user using values varchar variadic
   verbose when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces
   xmlparse xmlpi xmlroot xmlserialize xmltable`.split(/\s+/),
);

/** True when `word` is a keyword that `quote_ident` would quote. */
export function isQuotedKeyword(word: string): boolean {
  return KEYWORDS_QUOTED_BY_QUOTE_IDENT.has(word);
}

/**
 * `quote_ident`: the name bare when it is all lower-case letters, digits and
 * underscores, starts with a letter or underscore and is not a keyword that
 * needs quoting; otherwise in double quotes with `"` doubled. Mirrors
 * `quote_identifier` in src/backend/utils/adt/ruleutils.c.
 */
export function quoteIdentifier(name: string): string {
  if (/^[a-z_][a-z0-9_]*$/.test(name) && !KEYWORDS_QUOTED_BY_QUOTE_IDENT.has(name)) return name;
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * `quote_literal`: a string constant with `'` doubled; with a backslash in
 * the text, an `E'...'` constant with backslashes doubled, which means the
 * same whatever `standard_conforming_strings` is.
 */
export function quoteLiteral(text: string): string {
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}
