import { Injectable, Module } from '@nestjs/common';
import {
  HealthIndicatorService,
  TerminusModule,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { SyncStatus } from '../shared/status.js';
import { SyncService } from '../sync.service.js';

/**
 * What the indicator reports under its key (terminus adds `status: 'up' | 'down'`). A type, not an
 * interface: terminus takes a record.
 */
export type FeathersSyncHealthDetails = {
  /** `redis`, `amqp`, `nats`, `memory`, or a custom transport's type. */
  transport: string;
  /** `SyncService.status`: `ready` is up; `connecting`, `reconnecting`, `stale`, `closed` are down. */
  syncStatus: SyncStatus;
  instanceId: string;
  /** Round trip of the last canary that came back, in ms (null: none yet, or the canary is off). */
  canaryRoundTripMs: number | null;
  published: number;
  received: number;
  emitted: number;
  missed: number;
  publishFailed: number;
  pending: number;
  /** Times the transport lost its connection since boot. */
  disconnects: number;
  /** Inbound messages refused, all reasons together (`stats().dropped` has them by reason). */
  dropped: number;
};

/**
 * A `@nestjs/terminus` health indicator (the `HealthIndicatorService` API of terminus 11): up while
 * the sync is `ready`, down while it is `connecting`, `reconnecting`, `stale` (connected, but its
 * canary stopped coming back) or `closed`. Never throws: a down result is terminus's 503.
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.sync.isHealthy('feathers-sync')]); }
 * ```
 */
@Injectable()
export class FeathersSyncHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly sync: SyncService,
  ) {}

  isHealthy<const Key extends string = 'feathers-sync'>(
    key: Key = 'feathers-sync' as Key,
  ): HealthIndicatorResult<Key> {
    const indicator = this.indicators.check(key);
    const stats = this.sync.stats();
    const details: FeathersSyncHealthDetails = {
      transport: stats.type,
      syncStatus: stats.status,
      instanceId: stats.instanceId,
      canaryRoundTripMs: stats.canary?.lastRoundTripMs ?? null,
      published: stats.published,
      received: stats.received,
      emitted: stats.emitted,
      missed: stats.missed,
      publishFailed: stats.publishFailed,
      pending: stats.pending,
      disconnects: stats.disconnects,
      dropped: Object.values(stats.dropped).reduce((sum, n) => sum + n, 0),
    };
    return stats.status === 'ready' ? indicator.up(details) : indicator.down(details);
  }
}

/**
 * Provides `FeathersSyncHealthIndicator` (with the `TerminusModule` it needs) to the module that
 * imports it; `FeathersSyncModule` must be imported somewhere in the app (it is global).
 */
@Module({
  imports: [TerminusModule],
  providers: [FeathersSyncHealthIndicator],
  exports: [FeathersSyncHealthIndicator],
})
export class FeathersSyncHealthModule {}
