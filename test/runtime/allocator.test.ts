/**
 * keepFreedMemory's settings are ones glibc accepts (older glibc refuses an mmap threshold over 32 MiB on 64-bit, and
 * says so only through its return value).
 */
import t from 'tap';
import { isGlibc, keepFreedMemory } from '../../toolkit/runtime/allocator.js';

const glibc = process.platform === 'linux' && isGlibc();

t.test('on glibc every setting takes effect, once per process', { skip: glibc ? false : 'not glibc' }, (t) => {
  t.equal(keepFreedMemory(), true, 'mallopt accepted the mmap threshold, trim threshold and top pad');
  t.equal(keepFreedMemory(), true, 'a second call answers the same');
  t.end();
});
