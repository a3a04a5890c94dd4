/**
 * Image datasets: a folder searched recursively for images, in a deterministic order, with labels from class
 * sub-folders (ImageFolder: sorted names → indices), a CSV `path,label`, or an ImageNet class-index JSON
 * (`{"0": ["n01440764", "tench"], …}`: a synset in the folder or file name gives the index).
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { FileFormatError, UserError } from '../../toolkit/errors.js';
import { Prng } from '../../toolkit/model/prng.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff'] as const;

export interface DatasetItem {
  /** Absolute path. */
  path: string;
  /** Path relative to the dataset root, with '/' separators (stable across machines). */
  relativePath: string;
  label?: number;
}

export interface Dataset {
  root: string;
  items: DatasetItem[];
  /** Class names by index, when labels are known. */
  classes?: string[];
  labelSource: 'folders' | 'csv' | 'imagenet-index' | 'none';
}

export type LabelSource =
  | { kind: 'folders' }
  | { kind: 'csv'; path: string }
  | { kind: 'imagenet-index'; path: string }
  | { kind: 'none' };

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What a directory entry is, symlinks followed (null: a dangling link or unreadable). */
async function kindOf(path: string, entry: Dirent): Promise<'folder' | 'file' | null> {
  if (entry.isDirectory()) return 'folder';
  if (entry.isFile()) return 'file';
  if (!entry.isSymbolicLink()) return null;
  const target = await stat(path).catch(() => null);
  return target?.isDirectory() ? 'folder' : target?.isFile() ? 'file' : null;
}

/**
 * Image files under `root`, sorted. Symlinked folders are followed, each real folder once (a link back up the tree
 * is not a loop forever); hidden entries are skipped.
 */
async function listImageFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walked = new Set<string>();
  const walk = async (dir: string) => {
    const real = await realpath(dir);
    if (walked.has(real)) return;
    walked.add(real);
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => byCodePoint(a.name, b.name));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const kind = await kindOf(path, entry);
      if (kind === 'folder') await walk(path);
      else if (kind === 'file' && IMAGE_EXTENSIONS.some((ext) => entry.name.toLowerCase().endsWith(ext)))
        found.push(path);
    }
  };
  await walk(root);
  return found;
}

/** The top-level folders of `root` (symlinked ones too), sorted as torchvision's ImageFolder sorts classes. */
async function classFolders(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true });
  const folders: string[] = [];
  for (const entry of entries) {
    if (!entry.name.startsWith('.') && (await kindOf(join(root, entry.name), entry)) === 'folder')
      folders.push(entry.name);
  }
  return folders.sort(byCodePoint);
}

const toPosix = (path: string) => path.split(sep).join('/');

async function labelsFromCsv(file: string): Promise<Map<string, string>> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new FileFormatError(file, 'cannot read the label CSV');
  });
  const labels = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    const comma = line.lastIndexOf(',');
    if (comma <= 0)
      throw new FileFormatError(file, `line ${index + 1}: expected 'path,label', got '${line.slice(0, 80)}'`);
    const path = line.slice(0, comma).trim().replace(/^"|"$/g, '');
    const label = line.slice(comma + 1).trim();
    if (index === 0 && path.toLowerCase() === 'path') return; // header row
    labels.set(toPosix(path), label);
  });
  return labels;
}

async function imagenetIndex(file: string): Promise<{ synsetToIndex: Map<string, number>; classes: string[] }> {
  let parsed: Record<string, [string, string]>;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as Record<string, [string, string]>;
  } catch {
    throw new FileFormatError(file, 'not an ImageNet class-index JSON ({"0": ["n01440764", "tench"], …})');
  }
  const synsetToIndex = new Map<string, number>();
  const classes: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    const index = Number(key);
    if (!Number.isInteger(index) || !Array.isArray(value) || typeof value[0] !== 'string') {
      throw new FileFormatError(file, `entry '${key}' is not "index": ["synset", "name"]`);
    }
    synsetToIndex.set(value[0], index);
    classes[index] = String(value[1]);
  }
  return { synsetToIndex, classes };
}

export async function datasetFromFolder(options: { root: string; labels?: LabelSource }): Promise<Dataset> {
  const { root } = options;
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory())
    throw new UserError(
      `${root}: not a folder of images; give a folder (searched recursively for ${IMAGE_EXTENSIONS.join(', ')})`,
    );
  const paths = await listImageFiles(root);
  if (paths.length === 0)
    throw new UserError(`${root}: no images found (looked for ${IMAGE_EXTENSIONS.join(', ')} in all sub-folders)`);
  const items: DatasetItem[] = paths.map((path) => ({ path, relativePath: toPosix(relative(root, path)) }));
  const source = options.labels ?? { kind: 'folders' };

  if (source.kind === 'folders') {
    const folderOf = (item: DatasetItem) =>
      item.relativePath.includes('/') ? item.relativePath.split('/')[0]! : undefined;
    if (items.some((item) => folderOf(item) === undefined)) return { root, items, labelSource: 'none' };
    // Classes are the folders, not the folders images were found in: a class whose images all went missing must
    // not silently shift every later label by one.
    const classes = await classFolders(root);
    const empty = classes.filter((name) => !items.some((item) => folderOf(item) === name));
    if (empty.length > 0) {
      throw new UserError(
        `${join(root, empty[0]!)}: class folder with no images (${empty.length > 1 ? `and ${empty.length - 1} more: ${empty.slice(1, 4).join(', ')}; ` : ''}looked for ${IMAGE_EXTENSIONS.join(', ')}); ` +
          'every class needs images, or the labels of the classes after it would shift: add images or remove the folder',
      );
    }
    const index = new Map(classes.map((name, i) => [name, i]));
    return {
      root,
      items: items.map((item) => ({ ...item, label: index.get(folderOf(item)!)! })),
      classes,
      labelSource: 'folders',
    };
  }
  if (source.kind === 'csv') {
    const labels = await labelsFromCsv(source.path);
    const values = [...labels.values()];
    const numeric = values.every((v) => /^\d+$/.test(v));
    const classes = numeric ? undefined : [...new Set(values)].sort(byCodePoint);
    const index = new Map(classes?.map((name, i) => [name, i]));
    const labelled = items.map((item) => {
      const label = labels.get(item.relativePath);
      if (label === undefined)
        throw new FileFormatError(
          source.path,
          `no label for '${item.relativePath}'; add a line '${item.relativePath},<label>'`,
        );
      return { ...item, label: numeric ? Number(label) : index.get(label)! };
    });
    return { root, items: labelled, ...(classes ? { classes } : {}), labelSource: 'csv' };
  }
  if (source.kind === 'imagenet-index') {
    const { synsetToIndex, classes } = await imagenetIndex(source.path);
    const labelled = items.map((item) => {
      const synset = /n\d{8}/.exec(item.relativePath)?.[0];
      const label = synset === undefined ? undefined : synsetToIndex.get(synset);
      if (label === undefined) {
        throw new FileFormatError(
          source.path,
          `no synset of the index in '${item.relativePath}'; name files or folders by synset (n01440764…)`,
        );
      }
      return { ...item, label };
    });
    return { root, items: labelled, classes, labelSource: 'imagenet-index' };
  }
  return { root, items, labelSource: 'none' };
}

/**
 * A seeded, class-balanced subset of `count` items: classes take turns (in index order), each drawing from its own
 * seeded shuffle; the result keeps dataset order. Unlabelled datasets are sampled uniformly.
 */
export function balancedSubset(options: { dataset: Dataset; count: number; seed: number }): Dataset {
  const { dataset, count, seed } = options;
  if (count >= dataset.items.length) return dataset;
  const prng = new Prng(seed);
  const groups = new Map<number, number[]>();
  dataset.items.forEach((item, i) => {
    const key = item.label ?? 0;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  });
  const queues = [...groups.keys()]
    .sort((a, b) => a - b)
    .map((key) => {
      const members = groups.get(key)!;
      for (let i = members.length - 1; i > 0; i--) {
        const j = prng.nextUint32() % (i + 1);
        [members[i], members[j]] = [members[j]!, members[i]!];
      }
      return members;
    });
  const picked: number[] = [];
  for (let round = 0; picked.length < count; round++) {
    for (const queue of queues) {
      if (round < queue.length && picked.length < count) picked.push(queue[round]!);
    }
  }
  picked.sort((a, b) => a - b);
  return { ...dataset, items: picked.map((i) => dataset.items[i]!) };
}
