import t from 'tap';
import { invocation } from '../../toolkit/cli/invocation.js';

t.test('hints name the command the user can paste', async (t) => {
  t.equal(invocation({ npm_command: 'exec' }), 'npx effnet-edge', 'under npx / npm exec the bin is not on PATH');
  t.equal(invocation({}), 'effnet-edge', 'a global install or npm link');
  t.equal(invocation({ npm_command: 'run-script' }), 'effnet-edge', 'npm run puts node_modules/.bin on PATH');
});
