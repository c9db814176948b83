/**
 * Transactions on one connection: BEGIN … COMMIT with ROLLBACK on failure,
 * and the server's own word on whether a transaction is open.
 */
import type { Queryable } from '../core/types.js';

/**
 * The transaction status the server sent with its last ReadyForQuery
 * (https://www.postgresql.org/docs/current/protocol-message-formats.html,
 * "ReadyForQuery"): idle, in a transaction block, or in a failed one. pg
 * keeps it per client (`Client.getTransactionStatus()`, pg 8.23); `unknown`
 * where the connection does not say (another driver, nothing sent yet).
 */
export type TransactionStatus = 'idle' | 'in-transaction' | 'failed' | 'unknown';

export function transactionStatusOf(db: Queryable): TransactionStatus {
  const status = (db as { getTransactionStatus?: () => string | null }).getTransactionStatus?.();
  switch (status) {
    case 'I':
      return 'idle';
    case 'T':
      return 'in-transaction';
    case 'E':
      return 'failed';
    default:
      return 'unknown';
  }
}

/**
 * The transaction status once the server has answered everything sent. pg
 * rejects a query when its ErrorResponse comes, before the ReadyForQuery
 * that carries the status (pg/lib/query.js, handleError), so right after a
 * failure transactionStatusOf may still give the status from before; an
 * empty query, answered with the status even in a failed transaction, waits
 * for it.
 */
export async function settledTransactionStatusOf(db: Queryable): Promise<TransactionStatus> {
  await db.query('').catch(() => undefined);
  return transactionStatusOf(db);
}

/** BEGIN … COMMIT, with ROLLBACK on any failure. */
export async function inTransaction<T>(db: Queryable, work: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    const result = await work();
    await db.query('COMMIT');
    return result;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * BEGIN READ ONLY … ROLLBACK: `work` reads and can change nothing, and what
 * it SET goes with the rollback. The SELECT after BEGIN takes the
 * transaction's snapshot, after which it cannot be made read-write again:
 * SET TRANSACTION READ WRITE (or transaction_read_only = off) must come
 * before any query (check_transaction_read_only, src/backend/commands/variable.c).
 * What ends the transaction (a COMMIT) the caller must refuse or notice
 * (sqlPreview.ts).
 */
export async function inReadOnlyTransaction<T>(db: Queryable, work: () => Promise<T>): Promise<T> {
  await db.query('BEGIN READ ONLY; SELECT 1');
  try {
    return await work();
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
  }
}
