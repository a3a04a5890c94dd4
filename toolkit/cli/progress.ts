/**
 * A progress bar on stderr with rate and ETA, drawn only on a TTY (scripts and CI get nothing: quiet on success).
 */
export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

export function progressBar(options: { label: string; unit: string; stream?: NodeJS.WriteStream }): Progress {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY) return { update: () => undefined, done: () => undefined };
  const started = performance.now();
  let last = 0;
  return {
    update(done, total) {
      const now = performance.now();
      // A finished bar clears itself, so passes that never call done() leave no line behind.
      if (done >= total) return void stream.write('\r\x1b[K');
      if (now - last < 100) return;
      last = now;
      const seconds = (now - started) / 1000;
      const rate = seconds > 0 ? done / seconds : 0;
      const eta = rate > 0 ? (total - done) / rate : 0;
      const width = 30;
      const filled = Math.round((width * done) / Math.max(total, 1));
      stream.write(
        `\r${options.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(rate < 10 ? 1 : 0)} ${options.unit}/s ETA ${eta.toFixed(0)}s `,
      );
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
