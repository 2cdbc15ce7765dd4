import { type BusConnection, KvKeyRegistry, PayloadSealing } from '@heady/bus';
import { type CommonConfig } from '@heady/config';
import {
  KemKeyStore,
  MessageSigner,
  MessageVerifier,
  loadIdentity,
  loadRootPublicKey,
  newEpoch,
} from '@heady/pqc';
import { type Logger, gauge } from '@heady/telemetry';

/** When this process last started signing with a new epoch key (HeadyKeyRotationOverdue). */
const epochStarted = gauge(
  'heady_signing_epoch_started_seconds',
  'Unix time this process started signing with its current epoch key',
);
/** The configured rotation interval, so an alert can tell an overdue rotation. */
const rotationInterval = gauge(
  'heady_signing_rotation_interval_seconds',
  'Configured epoch key rotation interval (HEADY_KEY_ROTATION_MS) in seconds',
);

/** The process's signer and verifier, its RESTRICTED-payload sealing, and how to stop its key rotation. */
export interface Security {
  signer: MessageSigner;
  verifier: MessageVerifier;
  registry: KvKeyRegistry;
  sealing: PayloadSealing;
  kem: KemKeyStore;
  stop(): void;
}

/**
 * Loads the service's identity and the root anchor from the keys directory, makes this
 * instance's epoch key (certified by the identity), publishes both certificates to
 * `heady-keys`, and rotates the epoch key every `rotationMs`. Each epoch certificate is
 * valid for rotation + overlap, so messages signed just before a rotation still verify.
 *
 * It also keeps the service's epoch KEM keys (`<keysDir>/kem/<service>/`): the current
 * and the next epoch's public keys are certified and published, so senders can seal
 * RESTRICTED payloads to this service, and secrets older than rotation + retention are
 * deleted (forward secrecy).
 */
export async function setupSecurity(
  config: CommonConfig,
  bus: BusConnection,
  logger: Logger,
): Promise<Security> {
  const { keysDir, rotationMs, overlapMs, batchMax, batchDelayMs, maxSkewMs, kemRetentionMs } =
    config.signing;
  const identity = loadIdentity(keysDir, config.service);
  const rootPublicKey = loadRootPublicKey(keysDir);
  const registry = await KvKeyRegistry.open(bus.nc, rootPublicKey, {
    signatureTtlMs: config.nats.streamMaxAgeDays * 86_400_000,
    replicas: config.nats.streamReplicas,
  });
  await registry.putIdentity(identity.cert);
  const lifetime = rotationMs + overlapMs;
  const epoch = newEpoch(identity, config.instanceId, lifetime);
  await registry.putEpoch(epoch.cert);
  const verifier = new MessageVerifier(registry, { rootPublicKey, maxSkewMs });
  const signer = new MessageSigner(epoch, {
    maxBatch: batchMax,
    maxDelayMs: batchDelayMs,
    // a batch's signature is stored once; its messages carry only their Merkle proof
    publishSignature: (kid, root, sig) => registry.putSignature(kid, root, sig),
    // what this process signed it need not verify again when it consumes it
    onRoot: (kid, root) => verifier.trustRoot(kid, root),
  });
  logger.info({ kid: epoch.cert.kid, identity: identity.cert.kid }, 'signing with a new epoch key');
  epochStarted.set(Date.now() / 1000);
  rotationInterval.set(rotationMs / 1000);

  const kem = new KemKeyStore(keysDir, config.service, {
    rotationMs,
    retentionMs: kemRetentionMs,
  });
  const refreshKem = async (): Promise<void> => {
    const now = kem.epochAt(Date.now());
    for (const e of [now, now + 1]) await registry.putKem(kem.certify(identity, e, overlapMs));
    const gone = kem.purge();
    if (gone.length) logger.info({ keys: gone }, 'deleted expired epoch KEM secrets');
  };
  await refreshKem();
  const sealing = new PayloadSealing(registry, { rotationMs, store: kem });

  const rotate = (why: string): void => {
    const next = newEpoch(identity, config.instanceId, lifetime);
    // publish the certificate before signing with the key, so no verifier meets an unknown kid
    registry.putEpoch(next.cert).then(
      () => {
        signer.rotate(next);
        epochStarted.set(Date.now() / 1000);
        logger.info({ kid: next.cert.kid, why }, 'epoch key rotated');
      },
      (err: unknown) => logger.error({ err }, 'epoch key rotation failed; keeping the current key'),
    );
    refreshKem().catch((err: unknown) => logger.error({ err }, 'epoch KEM key refresh failed'));
  };
  const timer = setInterval(() => rotate('schedule'), rotationMs);
  timer.unref();
  // `heady keys rotate`: a root-signed request in heady-keys rotates every instance at once
  const stopWatch = await registry.watchRotations(config.service, Date.now(), (r) =>
    rotate(`requested at ${new Date(r.requestedAt).toISOString()}`),
  );
  return {
    signer,
    verifier,
    registry,
    sealing,
    kem,
    stop: () => {
      clearInterval(timer);
      stopWatch();
      void signer.close();
    },
  };
}
