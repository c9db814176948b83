import type { MigrationBuilder } from 'node-pg-migrate';

export async function up(pgm: MigrationBuilder): Promise<void> {
  pgm.createType('order_status', ['pending', 'paid', 'shipped', 'cancelled']);
  pgm.createTable('orders', {
    id: { type: 'bigint', primaryKey: true, sequenceGenerated: { precedence: 'ALWAYS' } },
    user_id: { type: 'bigint', notNull: true, references: 'users', onDelete: 'CASCADE' },
    status: { type: 'order_status', notNull: true, default: 'pending' },
    total_cents: { type: 'integer', notNull: true, check: 'total_cents >= 0' },
    created_at: { type: 'timestamptz', notNull: true, default: pgm.func('now()') },
  });
  pgm.createIndex('orders', 'user_id');
}

export async function down(pgm: MigrationBuilder): Promise<void> {
  pgm.dropTable('orders');
  pgm.dropType('order_status');
}
