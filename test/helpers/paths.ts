/** Where tests find the shared reference data and the repository. */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const REPO_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const SHARED = process.env.EFFNET_EDGE_SHARED ?? join(REPO_ROOT, '..', 'shared');
export const REFERENCE = join(SHARED, 'reference');
export const FIXTURES = join(SHARED, 'fixtures');
export const CIFAR_B0 = join(FIXTURES, 'cifar10_b0');
