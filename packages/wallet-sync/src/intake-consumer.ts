import { AppError, ValidationError, type Logger, type Registry, type Tracer } from '@intellifin/core';
import {
  commandIdFor,
  ConsumerRunner,
  jsonCodec,
  syncCommandCodec,
  type HandlerContext,
  type HandlerDecision,
  type Publisher,
  type SettledEvent,
  type SyncCommand,
  type Topology,
} from '@intellifin/messaging';
import { databaseNow, type Pool, type WalletProviderId } from '@intellifin/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { callbackEnvelopeSchema, registerReference, storeCallback, type ReferenceRegistration } from './intake';
import type { WalletMetrics } from './metrics';
import type { WalletApi } from './wallet-api';

export interface WalletIntakeOptions {
  provider: WalletProviderId;
  api: Pick<WalletApi, 'parseCallback'>;
  pool: Pool;
  publisher: Publisher;
  topology: Topology;
  nc: NatsConnection;
  js: JetStreamClient;
  logger: Logger;
  registry?: Registry;
  tracer?: Tracer;
  metrics?: WalletMetrics;
  /** Intake messages handled at once. Default 8. */
  concurrency?: number;
  onSettled?: (e: SettledEvent) => void;
}

/**
 * Consumes `WALLET_INTAKE` for one provider (`<provider>-worker-intake`):
 * - `wallet.<provider>.ref.<accountId>`: registers the reference (idempotent; a conflicting
 *   registration is dead-lettered with code `reference_conflict`, nothing changed). Callbacks that
 *   arrived before it are bound and a `callback` sync command is published for the account.
 * - `wallet.<provider>.cb`: stores the callback (deduplicated by its transition) and, when its
 *   reference is registered, publishes a `callback` sync command with `hintRefs` = the reference,
 *   so the transition is applied by the account's fenced run, never here. A callback for an unknown
 *   reference is kept until the reference is registered.
 */
export class WalletIntake {
  readonly runner: ConsumerRunner<unknown>;

  constructor(private readonly o: WalletIntakeOptions) {
    this.runner = new ConsumerRunner<unknown>({
      nc: o.nc,
      js: o.js,
      topology: o.topology,
      consumer: o.topology.walletIntakeConsumers[o.provider],
      codec: jsonCodec(),
      handler: (_msg, ctx) => this.handle(ctx),
      logger: o.logger.child({ component: 'wallet-intake', provider: o.provider }),
      // A refused registration concerns the message, never the account's health.
      onDeadLetter: () => undefined,
      concurrency: o.concurrency ?? 8,
      ...(o.registry ? { registry: o.registry } : {}),
      ...(o.tracer ? { tracer: o.tracer } : {}),
      ...(o.onSettled ? { onSettled: o.onSettled } : {}),
    });
  }

  start(): Promise<void> {
    return this.runner.start();
  }

  stop(deadlineMs?: number): Promise<void> {
    return this.runner.stop(deadlineMs);
  }

  async handle(ctx: HandlerContext<unknown>): Promise<HandlerDecision> {
    const kind = this.o.topology.stripNamespace(ctx.subject).split('.')[2];
    if (kind === 'ref') return this.onRegistration(ctx);
    if (kind === 'cb') return this.onCallback(ctx);
    return { deadLetter: `not a wallet intake subject: ${ctx.subject}`, code: 'invalid_subject' };
  }

  private async onRegistration(ctx: HandlerContext<unknown>): Promise<HandlerDecision> {
    const { provider, metrics } = this.o;
    const subjectAccount = this.o.topology.stripNamespace(ctx.subject).split('.')[3];
    const payload = ctx.payload as ReferenceRegistration;
    if (payload && typeof payload === 'object' && payload.accountId !== subjectAccount) {
      metrics?.registrations.inc({ provider, outcome: 'refused' });
      return {
        deadLetter: `registration for account ${String(payload.accountId)} arrived on ${ctx.subject}`,
        code: 'registration_mismatch',
      };
    }
    try {
      const r = await registerReference(this.o.pool, provider, payload);
      metrics?.registrations.inc({ provider, outcome: r.outcome });
      ctx.logger.debug(
        { accountId: r.reference.accountId, outcome: r.outcome, boundCallbacks: r.boundCallbacks },
        'reference registration',
      );
      if (r.boundCallbacks > 0) await this.requestSync(r.reference.accountId, r.reference.orgId, r.reference.referenceId, 'early');
      return { ack: true };
    } catch (err) {
      if (err instanceof ValidationError) {
        metrics?.registrations.inc({ provider, outcome: 'refused' });
        ctx.logger.warn({ code: err.code, err }, 'reference registration refused');
        return { deadLetter: err.message, code: err.code };
      }
      throw err;
    }
  }

  private async onCallback(ctx: HandlerContext<unknown>): Promise<HandlerDecision> {
    const { provider, metrics } = this.o;
    const env = callbackEnvelopeSchema.safeParse(ctx.payload);
    let parsed;
    try {
      if (!env.success) throw new ValidationError('invalid_callback', 'callback envelope: body (and optional referenceId) expected');
      parsed = this.o.api.parseCallback(env.data.body, env.data.referenceId);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      metrics?.callbacks.inc({ provider, outcome: 'refused' });
      return { deadLetter: err.message, code: err.code };
    }
    const stored = await storeCallback(this.o.pool, provider, parsed);
    if (!stored.account) {
      metrics?.callbacks.inc({ provider, outcome: 'unbound' });
      return { ack: true };
    }
    metrics?.callbacks.inc({ provider, outcome: stored.duplicate ? 'duplicate' : 'applied' });
    // Published even for a duplicate: a redelivery after a failed publish must still ask for the run
    // (Nats-Msg-Id drops the true repeats).
    await this.requestSync(stored.account.accountId, stored.account.orgId, parsed.referenceId, stored.digest, stored.issuedAt);
    return { ack: true };
  }

  private async requestSync(accountId: string, orgId: string, referenceId: string, tag: string, issuedAt?: Date): Promise<void> {
    const { provider, topology, publisher } = this.o;
    const msgId = `${accountId}:cb:${referenceId}:${tag}`;
    const at = issuedAt ?? (await databaseNow(this.o.pool));
    const cmd: SyncCommand = {
      commandId: commandIdFor(msgId),
      accountId,
      orgId,
      provider,
      trigger: 'callback',
      mode: 'transactions',
      realtime: false,
      triggerId: `cb:${referenceId}:${tag}`.slice(0, 255),
      issuedAt: at.toISOString(),
      hintRefs: [referenceId],
    };
    await publisher.publish(topology.commandSubjectFor(cmd), cmd, {
      msgId,
      codec: syncCommandCodec,
      headers: { 'Content-Type': syncCommandCodec.contentType },
    });
  }
}
