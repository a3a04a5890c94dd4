/**
 * The "device" of the deploy tests: a releases folder on this machine reached through the test's sshd, with the
 * repository's own effnet-edge as its CLI. Each test file starts its own sshd; these read what landed on the device.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest } from '../../toolkit/bundle/manifest.js';
import type { DeviceFacts } from '../../toolkit/deploy/prerequisites.js';
import { REPO_ROOT } from './paths.js';
import type { Sshd } from './sshd.js';

export const remoteCli = `${process.execPath} ${join(REPO_ROOT, 'bin', 'effnet-edge.js')}`;

/** Options that reach the test's sshd as root with the test's keys, deploying under `device`. */
export function deviceSshArgs(options: { sshd: Sshd; device: string; port?: number }): string[] {
  return [
    '--host',
    `root@127.0.0.1:${options.port ?? options.sshd.port}`,
    '--identity',
    options.sshd.clientKey,
    '--known-hosts',
    options.sshd.knownHosts,
    '--remote-dir',
    options.device,
    '--remote-cli',
    remoteCli,
    '--connect-timeout',
    '10',
    '--retries',
    '1',
  ];
}

/** `deploy --json`'s output, as far as the tests read it. */
export interface DeployJson {
  hosts: {
    status: string;
    release: string | null;
    previous: string | null;
    filesSent: number;
    filesKept: number;
    bytesSent: number;
    bytesResumed: number;
    verified: string | null;
    reason: string | null;
    device: DeviceFacts | null;
  }[];
}

/** Where the device's `current` points (`releases/<id>`). */
export const currentOf = (device: string) => readlinkSync(join(device, 'current'));

export const releaseLogOf = (device: string) =>
  readFileSync(join(device, 'releases.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; release: string; previous: string | null; reason?: string });

export const manifestOf = (bundle: string) =>
  JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as BundleManifest;
