import { stringify } from 'yaml';
import { BaseCommand } from '../../cli/base-command.js';
import { CONFIG_KEYS, type Config, configSources, maskSecrets } from '../../config/config.js';
import { credentialsPath } from '../../config/stack-credentials.js';

export interface ConfigShowResult {
  /** The file read, or null when only flags, environment and defaults apply. */
  readonly file: string | null;
  readonly profile: string | null;
  /** Every setting, secrets masked. */
  readonly settings: Record<string, unknown>;
  /** Where each setting came from: a flag, a variable, "file:line: key" or "default". */
  readonly sources: Record<string, string>;
}

/** A scalar on the key's line; a list or section as indented YAML below it (fits 80 columns). */
const show = (v: unknown): string =>
  typeof v === 'string'
    ? v
    : v !== null && typeof v === 'object'
      ? `\n${stringify(v, { lineWidth: 76, flowCollectionPadding: false })
          .trimEnd()
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n')}`
      : JSON.stringify(v);

/**
 * `label value` on one line when it fits 80 columns, else the value alone on the next line (a path
 * or URL is never cut, so it stays copyable; YAML reads `key:` + an indented scalar the same way).
 */
const fitLine = (label: string, value: string): string =>
  label.length + 1 + value.length <= 80
    ? `${label} ${value}`
    : `${label}\n${' '.repeat(label.search(/\S/) + 2)}${value}`;

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static override summary = 'Print the resolved configuration and where each setting came from (secrets masked).';
  static override description =
    'Precedence: flags > environment (CRYPTOLAMBDA_*) > configuration file (with --profile) > defaults. The file is ' +
    './cryptolambda.yaml (or .yml/.json), else $XDG_CONFIG_HOME/cryptolambda/config.yaml, or --config FILE.';
  static override examples = [
    '<%= config.bin %> config show',
    '<%= config.bin %> config show --profile prod --json',
    '<%= config.bin %> config show --config ./ops/cryptolambda.yaml',
  ];

  async run(): Promise<ConfigShowResult> {
    const config: Config = this.appConfig;
    const file = this.configFile;
    const sources = configSources(this.configFlags, process.env, file);
    // Not set anywhere yet not `none`: the local stack's generated SCRAM user (config.ts withStackKafka).
    if (sources.kafkaSaslMechanism === 'default' && config.kafkaSaslMechanism !== 'none') {
      for (const k of ['kafkaSaslMechanism', 'kafkaSaslUsername', 'kafkaSaslPassword'] as const)
        sources[k] = `stack credentials (${credentialsPath(config.stateDir)})`;
    }
    const settings = maskSecrets(config) as Record<string, unknown>;
    if (!this.jsonEnabled()) {
      this.log(fitLine('file:', `${file?.path ?? '(none)'}${file?.profile ? `  profile: ${file.profile}` : ''}`));
      for (const key of CONFIG_KEYS) {
        const v = show(settings[key]);
        this.log(v.startsWith('\n') ? `${key}:${v}` : fitLine(`${key}:`, v));
        this.log(fitLine('  from', sources[key] ?? ''));
      }
    }
    return { file: file?.path ?? null, profile: file?.profile ?? null, settings, sources };
  }
}
