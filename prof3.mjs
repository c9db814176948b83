import pg from 'pg';
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/prof'); await c.connect();
const mod = await import('./dist/schema/incrementalCatalog.js');
// reach scanSql through a reader instance hack: rebuild the text by calling private scan with a spy
let text;
const spy = { query: async (q) => { text = typeof q === 'object' ? q.text : q; throw new Error('stop'); } };
const r = new mod.IncrementalSchemaReader(spy, { schema: 'public', excludeTables: [] });
try { await r.scan(false); } catch {}
const { rows } = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, ['1', 'public']);
const plan = rows[0]['QUERY PLAN'][0];
console.log('planning', plan['Planning Time'], 'exec', plan['Execution Time']);
for (const p of plan.Plan.Plans ?? []) console.log((p['Actual Total Time']).toFixed(2), JSON.stringify(p).match(/"Relation Name":"(\w+)"/)?.[1], p.Plans?.[0]?.['Node Type']);
await c.end();
