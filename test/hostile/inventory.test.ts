/**
 * Hostile inventories (issue 16): a host range or a YAML document that would exhaust memory is refused with the bound,
 * and what the tool prints for a person to paste quotes every shell word.
 */
import t from 'tap';
import { MAX_RANGE_HOSTS, inventoryFromText } from '../../toolkit/deploy/inventory.js';

t.test('a host range is bounded before it is expanded', async (t) => {
  t.throws(() => inventoryFromText({ text: '[lab]\nh[0:100000000]\n', path: 'fleet.ini' }), {
    message: `fleet.ini: line 2: host 'h[0:100000000]': expands to 100000001 hosts; effnet-edge takes at most ${MAX_RANGE_HOSTS} from one line (split the fleet into groups)`,
  });
  t.throws(
    () => inventoryFromText({ text: '[lab]\nrack[0:999]-h[0:999]\n', path: 'fleet.ini' }),
    {
      message: /expands to 1000000 hosts; effnet-edge takes at most 10000 from one line/,
    },
    'ranges multiply',
  );
  const ok = inventoryFromText({ text: '[lab]\nh[0:99:10]\n', path: 'fleet.ini' });
  t.equal(ok.hosts.size, 10);
});

t.test('a YAML alias bomb is refused, not expanded', async (t) => {
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    ...'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(',')}]`),
    'all:',
    '  hosts: {}',
  ].join('\n');
  t.throws(() => inventoryFromText({ text: bomb, path: 'fleet.yml' }), {
    message: /^fleet\.yml: not valid YAML \(Excessive alias count/,
  });
});
