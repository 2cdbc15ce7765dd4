import { KvKeyRegistry, closeBus, connectBus } from '@heady/bus';
import { SERVICE_NAMES } from '@heady/contracts';
import { loadCliConfig } from '@heady/config';
import {
  type Certificate,
  DEFAULT_SUBJECTS,
  ensureDevKeys,
  initRoot,
  issueIdentity,
  loadRoot,
  loadRootPublicKey,
  revoke,
  rotationRequest,
} from '@heady/pqc';
import { type Command } from 'commander';
import { type Output, table } from '../output.js';

async function withRegistry<T>(fn: (r: KvKeyRegistry) => Promise<T>): Promise<T> {
  const config = loadCliConfig();
  const bus = await connectBus(config, 'heady-cli');
  try {
    return await fn(await KvKeyRegistry.open(bus.nc, loadRootPublicKey(config.signing.keysDir)));
  } finally {
    await closeBus(bus);
  }
}

/** `heady keys init | issue <service> | dev | ls | rotate [service] | revoke <kid>`. */
export function keysCommands(program: Command, out: Output): void {
  const keys = program
    .command('keys')
    .description('post-quantum signing keys (composite ML-DSA-65 + Ed25519)');
  keys
    .command('init')
    .description(
      'create the root trust anchor in the keys directory (development; production keeps it offline)',
    )
    .action(() => {
      const dir = loadCliConfig().signing.keysDir;
      const r = initRoot(dir);
      out.result(
        { ...r, dir },
        (v) => `${v.created ? 'created' : 'kept existing'} root ${v.kid} in ${v.dir}`,
      );
    });
  keys
    .command('issue <service>')
    .description("issue (or re-issue) a service's identity certificate, signed by the root")
    .option(
      '-s, --subject <subject...>',
      'subjects the service may publish (default: its built-in set)',
    )
    .option('--operator', 'an operator key (authorised to replay)')
    .action((service: string, opts: { subject?: string[]; operator?: boolean }) => {
      const dir = loadCliConfig().signing.keysDir;
      const f = issueIdentity(
        dir,
        service,
        opts.subject ?? DEFAULT_SUBJECTS[service] ?? [],
        opts.operator ? 'operator' : 'identity',
      );
      out.result(
        f.cert,
        (c) =>
          `issued ${c.kind} ${c.kid} for ${c.service}; may publish: ${c.subjects.join(', ') || '(nothing)'}`,
      );
    });
  keys
    .command('dev')
    .description(
      'create the root and an identity for every service that lacks one (npm start runs this)',
    )
    .action(() => {
      const dir = loadCliConfig().signing.keysDir;
      ensureDevKeys(dir, SERVICE_NAMES);
      out.result({ dir, services: SERVICE_NAMES }, (v) => `development keys ready in ${v.dir}`);
    });
  keys
    .command('ls')
    .description(
      'certificates and revocations in the heady-keys registry, each marked trusted when it verifies up to the root',
    )
    .action(async () => {
      const rows = await withRegistry((r) => r.list());
      out.result(rows, (v) =>
        table(
          ['key', 'kind', 'service', 'instance', 'valid until', 'trusted'],
          v.map(({ key, value, trusted }) => {
            const c = value as Partial<Certificate>;
            return [
              key,
              c.kind ?? ('requestedAt' in value ? 'rotation request' : 'revocation'),
              c.service ?? '',
              c.instance ?? '',
              c.notAfter ? new Date(c.notAfter).toISOString() : '',
              // not signed up to the root: planted or corrupt, ignored by every verifier
              trusted ? 'yes' : 'NO',
            ];
          }),
        ),
      );
    });
  keys
    .command('rotate [service]')
    .description(
      'ask the running instances of a service (default: all) to rotate their epoch keys now (root-signed request)',
    )
    .action(async (service: string | undefined) => {
      const root = loadRoot(loadCliConfig().signing.keysDir);
      const req = rotationRequest(root, service ?? 'all');
      await withRegistry((r) => r.putRotation(req));
      out.result(
        req,
        (v) =>
          `asked ${v.service === 'all' ? 'every service' : v.service} to rotate epoch keys; they log "epoch key rotated"`,
      );
    });
  keys
    .command('revoke <kid>')
    .description(
      'publish a root-signed revocation of a key; verifiers refuse its messages within seconds',
    )
    .option('-r, --reason <reason>', 'why', 'revoked by operator')
    .action(async (kid: string, opts: { reason: string }) => {
      const root = loadRoot(loadCliConfig().signing.keysDir);
      const rec = revoke(root, kid, opts.reason);
      await withRegistry((r) => r.putRevocation(rec));
      out.result(rec, (v) => `revoked ${v.kid}: ${v.reason}`);
    });
}
