import {
  CONSENT_SCOPES,
  ConsentRequiredError,
  type ConsentsReply,
  type PutConsentReply,
  type RpcHandled,
  type PutConsent,
  type ListConsents,
  type RecordTracking,
  type TrackingReply,
} from '@heady/contracts';
import { type DeviceSyncConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { PrivacyAuditRepository } from '../audit/audit.repository.js';
import { UsersRepository } from '../users/users.repository.js';
import { ConsentsRepository } from './consents.repository.js';
import { TrackingRepository } from './tracking.repository.js';

/** Consents (granted, revoked, audited) and the tracking they allow. */
@Injectable()
export class ConsentsService {
  private readonly kept: ReadonlySet<string>;

  constructor(
    @Inject(UsersRepository) private readonly users: UsersRepository,
    @Inject(ConsentsRepository) private readonly consents: ConsentsRepository,
    @Inject(TrackingRepository) private readonly tracking: TrackingRepository,
    @Inject(PrivacyAuditRepository) private readonly audit: PrivacyAuditRepository,
    @Inject(CONFIG) config: DeviceSyncConfig,
  ) {
    this.kept = new Set(config.device.trackingProperties);
  }

  /** Grants or revokes; a change (not a repeated grant) is audited before it is answered. */
  async put(req: RpcHandled<typeof PutConsent>): Promise<PutConsentReply> {
    await this.users.requireInOrg(req.orgId, req.userId);
    const r = await this.consents.change(
      req.orgId,
      req.userId,
      req.scope,
      req.granted,
      req.erase ?? false,
    );
    if (r.changed || r.erased)
      await this.audit.publish({
        actor: req.actor,
        action: req.granted ? 'CONSENT_GRANTED' : 'CONSENT_REVOKED',
        target: `user:${req.userId}`,
        status: 'OK',
        details: {
          orgId: req.orgId,
          userId: req.userId,
          scope: req.scope,
          consentId: r.consent.id,
          erasedTrackingEvents: r.erased,
        },
      });
    return { consent: r.consent, erased: r.erased };
  }

  async list(req: RpcHandled<typeof ListConsents>): Promise<ConsentsReply> {
    await this.users.requireInOrg(req.orgId, req.userId);
    const history = await this.consents.history(req.orgId, req.userId);
    const current = Object.fromEntries(
      CONSENT_SCOPES.map((s) => [
        s,
        history.some((h) => h.scope === s && h.granted && h.revokedAt === null),
      ]),
    );
    return { current, history };
  }

  /**
   * Stores a tracking event minimised: only allow-listed properties, and nothing of the
   * request (no IP address, no user agent) — the gateway sends none.
   * @throws ConsentRequiredError unless the user's TRACKING consent is granted.
   */
  async track(req: RpcHandled<typeof RecordTracking>): Promise<TrackingReply> {
    await this.users.requireInOrg(req.orgId, req.userId);
    const consentId = await this.consents.open(req.orgId, req.userId, 'TRACKING');
    if (!consentId) throw new ConsentRequiredError('TRACKING');
    const properties = Object.fromEntries(
      Object.entries(req.properties).filter(([k]) => this.kept.has(k)),
    );
    const id = await this.tracking.insertUnderConsent({
      orgId: req.orgId,
      userId: req.userId,
      consentId,
      event: req.event,
      properties,
    });
    if (!id) throw new ConsentRequiredError('TRACKING');
    return { id, kept: Object.keys(properties) };
  }
}
