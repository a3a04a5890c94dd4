/**
 * The command a user can paste to run us again. After `npm ci` the bin is not on PATH, so under npx (npm sets
 * npm_command=exec for `npx` and `npm exec`) the hint must say `npx effnet-edge`; a global install or `npm link` runs
 * the bare name.
 */
export function invocation(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.npm_command === 'exec' ? 'npx effnet-edge' : 'effnet-edge';
}
