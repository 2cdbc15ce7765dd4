import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  NATS_USERS,
  devTlsCertificates,
  ensureNkeyUsers,
  natsServerConfig,
  nkeySeedFile,
} from '@heady/bus';
import { loadCliConfig } from '@heady/config';
import { type Command } from 'commander';
import { type Output } from '../output.js';

interface ConfigOptions {
  dir?: string;
  seeds?: string;
  host: string;
  port: string;
  store?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsDev?: string;
  monitorPort?: string;
}

function portOf(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${flag}: not a port: ${v}`);
  return n;
}

/** `heady nats config`: the NATS users (nkeys) and a nats-server configuration that admits only them. */
export function natsCommands(program: Command, out: Output): void {
  const nats = program.command('nats').description('NATS users (nkeys) and server configuration');
  nats
    .command('config')
    .description(
      'create an nkey seed per service and for operators (kept), and write a nats-server configuration admitting only them, each with the permissions of its certificate (npm start runs this)',
    )
    .option(
      '--dir <dir>',
      'where nats-server.conf (and --tls-dev files) go (default <data dir>/nats)',
    )
    .option(
      '--seeds <dir>',
      'where the nkey seeds go, when not beside the configuration (the server needs none of them)',
    )
    .option('--host <host>', 'address the server listens on', '127.0.0.1')
    .option('--port <port>', 'port the server listens on', '4223')
    .option('--store <dir>', 'JetStream store directory (default <dir>/jetstream)')
    .option('--tls-cert <file>', 'server TLS certificate (PEM); TLS is required when given')
    .option('--tls-key <file>', 'server TLS private key (PEM)')
    .option(
      '--tls-dev <names>',
      'make a development CA (<dir>/ca.pem) and a server certificate for these comma-separated host names, kept once made; clients set HEADY_NATS_CA_FILE to ca.pem',
    )
    .option('--monitor-port <port>', 'HTTP monitoring port (/healthz); off unless given')
    .action((o: ConfigOptions) => {
      const dir = resolve(o.dir ?? join(loadCliConfig().dataDir, 'nats'));
      if (!!o.tlsCert !== !!o.tlsKey) throw new Error('--tls-cert and --tls-key go together');
      if (o.tlsDev && o.tlsCert) throw new Error('--tls-dev or --tls-cert/--tls-key, not both');
      const seeds = resolve(o.seeds ?? dir);
      const users = ensureNkeyUsers(seeds, NATS_USERS);
      mkdirSync(dir, { recursive: true });
      if (o.tlsDev) {
        o.tlsCert = join(dir, 'server-cert.pem');
        o.tlsKey = join(dir, 'server-key.pem');
        if (!existsSync(o.tlsCert)) {
          const names = o.tlsDev
            .split(',')
            .map((n) => n.trim())
            .filter(Boolean);
          const pem = devTlsCertificates(names);
          writeFileSync(join(dir, 'ca.pem'), pem.caCert);
          writeFileSync(o.tlsCert, pem.serverCert);
          writeFileSync(o.tlsKey, pem.serverKey, { mode: 0o600 });
        }
      }
      const file = join(dir, 'nats-server.conf');
      writeFileSync(
        file,
        natsServerConfig({
          host: o.host,
          port: portOf(o.port, '--port'),
          storeDir: resolve(o.store ?? join(dir, 'jetstream')),
          users,
          ...(o.tlsCert && o.tlsKey
            ? { tls: { certFile: resolve(o.tlsCert), keyFile: resolve(o.tlsKey) } }
            : {}),
          ...(o.monitorPort ? { monitorPort: portOf(o.monitorPort, '--monitor-port') } : {}),
        }),
      );
      out.result(
        {
          config: file,
          users: Object.fromEntries(
            users.map((u) => [u.name, { nkey: u.nkey, seedFile: nkeySeedFile(seeds, u.name) }]),
          ),
        },
        (v) =>
          `wrote ${v.config}; users (seed files, one per service; operators use operator.nk): ${Object.keys(v.users).join(', ')}`,
      );
    });
}
