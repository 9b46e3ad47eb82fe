import { Controller, Get, Header, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SampleConfig } from '../config';
import { SyncService } from '../nestjs-feathers-sync';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store';

/**
 * A Nest route next to the Feathers services: 200 while events reach the other instances,
 * 503 while the sync transport is connecting or reconnecting, so a load balancer can stop
 * sending users to an instance whose pages would miss what others post.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly sync: SyncService,
    private readonly config: ConfigService<SampleConfig, true>,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
  ) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  health() {
    const report = {
      status: this.sync.status === 'ready' ? 'ok' : 'unavailable',
      instance: this.config.get('INSTANCE_NAME', { infer: true }),
      store: this.store.kind,
      sync: this.sync.stats(),
    };
    if (this.sync.status !== 'ready') throw new ServiceUnavailableException(report);
    return report;
  }
}
