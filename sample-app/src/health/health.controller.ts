import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { SampleConfig } from '../config';
import { FeathersSyncHealthIndicator } from '../nestjs-feathers-sync-terminus';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store';

/**
 * A terminus health check next to the Feathers services: 200 while events reach the other
 * instances, 503 while the sync is connecting, reconnecting or stale (connected, but its canary
 * does not come back), so a load balancer can stop sending users to an instance whose pages would
 * miss what others post. `instance` says which instance answered (the page shows it).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly sync: FeathersSyncHealthIndicator,
    private readonly config: ConfigService<SampleConfig, true>,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
  ) {}

  @Get()
  @HealthCheck()
  @Header('Cache-Control', 'no-store')
  check() {
    return this.health.check([
      () =>
        this.indicators.check('instance').up({
          name: this.config.get('INSTANCE_NAME', { infer: true }),
          store: this.store.kind,
        }),
      () => this.sync.isHealthy('sync'),
    ]);
  }
}
