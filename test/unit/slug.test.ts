/** Migration file names from messages: letters kept, transliterated (src/files/createMigration.ts slugOf). */
import { slugOf } from '../../src/files/createMigration.js';

test.each([
  ['add users', 'add_users'],
  ['  Add Orders!  ', 'add_orders'],
  ['ÄÖ', 'ao'],
  ['straße', 'strasse'],
  ['Fußgängerübergänge', 'fussgangerubergange'],
  ['café crème', 'cafe_creme'],
  ['Łódź', 'lodz'],
  ['ØreSund Æble', 'oresund_aeble'],
  ['Добавить пользователей', 'dobavit_polzovateley'],
  ['Ελληνικά', 'ellinika'],
  ['添加用户', 'tianjiayonghu'],
  ["don't drop", 'dont_drop'],
  ['---', ''],
])('%j → %j', async (message, slug) => {
  expect(await slugOf(message)).toBe(slug);
});
