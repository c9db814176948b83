/**
 * The bench's generated workloads, written under bench/.work/ (gitignored).
 * Every folder is rebuilt from scratch on each bench run.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const pad = (i) => String(i).padStart(4, '0');

function freshFolder(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * 1,000 trivial `pgm.createTable` migrations, half TypeScript (odd numbers),
 * half JavaScript (even numbers), as `migrate create` writes them.
 */
export function writeModuleMigrations(dir, count) {
  freshFolder(dir);
  for (let i = 1; i <= count; i++) {
    const table = `t${pad(i)}`;
    if (i % 2) {
      writeFileSync(
        join(dir, `${pad(i)}_create_${table}.ts`),
        `import type { MigrationBuilder } from 'node-pg-migrate';

export async function up(pgm: MigrationBuilder): Promise<void> {
  pgm.createTable('${table}', { id: 'id', name: { type: 'text', notNull: true } });
}

export async function down(pgm: MigrationBuilder): Promise<void> {
  pgm.dropTable('${table}');
}
`,
      );
    } else {
      writeFileSync(
        join(dir, `${pad(i)}_create_${table}.js`),
        `/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
export const up = (pgm) => {
  pgm.createTable('${table}', { id: 'id', name: { type: 'text', notNull: true } });
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
export const down = (pgm) => {
  pgm.dropTable('${table}');
};
`,
      );
    }
  }
  return dir;
}

/** The DDL of SQL migration i: one CREATE TABLE. */
export const sqlDdlOf = (i, prefix = 't') => `CREATE TABLE ${prefix}${pad(i)} (id int primary key, v text);`;

/** `count` SQL migrations in node-pg-migrate's format (no markers: the whole file is up). */
export function writeSqlMigrations(dir, count, prefix = 't') {
  freshFolder(dir);
  for (let i = 1; i <= count; i++) {
    writeFileSync(join(dir, `${pad(i)}_create_${prefix}${pad(i)}.sql`), `${sqlDdlOf(i, prefix)}\n`);
  }
  return dir;
}

/** The same DDL as one file, for `psql --single-transaction -f`. */
export function writeConcatenatedSql(file, count, prefix = 't') {
  const lines = [];
  for (let i = 1; i <= count; i++) lines.push(sqlDdlOf(i, prefix));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** The same DDL in dbmate's format (`-- migrate:up` / `-- migrate:down`). */
export function writeDbmateMigrations(dir, count, ddlOf = (i) => sqlDdlOf(i), dropOf = (i) => `DROP TABLE t${pad(i)};`) {
  freshFolder(dir);
  for (let i = 1; i <= count; i++) {
    writeFileSync(join(dir, `${pad(i)}_create_t${pad(i)}.sql`), `-- migrate:up\n${ddlOf(i)}\n\n-- migrate:down\n${dropOf(i)}\n`);
  }
  return dir;
}

/**
 * The DDL of a large legacy table i: serial key, unique, check, foreign key to
 * the previous table, an index, a comment; a trigger and a view every 10th
 * (the same shape as bench/schemaCatalog.mjs).
 */
export function legacyTableDdl(i) {
  const statements = [
    `CREATE TABLE t${i} (id serial PRIMARY KEY, code text NOT NULL UNIQUE, amount numeric(12,2) DEFAULT 0 CHECK (amount >= 0),
       created_at timestamptz NOT NULL DEFAULT now(), parent_id int ${i > 0 ? `REFERENCES t${i - 1}(id) ON DELETE CASCADE` : ''},
       note varchar(200))`,
    `CREATE INDEX ON t${i} (created_at)`,
    `COMMENT ON TABLE t${i} IS 'table ${i}'`,
  ];
  if (i % 10 === 0) {
    statements.push(`CREATE TRIGGER t${i}_touch BEFORE UPDATE ON t${i} FOR EACH ROW EXECUTE FUNCTION touch()`);
    statements.push(`CREATE VIEW v${i} AS SELECT id, code FROM t${i} WHERE amount > 0`);
  }
  return statements.join(';\n');
}

export const LEGACY_PRELUDE = `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`;

/**
 * The legacy schema as the migrations it would have been built from: the
 * function, then one migration per 100 tables. (One 2,000-table migration
 * cannot be replayed: a transaction that creates that many relations runs
 * out of lock slots with the default max_locks_per_transaction.)
 */
export function writeLegacyMigrations(dir, tables, perMigration = 100) {
  freshFolder(dir);
  writeFileSync(join(dir, '0000_touch_function.sql'), `${LEGACY_PRELUDE};\n`);
  for (let from = 0, n = 1; from < tables; from += perMigration, n++) {
    const statements = [];
    for (let i = from; i < Math.min(from + perMigration, tables); i++) statements.push(legacyTableDdl(i));
    writeFileSync(join(dir, `${pad(n)}_tables_${from}_${Math.min(from + perMigration, tables) - 1}.sql`), `${statements.join(';\n')};\n`);
  }
  return dir;
}
