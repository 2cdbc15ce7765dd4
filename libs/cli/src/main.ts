#!/usr/bin/env node
import { Command } from 'commander';
import { apikeysCommands } from './commands/apikeys.js';
import { bansCommands } from './commands/bans.js';
import { billingCommands } from './commands/billing.js';
import { dbCommands } from './commands/db.js';
import { deviceCommands } from './commands/device.js';
import { keysCommands } from './commands/keys.js';
import { natsCommands } from './commands/nats.js';
import { opsCommands } from './commands/ops.js';
import { providersCommands } from './commands/providers.js';
import { runsCommands } from './commands/runs.js';
import { vaultCommands } from './commands/vault.js';
import { createOutput, exitAfterFlush } from './output.js';

const program = new Command('heady')
  .description('Heady operator CLI')
  .option('--json', 'machine-readable output');
const out = createOutput(() => program.opts<{ json?: boolean }>().json === true);
dbCommands(program, out);
runsCommands(program, out);
keysCommands(program, out);
apikeysCommands(program, out);
bansCommands(program, out);
billingCommands(program, out);
opsCommands(program, out);
natsCommands(program, out);
providersCommands(program, out);
deviceCommands(program, out);
vaultCommands(program, out);

program
  .parseAsync(process.argv)
  // a signer's batch timer or a registry watch must not keep a finished command alive,
  // but whatever was written must reach a pipe before the process exits
  .then(() => exitAfterFlush(Number(process.exitCode ?? 0)))
  .catch((e: unknown) => {
    process.stderr.write(`heady: ${e instanceof Error ? e.message : String(e)}\n`);
    return exitAfterFlush(1);
  });
