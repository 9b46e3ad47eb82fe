import {
  Inject,
  Injectable,
  type OnApplicationShutdown,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { type FeathersAppLike, isFeathersApp } from './core/feathers.types.js';
import { BehaviorSubject, type Observable, Subject } from 'rxjs';
import { SyncEngine, type SyncGap } from './core/sync-engine.js';
import type { SyncStats } from './core/sync-stats.js';
import {
  FeathersSyncClosedError,
  FeathersSyncConfigError,
  FeathersSyncConnectTimeoutError,
} from './errors/sync.errors.js';
import { messages } from './errors/sync.messages.js';
import {
  FEATHERS_APP,
  SYNC_RESOLVED_OPTIONS,
  SYNC_TELEMETRY,
  SYNC_TRANSPORT,
} from './feathers-sync.constants.js';
import type { ResolvedSyncOptions } from './options/resolve-options.js';
import { errorText } from './shared/errors.js';
import { redactUri, type SecretScrubber } from './shared/redact.js';
import type { SyncStatus } from './shared/status.js';
import type { SyncTelemetry, TelemetryStarter } from './telemetry/telemetry.types.js';
import type { SyncTransport } from './transports/sync-transport.js';

export type { SyncStatus } from './shared/status.js';

/** What `app.sync` holds, as feathers-sync sets it, for code and adapters written for feathers-sync. */
export interface FeathersSyncCompat {
  type: string;
  ready: Promise<void>;
  serialize: (envelope: never) => string | Uint8Array;
  deserialize: (payload: string | Uint8Array) => unknown;
}

/**
 * Attaches the sync core to the Feathers app, reports readiness and status, and closes the
 * transport on shutdown. Global module: it initialises before feature modules and shuts down
 * after them, so requests still in flight during shutdown get their events out.
 */
@Injectable()
export class SyncService implements OnModuleInit, OnApplicationShutdown {
  private readonly engine: SyncEngine;
  private readonly telemetry?: SyncTelemetry;
  private readonly statusSubject = new BehaviorSubject<SyncStatus>('connecting');
  private readonly gapSubject = new Subject<SyncGap>();
  /** Every status change, starting with the current status. Completes on shutdown. */
  readonly status$: Observable<SyncStatus> = this.statusSubject.asObservable();
  /**
   * Every loss that could not be recovered: `{ origin, missing }` (`origin` is `*` when the broker
   * lost messages without saying whose). Also emitted as `sync-gap` on the Feathers app, so an app
   * can tell its socket clients to refetch. Completes on shutdown.
   */
  readonly gaps$: Observable<SyncGap> = this.gapSubject.asObservable();
  private readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private readySettled: 'pending' | 'resolved' | 'rejected' = 'pending';
  private everReady = false;
  private connectTimer?: NodeJS.Timeout;
  private feathersApp?: FeathersAppLike;
  /** Why the transport is not ready (scrubbed), until it is: `ready` rejects with it on timeout. */
  private lastFailure?: Error;
  /** The last line of defence: no credential of the options reaches a log line or an error. */
  private readonly scrubber: SecretScrubber;

  constructor(
    @Inject(SYNC_RESOLVED_OPTIONS) private readonly options: ResolvedSyncOptions,
    @Inject(SYNC_TRANSPORT) private readonly transport: SyncTransport,
    private readonly moduleRef: ModuleRef,
    @Optional() private readonly httpAdapterHost?: HttpAdapterHost,
    @Optional() @Inject(SYNC_TELEMETRY) startTelemetry?: TelemetryStarter,
  ) {
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Nobody may be awaiting `ready`: a rejection must not become an unhandled one.
    this.readyPromise.catch(() => undefined);
    this.scrubber = options.scrubber;
    this.telemetry = startTelemetry?.({
      key: options.key,
      transportType: transport.type,
      instanceId: options.engine.instanceId,
    });
    this.engine = new SyncEngine(transport, {
      ...options.engine,
      observer: this.telemetry,
      onStatus: (status, error) => this.onStatus(status, error),
      onGap: (gap) => this.onGap(gap),
    });
    this.telemetry?.watch(() => this.engine.stats());
  }

  /** The transport in use: `redis`, `amqp`, `nats`, `memory`, or a custom transport's type. */
  get type(): string {
    return this.transport.type;
  }

  /**
   * Resolves once the broker subscription is live; rejects after `connectTimeout` (the transport
   * keeps trying, and a later success makes `ready` a resolved promise again).
   */
  get ready(): Promise<void> {
    if (this.readySettled === 'rejected' && this.everReady) return Promise.resolve();
    return this.readyPromise;
  }

  /**
   * `connecting` → `ready` ⇄ `reconnecting` → `closed`; `ready` ⇄ `stale` while connected but this
   * instance's canary stopped coming back (see `heartbeatMs`).
   */
  get status(): SyncStatus {
    return this.statusSubject.value;
  }

  /** This instance's id in envelopes (`context.sync.origin` on other instances). */
  get instanceId(): string {
    return this.options.engine.instanceId;
  }

  /** The Feathers application the module syncs (available after module init). */
  get app(): FeathersAppLike | undefined {
    return this.feathersApp;
  }

  /** Counters since boot: published, received, emitted, echoes, duplicates, missed, dropped by reason… */
  stats(): SyncStats & { status: SyncStatus; type: string; instanceId: string } {
    return {
      ...this.engine.stats(),
      status: this.status,
      type: this.type,
      instanceId: this.instanceId,
    };
  }

  async onModuleInit(): Promise<void> {
    const app = this.findFeathersApp();
    this.feathersApp = app;
    this.engine.attach(app);
    const compat: FeathersSyncCompat = {
      type: this.type,
      ready: this.readyPromise,
      serialize: this.options.engine.serialize,
      deserialize: this.options.engine.deserialize,
    };
    app.sync = compat;

    this.connectTimer = setTimeout(() => this.timeOut(), this.options.connectTimeout);
    this.connectTimer.unref();
    // Boot does not wait for the broker unless asked to.
    const started = this.engine.start().catch((error: unknown) => {
      const failure = this.clean(error);
      this.options.logger.error(
        `The ${this.type} transport could not start: ${errorText(failure)}`,
      );
      this.settle('rejected', failure);
      throw failure;
    });
    if (this.options.waitForBroker) {
      try {
        // A transport's open() may settle only once the broker answered (to fail with an error
        // only the user can fix): wait for it no longer than for `ready`, which times out.
        await Promise.all([started, this.readyPromise]);
      } catch (error) {
        // Nest runs no shutdown hook after a failed boot: close what was opened, or it retries forever.
        clearTimeout(this.connectTimer);
        await this.engine.close();
        this.telemetry?.stop();
        throw error;
      }
    } else {
      started.catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.connectTimer);
    await this.engine.close();
    this.telemetry?.stop();
    this.settle('rejected', new FeathersSyncClosedError(messages.closed()));
    this.statusSubject.complete();
    this.gapSubject.complete();
  }

  private findFeathersApp(): FeathersAppLike {
    const fromOptions = this.options.app;
    if (fromOptions !== undefined) {
      if (!isFeathersApp(fromOptions)) {
        throw new FeathersSyncConfigError(messages.notAFeathersApp('the `app` option'));
      }
      return fromOptions;
    }
    let provided: unknown;
    try {
      provided = this.moduleRef.get(FEATHERS_APP, { strict: false });
    } catch {
      provided = undefined;
    }
    if (provided !== undefined && provided !== null) {
      if (!isFeathersApp(provided)) {
        throw new FeathersSyncConfigError(messages.notAFeathersApp('the FEATHERS_APP provider'));
      }
      return provided;
    }
    const instance: unknown = this.httpAdapterHost?.httpAdapter?.getInstance?.();
    if (isFeathersApp(instance)) return instance;
    throw new FeathersSyncConfigError(messages.noFeathersApp());
  }

  private onGap(gap: SyncGap): void {
    this.gapSubject.next(gap);
    try {
      this.feathersApp?.emit('sync-gap', gap);
    } catch (error) {
      this.options.logger.warn(`A 'sync-gap' listener threw: ${errorText(error)}`);
    }
  }

  private onStatus(status: SyncStatus, raw?: Error): void {
    const error = raw && this.scrubber.error(raw);
    if (status === 'ready') this.lastFailure = undefined;
    else if (error) this.lastFailure = error;
    const previous = this.statusSubject.value;
    if (status !== previous) this.statusSubject.next(status);
    const where = `${this.type} (${redactUri(this.options.uri)}, key "${this.options.key}")`;
    if (status === 'stale' && previous !== 'stale') {
      const { heartbeatMs } = this.options.engine;
      this.options.logger.warn(
        `Connected to ${where}, but none of this instance's last 3 canaries (one every ` +
          `${heartbeatMs} ms) came back: its subscription receives nothing, so events from other ` +
          'instances are not arriving. Status is `stale` until one comes back. Check the broker ' +
          '(a subscription, binding, queue or permission removed behind the connection).',
      );
    } else if (status === 'ready' && previous === 'stale') {
      this.options.logger.log(`The canary came back on ${where}: events arrive again.`);
    } else if (status === 'ready' && previous !== 'ready') {
      this.options.logger.log(
        this.everReady ? `Resubscribed on ${where}; events flow again.` : `Subscribed on ${where}.`,
      );
      this.everReady = true;
      clearTimeout(this.connectTimer);
      this.settle('resolved');
    } else if (status === 'reconnecting' && (previous === 'ready' || previous === 'stale')) {
      this.options.logger.warn(
        `Lost the connection to ${where}${error ? `: ${error.message}` : ''}. Reconnecting; ` +
          'local events go on and are sent once the broker is back.',
      );
    }
  }

  private timeOut(): void {
    if (this.readySettled !== 'pending') return;
    const cause = this.lastFailure;
    const error = new FeathersSyncConnectTimeoutError(
      messages.connectTimeout(
        this.type,
        redactUri(this.options.uri),
        this.options.connectTimeout,
        cause?.message,
      ),
      cause,
    );
    this.options.logger.error(error.message);
    this.settle('rejected', error);
  }

  /** The module's own errors as they are (they hold no secret); any other as a scrubbed copy. */
  private clean(error: unknown): Error {
    if (error instanceof Error && error.name.startsWith('FeathersSync')) {
      const { message, stack } = error;
      if (
        this.scrubber.text(message) === message &&
        this.scrubber.text(stack ?? '') === (stack ?? '')
      )
        return error;
    }
    return this.scrubber.error(error);
  }

  private settle(outcome: 'resolved' | 'rejected', error?: Error): void {
    if (this.readySettled !== 'pending') return;
    this.readySettled = outcome;
    if (outcome === 'resolved') this.resolveReady();
    else this.rejectReady(error ?? new Error('not ready'));
  }
}
