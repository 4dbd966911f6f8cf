// The `audithouse` command line. Parses arguments and calls into the capabilities; nothing else.
import { archiveRestoreCommand, archiveVerifyCommand } from './archive/cli.ts';
import { tokenCommand } from './auth/cli.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { verifyCommand } from './integrity/cli.ts';
import { retentionRunCommand } from './retention/cli.ts';
import { tableTtl } from './retention/policy.ts';
import { serveCommand } from './server.ts';
import { migrateCommand } from './store/cli.ts';

const USAGE = `audithouse — audit-activity service

Usage:
  audithouse serve                         start the HTTP service (default)
  audithouse migrate [--cluster NAME] [--dry-run]
                                           apply ClickHouse migrations (or print their DDL) and exit
  audithouse token --tenant T --scope "audit:read audit:write" [--sub U] [--days N]
                                           mint an HS256 token (AUDIT_JWT_SECRET or the dev secret)
  audithouse retention run [--dry-run]     archive and delete what retention says has expired
  audithouse archive verify PATH           verify archive files, manifests and their chain offline
  audithouse archive restore PATH          re-import archived events for investigation
  audithouse verify [--tenant T] [--since 7d|ISO] [--json] [--public-key]
                                           verify the hash chains and signed checkpoints of stored
                                           events (exit 1 on any break); --public-key prints the JWKS

Configuration is read from the environment (see README: Configuration).
`;

type Command = (args: string[], config: Config) => Promise<number>;

const commands: Record<string, Command> = {
  serve: serveCommand,
  // The table's TTL follows from the retention policy; the store applies what it is given.
  migrate: (args, config) => migrateCommand(args, config, tableTtl(config)),
  token: tokenCommand,
  'retention run': retentionRunCommand,
  'archive verify': archiveVerifyCommand,
  'archive restore': archiveRestoreCommand,
  verify: verifyCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name = 'serve', ...rest] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  const key = ['retention', 'archive'].includes(name) && rest[0] ? `${name} ${rest[0]}` : name;
  const command = commands[key] ?? commands[name];
  if (!command) {
    process.stderr.write(`unknown command "${argv.join(' ')}"\n\n${USAGE}`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`audithouse: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  try {
    return await command(commands[key] ? rest.slice(key.includes(' ') ? 1 : 0) : rest, config);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`audithouse ${key}: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (/Cannot lock file/i.test(String((err as Error).message))) {
      process.stderr.write(`audithouse: another audithouse process is using ${config.dataDir} (the embedded engine allows one process per data directory); stop it, or use another AUDIT_DATA_DIR\n`);
      return 1;
    }
    throw err;
  }
}
