import t from 'tap';
import { flagMessageOf } from '../helpers/fieldErrors.js';
import { hostTargetFrom, hostTargetsFrom, splitHostPort } from '../../toolkit/deploy/hosts.js';

t.test('a --host spec is [user@]host[:port], IPv6 in brackets when it has a port', async (t) => {
  const cases: [string, { host: string; user: string | null; port: number }][] = [
    ['jetson', { host: 'jetson', user: null, port: 22 }],
    ['pi@jetson.lab:2222', { host: 'jetson.lab', user: 'pi', port: 2222 }],
    ['192.168.1.7:22', { host: '192.168.1.7', user: null, port: 22 }],
    ['[::1]:2222', { host: '::1', user: null, port: 2222 }],
    ['admin@[fe80::1%eth0]', { host: 'fe80::1%eth0', user: 'admin', port: 22 }],
    ['nvidia@::1', { host: '::1', user: 'nvidia', port: 22 }],
    ['2001:db8:0:0:0:0:0:7', { host: '2001:db8:0:0:0:0:0:7', user: null, port: 22 }],
    // A bare IPv6 address keeps all its colons: the last group is not a port.
    ['fe80::1:2222', { host: 'fe80::1:2222', user: null, port: 22 }],
  ];
  for (const [spec, expected] of cases) {
    t.strictSame(hostTargetFrom(spec), { name: spec, ...expected, identity: null, groups: [] }, spec);
  }
});

t.test('a bad --host spec says what was expected', async (t) => {
  const cases: [string, string][] = [
    ['pi@', "--host 'pi@': expected [user@]host[:port]"],
    ['@jetson', "--host '@jetson': expected [user@]host[:port]"],
    ['a@b@c', "--host 'a@b@c': expected [user@]host[:port]"],
    ['jet son', "--host 'jet son': expected [user@]host[:port]"],
    ['jetson[1:3]', "--host 'jetson[1:3]': expected [user@]host[:port]"],
    ['-oProxyCommand=x', "--host '-oProxyCommand=x': expected [user@]host[:port]"],
    ['-x@jetson', "--host '-x@jetson': expected [user@]host[:port]"],
    ['a:1:2', "--host 'a:1:2': expected [user@]host[:port]"],
    ['jetson:99999', "--host 'jetson:99999': port must be 1..65535"],
    ['jetson:0', "--host 'jetson:0': port must be 1..65535"],
    ['jetson:ssh', "--host 'jetson:ssh': port must be 1..65535"],
    ['jetson:', "--host 'jetson:': port must be 1..65535"],
    ['[::1]:70000', "--host '[::1]:70000': port must be 1..65535"],
  ];
  for (const [spec, message] of cases) {
    t.throws(() => hostTargetFrom(spec), { field: 'host', value: spec, message: message.slice(2) }, spec);
    t.equal(await flagMessageOf(() => hostTargetFrom(spec), { field: 'host', flag: '--host' }), message, spec);
  }
});

t.test('--host a,b,c: several specs, none empty, none twice', async (t) => {
  t.strictSame(hostTargetsFrom('jetson01, pi@jetson02:2222,[::1]'), [
    { name: 'jetson01', host: 'jetson01', user: null, port: 22, identity: null, groups: [] },
    { name: 'pi@jetson02:2222', host: 'jetson02', user: 'pi', port: 2222, identity: null, groups: [] },
    { name: '[::1]', host: '::1', user: null, port: 22, identity: null, groups: [] },
  ]);
  t.equal(hostTargetsFrom('pi@a,a,a:2222').length, 3, 'another user or port is another target');
  const asFlag = (list: string) => flagMessageOf(() => hostTargetsFrom(list), { field: 'host', flag: '--host' });
  t.equal(await asFlag(''), "--host '': expected [user@]host[:port], several separated by commas");
  t.equal(await asFlag('a,,b'), "--host 'a,,b': item 2 is empty; separate hosts with single commas");
  t.equal(await asFlag('a,b,'), "--host 'a,b,': item 3 is empty; separate hosts with single commas");
  t.equal(
    await asFlag('jetson,b,JETSON:22'),
    "--host 'jetson,b,JETSON:22': 'JETSON:22' is the same host as 'jetson'; list each host once",
  );
  t.equal(await asFlag('a,pi@'), "--host 'pi@': expected [user@]host[:port]");
  t.throws(() => hostTargetsFrom('a,,b'), {
    field: 'host',
    value: 'a,,b',
    message: "host 'a,,b': item 2 is empty; separate hosts with single commas",
  });
});

t.test('splitHostPort keeps range brackets and IPv6 colons together', async (t) => {
  t.strictSame(splitHostPort('jetson[01:03].lab:2222'), { host: 'jetson[01:03].lab', port: '2222' });
  t.strictSame(splitHostPort('node[a:c]'), { host: 'node[a:c]', port: undefined });
  t.strictSame(splitHostPort('[::1]'), { host: '::1', port: undefined });
  t.equal(splitHostPort('a:b:c'), null);
});
