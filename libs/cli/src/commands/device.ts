import { loadCliConfig } from '@heady/config';
import {
  DeviceApiError,
  DeviceClient,
  loadDeviceState,
  saveDeviceState,
} from '@heady/device-client';
import { type Command, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Output } from '../output.js';

interface Common {
  file?: string;
  key?: string;
  actAsUser?: boolean;
}

/** The device's state file: `--file`, else `<data dir>/devices/<name>.json` (git-ignored, mode 600). */
function stateFile(opts: Common, name = 'default'): string {
  return opts.file ?? join(loadCliConfig().dataDir, 'devices', `${name}.json`);
}

function clientFor(opts: Common, file: string): DeviceClient {
  const config = loadCliConfig();
  const apiKey = opts.key ?? config.gateway.apiKey;
  if (!apiKey) throw new Error('an API key is needed: --key or HEADY_API_KEY');
  if (!existsSync(file)) throw new Error(`no device at ${file}: run heady device register first`);
  return new DeviceClient(
    { baseUrl: config.gateway.url, apiKey, actAsUser: opts.actAsUser === true },
    loadDeviceState(file),
  );
}

function withCommon(cmd: Command): Command {
  return cmd
    .option('--file <path>', "the device's state file (its secret keys)")
    .option('--key <apiKey>', 'the API key (default HEADY_API_KEY)')
    .option('--act-as-user', 'send X-Heady-User (an organization key of role developer or admin)');
}

/**
 * `heady device register|share|push|pull`: a device of a user, through the gateway, with
 * libs/device-client (keys, end-to-end encryption, signed requests, chain checks). The
 * device's secret keys stay in its state file.
 */
export function deviceCommands(program: Command, out: Output): void {
  const device = program.command('device').description('end-to-end encrypted device sync');

  withCommon(device.command('register <name>'))
    .description(
      "register this machine as a device of a user (the user's DEVICE_SYNC consent is needed)",
    )
    .requiredOption('--user <id>', 'the user (id) the device belongs to')
    .addOption(
      new Option('--alg <alg>', 'signing key')
        .choices(['ed25519', 'mldsa65-ed25519'])
        .default('ed25519'),
    )
    .action(
      async (name: string, opts: Common & { user: string; alg: 'ed25519' | 'mldsa65-ed25519' }) => {
        const file = stateFile(opts, name);
        if (existsSync(file)) throw new Error(`${file} exists: this device is registered already`);
        const config = loadCliConfig();
        const apiKey = opts.key ?? config.gateway.apiKey;
        if (!apiKey) throw new Error('an API key is needed: --key or HEADY_API_KEY');
        const client = DeviceClient.create(
          { baseUrl: config.gateway.url, apiKey, actAsUser: opts.actAsUser === true },
          opts.user,
          opts.alg,
        );
        const d = await client.register(name);
        // the user's first device makes the content key; later ones get it from another device
        const others = (await client.devices()).filter((x) => x.id !== d.id && !x.revokedAt);
        if (!others.length) await client.rekey();
        saveDeviceState(file, client.state);
        out.result(
          { deviceId: d.id, file, keyed: !others.length },
          (v) =>
            `registered device ${v.deviceId} (${file})${v.keyed ? '' : '; run `heady device share` on another device to give it the content key'}`,
        );
      },
    );

  withCommon(device.command('share'))
    .description("seal this device's content keys to every active device of the user")
    .action(async (opts: Common) => {
      const file = stateFile(opts);
      const client = clientFor(opts, file);
      await client.refreshKeys();
      const stored = await client.shareKeys();
      saveDeviceState(file, client.state);
      out.result({ stored }, (v) => `shared ${v.stored} new key share(s)`);
    });

  withCommon(device.command('push [file]'))
    .description('encrypt and append a file (or stdin) to the sync log')
    .action(async (input: string | undefined, opts: Common) => {
      const file = stateFile(opts);
      const client = clientFor(opts, file);
      const data = new Uint8Array(readFileSync(input && input !== '-' ? input : 0));
      if (!client.state.currentKid) await client.refreshKeys();
      let head;
      try {
        head = await client.push(data);
      } catch (e) {
        if (!(e instanceof DeviceApiError && e.status === 409)) throw e;
        // another device wrote first: catch up (verifying the chain), then write after it
        await client.pull();
        head = await client.push(data);
      }
      saveDeviceState(file, client.state);
      out.result({ head }, (v) => `pushed blob ${v.head.seq}`);
    });

  withCommon(device.command('pull'))
    .description('fetch, verify and decrypt the blobs after the last one seen')
    .action(async (opts: Common) => {
      const file = stateFile(opts);
      const client = clientFor(opts, file);
      const blobs = await client.pull();
      saveDeviceState(file, client.state);
      out.result(
        {
          head: client.state.head,
          blobs: blobs.map((b) => ({
            seq: b.seq,
            device: b.device,
            text: new TextDecoder().decode(b.data),
          })),
        },
        (v) => v.blobs.map((b) => `#${b.seq} ${b.text}`).join('\n') || 'nothing new',
      );
    });
}
