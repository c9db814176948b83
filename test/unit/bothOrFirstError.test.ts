/** observe reads the files and the history at once; what is wrong with the files is reported first (src/observe.ts). */
import { bothOrFirstError } from '../../src/observe.js';

type Outcome = { value: number } | { error: Error };
const after = (ms: number, outcome: Outcome) => () =>
  new Promise<number>((resolve, reject) => setTimeout(() => ('error' in outcome ? reject(outcome.error) : resolve(outcome.value)), ms));

const files = new Error('files');
const history = new Error('history');

test.each([
  ['both read', after(5, { value: 1 }), after(1, { value: 2 }), [1, 2]],
  ['only the files fail', after(5, { error: files }), after(1, { value: 2 }), files],
  ['only the history fails', after(1, { value: 1 }), after(5, { error: history }), history],
  ['both fail, the history first in time', after(5, { error: files }), after(1, { error: history }), files],
  ['both fail, the files first in time', after(1, { error: files }), after(5, { error: history }), files],
  ['the files fail while the history never answers', after(1, { error: files }), () => new Promise<number>(() => undefined), files],
])('%s', async (_, first, second, expected) => {
  const outcome = await bothOrFirstError(first(), second()).catch((error: unknown) => error);
  if (expected instanceof Error) expect(outcome).toBe(expected);
  else expect(outcome).toEqual(expected);
});
