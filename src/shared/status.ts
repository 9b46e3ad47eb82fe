/** Connection state a transport reports. `ready` means the subscription is live. */
export type TransportStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed';

/**
 * The module's status: the transport's, or `stale` while the transport is ready but this
 * instance's canary stopped coming back (connected, yet not receiving).
 */
export type SyncStatus = TransportStatus | 'stale';

export type StatusListener = (status: TransportStatus, error?: Error) => void;

/**
 * The status of one transport, written in one place: each transport calls `ready()`, `dropped()`
 * and `closed()` from its client's events, and this passes on each change once. `closed` is final;
 * a drop before the first `ready` stays `connecting`, after it is `reconnecting`.
 */
export class StatusReporter {
  private current: TransportStatus = 'connecting';
  private everReady = false;
  private listener?: StatusListener;

  get status(): TransportStatus {
    return this.current;
  }

  get isReady(): boolean {
    return this.current === 'ready';
  }

  get wasEverReady(): boolean {
    return this.everReady;
  }

  get isClosed(): boolean {
    return this.current === 'closed';
  }

  /** Where changes go (the transport's `handlers.status`). Reports the current status at once. */
  attach(listener: StatusListener): void {
    this.listener = listener;
    listener(this.current);
  }

  ready(): void {
    this.everReady = true;
    this.set('ready');
  }

  /** The connection (or subscription) is gone, or an attempt failed; an error, if any, says why. */
  dropped(error?: Error): void {
    this.set(this.everReady ? 'reconnecting' : 'connecting', error);
  }

  closed(): void {
    this.set('closed');
  }

  private set(status: TransportStatus, error?: Error): void {
    if (this.current === 'closed') return;
    if (status === this.current && !error) return;
    this.current = status;
    this.listener?.(status, error);
  }
}
