// The `audithouse` command line. Parses arguments and calls into the capabilities; nothing else.
import { parseArgs } from 'node:util';
import { archiveRestoreCommand, archiveVerifyCommand } from './archive/cli.ts';
import { claimProblem, mintToken, resolveJwtSecret } from './auth/jwt.ts';
import { SCOPES } from './auth/principal.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { verifyCommand } from './integrity/cli.ts';
import { createLogger } from './logger.ts';
import { retentionRunCommand } from './retention/cli.ts';
import { retentionPolicy } from './retention/policy.ts';
import { serve } from './server.ts';
import { Store } from './store/client.ts';
import { migrate, plan } from './store/migrate.ts';

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
  async serve(_args, config) {
    const server = await serve(config);
    let signals = 0;
    const onSignal = (sig: string) => {
      signals++;
      // Exiting early is safe: a 202 was only sent once its events were stored or fsynced into the spool.
      if (signals > 1) {
        process.stderr.write(`second ${sig}: exiting now; acknowledged events are stored or spooled\n`);
        process.exit(1);
      }
      setTimeout(() => {
        process.stderr.write(`shutdown timeout (${config.shutdownTimeoutMs} ms) passed: exiting; the spool is replayed at the next start\n`);
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
      server.close().then(() => process.exit(0), (err) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      });
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    return new Promise<number>(() => {}); // runs until a signal
  },

  async migrate(args, config) {
    const { values } = parseArgs({ args, options: { cluster: { type: 'string' }, 'dry-run': { type: 'boolean' } }, strict: true });
    const cluster = values.cluster ?? config.clickhouse.cluster;
    if (values['dry-run']) {
      // Prints the DDL a fresh deployment runs; connects to nothing.
      for (const step of plan({ database: config.clickhouse.database, cluster })) {
        process.stdout.write(`-- ${step.name}\n${step.statements.map((s) => `${s};\n`).join('\n')}\n`);
      }
      return 0;
    }
    const log = createLogger(config.log);
    const store = await Store.fromConfig(config);
    try {
      const r = await migrate(store, { policy: retentionPolicy(config), log, cluster });
      process.stdout.write(`applied ${r.applied.length} migration(s)${r.applied.length ? `: ${r.applied.join(', ')}` : ''}; ${r.skipped.length} already applied; TTL ${r.ttlChanged ? 'updated' : 'unchanged'}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },

  async token(args, config) {
    const { values } = parseArgs({
      args,
      options: { tenant: { type: 'string' }, scope: { type: 'string' }, sub: { type: 'string' }, days: { type: 'string' } },
      strict: true,
    });
    if (!values.tenant || !values.scope) {
      process.stderr.write('token needs --tenant T and --scope "audit:read audit:write ..."\n');
      return 2;
    }
    // The server's own rules for these claims: a token the CLI mints is one the service accepts.
    const problem = claimProblem('tenant_id', values.tenant, 128) ?? (values.sub !== undefined ? claimProblem('sub', values.sub, 256) : undefined);
    if (problem) {
      process.stderr.write(`${problem.replace('The bearer token', 'The token')}\n`);
      return 2;
    }
    const unknown = values.scope.split(/\s+/).filter((s) => s && !(SCOPES as readonly string[]).includes(s));
    if (unknown.length) {
      process.stderr.write(`unknown scope(s): ${unknown.join(', ')}; known: ${SCOPES.join(', ')}\n`);
      return 2;
    }
    const { secret } = resolveJwtSecret(config);
    if (!secret) {
      process.stderr.write('tokens can only be minted with AUDIT_JWT_SECRET (or the dev secret); with AUDIT_JWKS_URL your identity provider issues them\n');
      return 2;
    }
    const maxTtlS = config.jwt.maxTtlS;
    // Default 30 days, or AUDIT_JWT_MAX_TTL when shorter: the service would refuse a longer token.
    const days = values.days ? Number(values.days) : Math.min(30, (maxTtlS ?? Infinity) / 86400);
    if (!Number.isFinite(days) || days <= 0 || days > 3650) {
      process.stderr.write('--days must be a number of days between 1 and 3650\n');
      return 2;
    }
    if (maxTtlS !== undefined && Math.round(days * 86400) > maxTtlS) {
      process.stderr.write(`--days ${days} is longer than AUDIT_JWT_MAX_TTL (${maxTtlS} s): the service would refuse the token\n`);
      return 2;
    }
    const token = await mintToken(secret, {
      tenant: values.tenant,
      scope: values.scope,
      ...(values.sub ? { sub: values.sub } : {}),
      expiresIn: Math.round(days * 86400),
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
    });
    process.stdout.write(token + '\n');
    return 0;
  },

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

/** Lets capability folders add their own verbs (e.g. "retention run") without editing this file's table. */
export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
}
