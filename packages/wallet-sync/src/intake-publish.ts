import { createHash } from 'node:crypto';
import type { Publisher, PublishResult, Topology } from '@intellifin/messaging';
import type { WalletProviderId } from '@intellifin/persistence';
import type { CallbackEnvelope, ReferenceRegistration } from './intake';

/**
 * Publishers of WALLET_INTAKE messages (sync-api's internal routes later; tests and tools now).
 * `Nats-Msg-Id` is derived from the content, so a retried publish of the same registration or
 * callback is dropped by JetStream within the duplicate window (and is idempotent after it).
 */
export function publishRegistration(
  publisher: Publisher,
  topology: Topology,
  provider: WalletProviderId,
  reg: ReferenceRegistration,
): Promise<PublishResult> {
  const digest = createHash('sha256').update(JSON.stringify(reg)).digest('hex').slice(0, 24);
  return publisher.publish(topology.walletIntakeSubject(provider, 'ref', reg.accountId), reg, {
    msgId: `ref:${provider}:${reg.referenceId}:${digest}`,
  });
}

export function publishCallback(
  publisher: Publisher,
  topology: Topology,
  provider: WalletProviderId,
  env: CallbackEnvelope,
): Promise<PublishResult> {
  const digest = createHash('sha256')
    .update(JSON.stringify([env.referenceId ?? null, env.body]))
    .digest('hex')
    .slice(0, 24);
  return publisher.publish(topology.walletIntakeSubject(provider, 'cb'), env, { msgId: `cb:${provider}:${digest}` });
}
