import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCliConfig } from '@heady/config';
import { type Database, type Kysely, OrganizationsRepository } from '@heady/db';
import { type Command } from 'commander';
import { withDb } from '../connect.js';
import { type Output, table } from '../output.js';
import { BillingAdminRepository } from '../repositories/billing.repository.js';

const usd = (micros: string | number | bigint | null | undefined): number =>
  Number(micros ?? 0) / 1e6;

const monthStart = (now = new Date()): string => `${now.toISOString().slice(0, 7)}-01`;

async function orgOf(db: Kysely<Database>, org: string) {
  const o = await new OrganizationsRepository(db).find(org);
  if (!o) throw new Error(`no organization ${org}`);
  return o;
}

function amount(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a number ≥ 0, not ${v}`);
  return n;
}

/** The webhook secret: STRIPE_WEBHOOK_SECRET, else `stripe.webhookSecret` of credentials.json. */
function webhookSecret(): string {
  const fromEnv = process.env.STRIPE_WEBHOOK_SECRET;
  if (fromEnv) return fromEnv;
  try {
    const creds = JSON.parse(
      readFileSync(join(loadCliConfig().dataDir, 'credentials.json'), 'utf8'),
    ) as { stripe?: { webhookSecret?: string } };
    if (creds.stripe?.webhookSecret) return creds.stripe.webhookSecret;
  } catch {
    // no credentials file
  }
  throw new Error('no webhook secret: set STRIPE_WEBHOOK_SECRET (or run npm start once)');
}

/** A `Stripe-Signature` header for `payload`, as Stripe computes it (HMAC-SHA256, scheme v1). */
function stripeSignature(payload: string, secret: string): string {
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

/**
 * `heady billing show|budget|prices|replay`: an organization's plan, subscription, month's usage
 * and budget; setting its monthly budget; the price table usage is costed from.
 */
export function billingAdminCommands(billing: Command, out: Output): void {
  billing
    .command('show <org>')
    .description("an organization's plan, subscription, this month's usage and budget")
    .action(async (org: string) => {
      const v = await withDb(async (db) => {
        const o = await orgOf(db, org);
        const billing = new BillingAdminRepository(db);
        const sub = await billing.subscription(o.id);
        const used = await billing.usageSince(o.id, new Date(monthStart()));
        const b = await billing.budget(o.id);
        return {
          org: o.name,
          orgId: o.id,
          plan: o.plan,
          subscription: sub
            ? {
                status: sub.status,
                plan: sub.plan,
                currentPeriodEnd: sub.current_period_end?.toISOString() ?? null,
                cancelAtPeriodEnd: sub.cancel_at_period_end,
                pastDueSince: sub.past_due_since?.toISOString() ?? null,
              }
            : null,
          usageThisMonth: {
            runs: Number(used.runs),
            tokensIn: Number(used.tokens_in),
            tokensOut: Number(used.tokens_out),
            costUsd: usd(used.cost),
          },
          budget: b
            ? {
                monthlyUsd: usd(b.monthly_credits_micros),
                committedUsd: usd(b.committed_micros),
                reservedUsd: usd(b.reserved_micros),
              }
            : null,
        };
      });
      out.result(
        v,
        (x) =>
          `${x.org} (${x.orgId}): ${x.plan}` +
          (x.subscription
            ? `, subscription ${x.subscription.status}${x.subscription.cancelAtPeriodEnd ? ' (cancels at period end)' : ''}`
            : ', no subscription') +
          `\nthis month: ${x.usageThisMonth.runs} runs, ${x.usageThisMonth.tokensIn} tokens in, ${x.usageThisMonth.tokensOut} out, $${x.usageThisMonth.costUsd}` +
          `\nbudget: ${x.budget ? `$${x.budget.monthlyUsd}/month, $${x.budget.committedUsd} committed, $${x.budget.reservedUsd} reserved` : 'none'}`,
      );
    });

  billing
    .command('budget <org> <usd>')
    .description("set an organization's monthly budget in US dollars (0 refuses every run)")
    .option('--remove', 'remove the budget instead (runs are then not limited by cost)')
    .action(async (org: string, value: string, opts: { remove?: boolean }) => {
      const v = await withDb(async (db) => {
        const o = await orgOf(db, org);
        const billing = new BillingAdminRepository(db);
        if (opts.remove) {
          await billing.removeBudget(o.id);
          return { org: o.name, monthlyUsd: null };
        }
        const micros = Math.round(amount(value, 'the budget') * 1e6);
        await billing.setBudget(o.id, micros, monthStart());
        return { org: o.name, monthlyUsd: micros / 1e6 };
      });
      out.result(v, (x) =>
        x.monthlyUsd === null ? `${x.org}: no budget` : `${x.org}: $${x.monthlyUsd} a month`,
      );
    });

  billing
    .command('replay <eventId>')
    .description(
      'deliver a stored Stripe event to the webhook again, signed with the webhook secret (a no-op unless --force)',
    )
    .option('--gateway <url>', 'the gateway', 'http://127.0.0.1:8080')
    .option(
      '--force',
      'set the stored copy aside first (kept as <id>:superseded:<ms>), so billing applies it again under the ordering rules',
    )
    .action(async (eventId: string, opts: { gateway: string; force?: boolean }) => {
      const stored = await withDb(async (db) => {
        const billing = new BillingAdminRepository(db);
        const payload = await billing.storedEvent(eventId);
        if (payload === undefined) throw new Error(`no stored Stripe event ${eventId}`);
        // the stored copy is kept under another id, so nothing is lost if the delivery fails
        if (opts.force) await billing.supersedeEvent(eventId);
        return payload;
      });
      const payload = JSON.stringify(stored);
      const res = await fetch(`${opts.gateway.replace(/\/$/, '')}/api/billing/webhook`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': stripeSignature(payload, webhookSecret()),
        },
        body: payload,
      });
      const body = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`the webhook answered ${res.status}: ${JSON.stringify(body)}`);
      out.result(body, (b) =>
        b.duplicate ? `${eventId}: already stored, nothing done` : `${eventId}: delivered again`,
      );
    });

  const prices = billing
    .command('prices')
    .description('the price table usage is costed from (US dollars per million tokens)')
    .action(async () => {
      const v = await withDb((db) => new BillingAdminRepository(db).prices());
      out.result(v, (xs) =>
        table(
          ['provider', 'model', 'input $/Mtok', 'output $/Mtok'],
          xs.map((x) => [
            x.provider,
            x.model,
            String(x.inputUsdPerMtok),
            String(x.outputUsdPerMtok),
          ]),
        ),
      );
    });
  prices
    .command('set <provider> <model> <inputUsdPerMtok> <outputUsdPerMtok>')
    .description("set a model's prices ('*' for any model of the provider, or any provider)")
    .action(async (provider: string, model: string, input: string, output: string) => {
      const v = {
        provider,
        model,
        inputUsdPerMtok: amount(input, 'the input price'),
        outputUsdPerMtok: amount(output, 'the output price'),
      };
      await withDb((db) => new BillingAdminRepository(db).setPrice(v));
      out.result(
        v,
        (x) =>
          `${x.provider}/${x.model}: $${x.inputUsdPerMtok} in, $${x.outputUsdPerMtok} out per million tokens (runs recorded from now on)`,
      );
    });
}
