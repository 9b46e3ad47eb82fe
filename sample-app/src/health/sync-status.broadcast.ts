import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { SampleFeathersApp } from '../feathers/feathers-app';
import { FEATHERS_APP, SyncService } from '../nestjs-feathers-sync';

/** What the page hears on every status change of this instance's sync. */
export interface SyncStatusMessage {
  type: string;
  status: string;
}

/**
 * Pushes every change of `SyncService.status$` (`stale` included) to the pages connected to this
 * instance, as the socket.io event `sync status`. Straight through socket.io, not a Feathers
 * service event: the status is this instance's own, and service events are synced to the others.
 */
@Injectable()
export class SyncStatusBroadcast implements OnModuleInit, OnModuleDestroy {
  private subscription?: Subscription;

  constructor(
    private readonly sync: SyncService,
    @Inject(FEATHERS_APP) private readonly app: SampleFeathersApp,
  ) {}

  onModuleInit(): void {
    this.subscription = this.sync.status$.subscribe((status) => {
      // Set once Feathers is set up on the HTTP server; a page loaded later asks /health first.
      const io = this.app.io as
        { emit(event: string, message: SyncStatusMessage): void } | undefined;
      io?.emit('sync status', { type: this.sync.type, status });
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }
}
