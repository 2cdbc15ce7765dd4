import { RejectReason, type ReplayReference, type VerifyResult } from '@heady/pqc';
import { describe, expect, it } from 'vitest';
import { type AdmissionSteps, type Opened, admitDelivery } from './admission.js';

const sealed = new TextEncoder().encode('sealed bytes');
const plain = new TextEncoder().encode('plaintext');

const verified = (
  classification: 'PUBLIC' | 'INTERNAL' | 'PROPRIETARY' | 'RESTRICTED',
  replayOf?: ReplayReference,
): VerifyResult => ({
  ok: true,
  kid: '0123456789abcdef0123456789abcdef',
  service: 'pipeline',
  classification,
  issuedAt: 1,
  ...(replayOf ? { replayOf } : {}),
});

/** Steps that answer as given and record which of them ran, with what. */
function steps(
  verify: VerifyResult,
  first: boolean,
  opened: Opened = { ok: true, data: plain },
): AdmissionSteps & { ran: string[]; openedWith: (ReplayReference | undefined)[] } {
  const ran: string[] = [];
  const openedWith: (ReplayReference | undefined)[] = [];
  return {
    ran,
    openedWith,
    verify: () => {
      ran.push('verify');
      return Promise.resolve(verify);
    },
    claim: () => {
      ran.push('claim');
      return Promise.resolve(first);
    },
    open: (replayOf) => {
      ran.push('open');
      openedWith.push(replayOf);
      return opened;
    },
  };
}

describe(admitDelivery.name, () => {
  it('refuses a message that does not verify, without claiming its msg id', async () => {
    const forged = { ok: false, reason: RejectReason.BadSignature, detail: 'no' } as const;
    const s = steps(forged, true);
    expect(await admitDelivery(sealed, s)).toEqual({ kind: 'refuse', rejection: forged });
    // a forgery must not take the id the genuine message will need
    expect(s.ran).toEqual(['verify']);
  });

  it('skips a verified message whose msg id another stored message holds, without opening it', async () => {
    const s = steps(verified('RESTRICTED'), false);
    expect(await admitDelivery(sealed, s)).toEqual({ kind: 'skip' });
    expect(s.ran).toEqual(['verify', 'claim']);
  });

  it('admits a verified message below RESTRICTED with its payload as delivered', async () => {
    const s = steps(verified('PROPRIETARY'), true);
    expect(await admitDelivery(sealed, s)).toEqual({ kind: 'admit', payload: sealed });
    expect(s.ran).toEqual(['verify', 'claim']);
  });

  it('admits a RESTRICTED message only opened, binding the seal to the original of a replay', async () => {
    const replayOf = {
      stream: 'PIPELINE',
      seq: 7,
      kid: 'k',
      subject: 'pipeline.stage.plan',
      msgId: 'm',
    };
    const s = steps(verified('RESTRICTED', replayOf), true);
    expect(await admitDelivery(sealed, s)).toEqual({ kind: 'admit', payload: plain });
    expect(s.ran).toEqual(['verify', 'claim', 'open']);
    expect(s.openedWith).toEqual([replayOf]);
  });

  it('refuses a RESTRICTED message that does not open, with the reason the seal gave', async () => {
    const closed = { ok: false, reason: RejectReason.Undecryptable, detail: 'wrong key' } as const;
    const s = steps(verified('RESTRICTED'), true, closed);
    expect(await admitDelivery(sealed, s)).toEqual({ kind: 'refuse', rejection: closed });
  });
});
