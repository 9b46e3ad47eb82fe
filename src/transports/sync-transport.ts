import type { FeathersSyncOptions } from '../feathers-sync.options.js';

/**
 * The contract every transport implements. A transport moves opaque bytes between instances:
 * it knows nothing of Feathers, envelopes or serializers. Adding a broker means adding a class
 * that implements this interface; the core does not change.
 */

/** Connection state a transport reports. `ready` means the subscription is live. */
export type TransportStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** What a transport calls back into. Implementations must never let these throw into a client. */
export interface SyncTransportHandlers {
  /** One message exactly as it came off the broker (Buffer for binary brokers, string allowed). */
  message(payload: Uint8Array | string): void;
  /** The connection changed state; `error` explains a drop when there is one. */
  status(status: TransportStatus, error?: Error): void;
}

/** A broker connection as the core sees it. */
export interface SyncTransport {
  /** Short name shown as `SyncService.type`, e.g. `redis`. */
  readonly type: string;
  /**
   * Connects and subscribes. Must not wait for the broker: report `ready` through
   * `handlers.status` once the subscription is live, and keep reconnecting without a give-up
   * limit. A returned promise may reject only for errors that retrying cannot fix.
   */
  open(handlers: SyncTransportHandlers): void | Promise<void>;
  /**
   * Publishes one serialized envelope. Called only while the transport reports `ready`; may batch
   * or pipeline writes but must keep their order. A rejection counts the message as lost.
   */
  publish(payload: Uint8Array | string): void | Promise<unknown>;
  /** Stops consuming, flushes what it has accepted, closes every connection it opened. */
  close(): Promise<void>;
}

/** A transport class the module can construct: `new (options) => SyncTransport`. */
export type SyncTransportClass = new (context: SyncTransportContext) => SyncTransport;

/** What a transport class receives when the module constructs it. */
export interface SyncTransportContext {
  /** The uri from the options (may be undefined for custom transports). */
  uri?: string;
  /** The channel, exchange or subject name. */
  key: string;
  /** The module options, for transport-specific settings (`redis`, `amqp`, `nats`, or your own). */
  options: Readonly<FeathersSyncOptions>;
  /** Logger to report connection events through (never log credentials). */
  logger: SyncLogger;
}

/** The subset of Nest's LoggerService the module uses. */
export interface SyncLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}
