import { type BusConnection, KvKeyRegistry, verifyDelivered } from '@heady/bus';
import { type CommonConfig } from '@heady/config';
import { loadRootPublicKey, MessageVerifier } from '@heady/pqc';
import { type JsMsg } from '@nats-io/jetstream';

/**
 * Verifies a stored message (`ok` with a `reason` means it was not checked) as every Heady consumer does: its signature chain up to the
 * root of the keys directory, revocation, the signer's subject permission, and freshness
 * against the time JetStream stored it (so an old event verifies as well as a new one).
 */
export async function storedMessageVerifier(
  bus: BusConnection,
  config: CommonConfig,
): Promise<(m: JsMsg) => Promise<{ ok: boolean; reason?: string }>> {
  // HEADY_SIGNING=off (development only): nothing is signed, so nothing can be checked
  if (!config.signing.enabled) return () => Promise.resolve({ ok: true, reason: 'signing is off' });
  const rootPublicKey = loadRootPublicKey(config.signing.keysDir);
  const registry = await KvKeyRegistry.open(bus.nc, rootPublicKey);
  const verifier = new MessageVerifier(registry, {
    rootPublicKey,
    maxSkewMs: config.signing.maxSkewMs,
  });
  return async (m) => {
    const v = await verifyDelivered(verifier, m);
    return v.ok ? { ok: true } : { ok: false, reason: v.reason };
  };
}
