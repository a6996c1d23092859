import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { CryptolambdaError } from '../core/errors.js';

/**
 * The configuration file: YAML (so JSON works too), found in the working directory, then in
 * `$XDG_CONFIG_HOME/cryptolambda/` (default ~/.config), or named with `--config`. Top-level keys
 * are the settings of config.ts's schema and apply to every profile; `profiles.<name>` overrides
 * them key by key for `--profile <name>` (or CRYPTOLAMBDA_PROFILE). Nothing here knows the
 * settings: the schema does, so a setting added there is accepted in the file without touching
 * this module. Relative paths in the file resolve against the file's directory.
 */
export const CONFIG_FILE_NAMES = ['cryptolambda.yaml', 'cryptolambda.yml', 'cryptolambda.json'] as const;

export interface ConfigFile {
  readonly path: string;
  readonly profile: string | null;
  /** Settings of the file after the profile overlay (plain JS values). */
  readonly values: Readonly<Record<string, unknown>>;
  /** Where each top-level setting came from, for error messages: "cryptolambda.yaml:12 (profiles.prod.redisUrl)". */
  locate(key: string, sub?: readonly (string | number)[]): string;
}

/** The file to read: --config, else the first of the search path that exists, else none. */
export const findConfigFile = (
  explicit: string | undefined,
  cwd: string,
  env: NodeJS.ProcessEnv,
  home: string = homedir(),
): string | undefined => {
  if (explicit !== undefined && explicit !== '') {
    const p = path.resolve(cwd, explicit);
    if (!existsSync(p))
      throw new CryptolambdaError('INVALID_CONFIG', `--config: ${p} does not exist`, 'check the path', {
        retriable: false,
      });
    return p;
  }
  const xdg = env.XDG_CONFIG_HOME || path.join(home, '.config');
  const dirs = [cwd, path.join(xdg, 'cryptolambda')];
  for (const dir of dirs)
    for (const name of [...CONFIG_FILE_NAMES, 'config.yaml', 'config.yml', 'config.json']) {
      // The bare "config.*" names only inside the cryptolambda directory, never in a project's cwd.
      if (dir === cwd && name.startsWith('config.')) continue;
      const p = path.join(dir, name);
      if (existsSync(p)) return p;
    }
  return undefined;
};

const lineOf = (counter: LineCounter, node: Node | null | undefined): number | undefined =>
  node?.range ? counter.linePos(node.range[0]).line : undefined;

/** The node at a path of keys/indexes, for its line number. */
const nodeAt = (root: Node | null, keys: readonly (string | number)[]): Node | undefined => {
  let n: unknown = root;
  for (const k of keys) {
    if (isMap(n)) n = n.get(k, true);
    else if (isSeq(n) && typeof k === 'number') n = n.get(k, true);
    else return undefined;
  }
  return (isScalar(n) || isMap(n) || isSeq(n) ? n : undefined) as Node | undefined;
};

const fail = (file: string, line: number | undefined, what: string, hint?: string): CryptolambdaError =>
  new CryptolambdaError('INVALID_CONFIG', `${file}${line === undefined ? '' : `:${line}`}: ${what}`, hint, {
    retriable: false,
  });

/** Read, parse and overlay the profile. `known` are the setting names of the schema. */
export const loadConfigFile = (file: string, profile: string | undefined, known: readonly string[]): ConfigFile => {
  const rel = path.relative(process.cwd(), file);
  const shown = rel !== '' && !rel.startsWith('..') ? rel : file;
  const counter = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    // linePos is only filled with prettyErrors; the offset is always there.
    throw fail(shown, counter.linePos(e.pos[0]).line, e.message.split('\n')[0]!);
  }
  const root = doc.contents as Node | null;
  const data = (doc.toJS() ?? {}) as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw fail(shown, 1, 'expected a mapping of settings');
  const top = data as Record<string, unknown>;
  const checkKeys = (obj: Record<string, unknown>, prefix: (string | number)[]) => {
    for (const k of Object.keys(obj)) {
      if (prefix.length === 0 && k === 'profiles') continue;
      if (!known.includes(k)) {
        const near = known.find((n) => n.toLowerCase() === k.toLowerCase().replace(/[-_]/g, ''));
        throw fail(
          shown,
          lineOf(counter, nodeAt(root, [...prefix, k])),
          `${[...prefix, k].join('.')}: unknown setting`,
          near ? `did you mean ${near}?` : `settings: ${known.join(', ')}`,
        );
      }
    }
  };
  checkKeys(top, []);
  const profiles = (top.profiles ?? {}) as Record<string, unknown>;
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles))
    throw fail(shown, lineOf(counter, nodeAt(root, ['profiles'])), 'profiles: expected a mapping of profile names');
  let overlay: Record<string, unknown> = {};
  if (profile !== undefined && profile !== '') {
    const p = profiles[profile];
    if (p === undefined)
      throw fail(
        shown,
        undefined,
        `no profile "${profile}"`,
        `profiles in the file: ${Object.keys(profiles).join(', ') || 'none'}`,
      );
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw fail(
        shown,
        lineOf(counter, nodeAt(root, ['profiles', profile])),
        `profiles.${profile}: expected a mapping`,
      );
    overlay = p as Record<string, unknown>;
    checkKeys(overlay, ['profiles', profile]);
  }
  const { profiles: _p, ...base } = top;
  const values = { ...base, ...overlay };
  return {
    path: file,
    profile: profile ?? null,
    values,
    locate: (key, sub = []) => {
      const inProfile = profile !== undefined && key in overlay;
      const keys = inProfile ? ['profiles', profile, key, ...sub] : [key, ...sub];
      // The deepest node that exists gives the line.
      for (let n = keys.length; n > 0; n--) {
        const line = lineOf(counter, nodeAt(root, keys.slice(0, n)));
        if (line !== undefined) return `${shown}:${line}: ${keys.join('.')}`;
      }
      return `${shown}: ${keys.join('.')}`;
    },
  };
};
