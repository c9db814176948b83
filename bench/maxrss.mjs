/**
 * `node --import ./bench/maxrss.mjs …`: writes the process's peak RSS in KiB
 * (process.resourceUsage().maxRSS) to BENCH_RSS_FILE at exit. The memory
 * scenario uses it only where /usr/bin/time is missing.
 */
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (process.env.BENCH_RSS_FILE) writeFileSync(process.env.BENCH_RSS_FILE, String(process.resourceUsage().maxRSS));
});
