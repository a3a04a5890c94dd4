/**
 * What the engine scripts share: finding programs on PATH and the platforms a prebuilt engine is made for. Plain
 * Node, no dist/: these run from `npm ci` (before `prepare` compiles the toolkit) and from `npm pack`.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first of `names` found as an executable on `path` (a PATH value), or null. */
export function foundOnPath(names, path = process.env.PATH ?? '') {
  for (const name of names) {
    for (const dir of path.split(delimiter).filter(Boolean)) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {}
    }
  }
  return null;
}

/** Debian/Ubuntu packages that give the host's build of the engine its tools. */
export const HOST_TOOLS_APT = 'sudo apt-get install cmake gcc';

/**
 * The prebuilt engines the packed toolkit carries, keyed `<os>-<arch>` as Node's process.platform/arch name them
 * (the loader's native/prebuilt/<key>/ folder). A key built on another architecture uses its cross compiler, through
 * linux-cross.cmake beside this script.
 */
export const PREBUILT_PLATFORMS = {
  'linux-x64': {
    arch: 'x64',
    processor: 'x86_64',
    compiler: 'x86_64-linux-gnu-gcc',
    apt: 'gcc-x86-64-linux-gnu libc6-dev-amd64-cross',
  },
  'linux-arm64': {
    arch: 'arm64',
    processor: 'aarch64',
    compiler: 'aarch64-linux-gnu-gcc',
    apt: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  },
};

export const ENGINE_FILE = 'libeffnet_int8.so';
