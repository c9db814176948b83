import type { MigrationBuilder } from 'node-pg-migrate';

/** A data migration: add a column, fill it from existing rows, then require it. */
export async function up(pgm: MigrationBuilder): Promise<void> {
  pgm.addColumn('users', { display_name: { type: 'text' } });
  pgm.sql(`UPDATE users SET display_name = split_part(email, '@', 1) WHERE display_name IS NULL`);
  pgm.alterColumn('users', 'display_name', { notNull: true });
}

export async function down(pgm: MigrationBuilder): Promise<void> {
  pgm.dropColumn('users', 'display_name');
}
