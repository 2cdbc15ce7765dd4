import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BusPublisher, KvKeyRegistry, closeBus, connectBus } from '@heady/bus';
import { loadCliConfig } from '@heady/config';
import { TIER_CHANGED_SUBJECT, TierChangedSchema } from '@heady/contracts';
import { OrganizationsRepository, PLANS } from '@heady/db';
import { MessageSigner, loadIdentity, loadRootPublicKey, newEpoch } from '@heady/pqc';
import { type Command, Option } from 'commander';
import { withDb } from '../connect.js';
import { billingAdminCommands } from './billing-admin.js';
import { type Output } from '../output.js';

/** `heady billing tier <org> <plan>`: what the billing service publishes when a subscription changes. */
export function billingCommands(program: Command, out: Output): void {
  const billing = program
    .command('billing')
    .description('plans, usage, budgets and prices; billing events (the BILLING stream)');
  billingAdminCommands(billing, out);
  billing
    .command('tier <org> <plan>')
    .description(
      'publish billing.tier.changed for an organization (name or id), signed as the billing service; the gateway applies it at once',
    )
    .addOption(
      new Option('--at <time>', 'when the change took effect (ISO 8601)').default(undefined),
    )
    .option('--reason <why>', 'why the plan changed', 'operator')
    .option('--as <identity>', 'the identity in the keys directory that signs it', 'billing')
    .action(
      async (org: string, plan: string, opts: { at?: string; reason: string; as: string }) => {
        const p = plan.toUpperCase();
        if (!(PLANS as readonly string[]).includes(p))
          throw new Error(`unknown plan ${plan}; plans: ${PLANS.join(', ')}`);
        const at = opts.at === undefined ? new Date() : new Date(opts.at);
        if (Number.isNaN(at.getTime())) throw new Error(`--at ${opts.at} is not a time`);
        const config = loadCliConfig();
        const o = await withDb((db) => new OrganizationsRepository(db).find(org));
        if (!o) throw new Error(`no organization ${org}`);
        const bus = await connectBus(config, 'heady-cli');
        try {
          const dir = config.signing.keysDir;
          const identity = loadIdentity(dir, opts.as);
          const registry = await KvKeyRegistry.open(bus.nc, loadRootPublicKey(dir));
          await registry.putIdentity(identity.cert);
          const epoch = newEpoch(identity, `${opts.as}-cli`, 3_600_000);
          await registry.putEpoch(epoch.cert);
          const signer = new MessageSigner(epoch, {
            publishSignature: (kid, root, sig) => registry.putSignature(kid, root, sig),
          });
          const publisher = new BusPublisher(bus, undefined, signer);
          await publisher.publish(
            TIER_CHANGED_SUBJECT,
            {
              schema: TierChangedSchema,
              message: create(TierChangedSchema, {
                orgId: o.id,
                plan: p,
                previousPlan: o.plan,
                changedAt: timestampFromDate(at),
                reason: opts.reason,
              }),
            },
            // the same change published twice is one event (JetStream's duplicate window)
            { msgId: `tier:${o.id}:${p}:${at.getTime()}` },
          );
        } finally {
          await closeBus(bus);
        }
        out.result(
          { orgId: o.id, org: o.name, plan: p, previousPlan: o.plan, changedAt: at.toISOString() },
          (v) => `published billing.tier.changed: ${v.org} ${v.previousPlan} → ${v.plan}`,
        );
      },
    );
}
