/**
 * OpenSSH's patterns, as its match_pattern and match_pattern_list read them: `*` any run, `?` one character,
 * everything else literal; in a list, a matching `!pattern` vetoes whatever else matches. known_hosts names and
 * ssh_config Host lines compare case-insensitively, allowed_signers principals and namespaces exactly.
 */
export function sshWildcardMatches(pattern: string, value: string, options: { ignoreCase: boolean }): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, options.ignoreCase ? 'i' : '').test(value);
}

export function sshPatternsMatch(
  value: string,
  patterns: readonly string[],
  options: { ignoreCase: boolean },
): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (sshWildcardMatches(pattern.slice(1), value, options)) return false;
    } else if (sshWildcardMatches(pattern, value, options)) matched = true;
  }
  return matched;
}
