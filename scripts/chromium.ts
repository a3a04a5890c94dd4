/**
 * Headless Chromium (Debian's `chromium` package) for the report's render test and the README's screenshot: a page
 * is rendered exactly as a browser shows it, with no driver library, only the command line.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const NAMES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The first Chromium on PATH ($CHROMIUM overrides), or null. */
export function chromiumPath(): string | null {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of NAMES) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {}
    }
  }
  return null;
}

// No sandbox: CI runs as root, where Chromium refuses its sandbox. No GPU, no scrollbars: the same pixels anywhere.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run'];

/** A screenshot of the page at this window size, and the DOM Chromium laid out (one launch for both). */
export async function screenshotOf(options: {
  chromium: string;
  html: string;
  png: string;
  width: number;
  height: number;
}): Promise<{ dom: string }> {
  const { stdout } = await run(
    options.chromium,
    [
      ...FLAGS,
      `--screenshot=${options.png}`,
      `--window-size=${options.width},${options.height}`,
      '--dump-dom',
      pathToFileURL(options.html).href,
    ],
    { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return { dom: stdout };
}
