import type { SyncLogger } from '../shared/logger.js';
import type { TransportStatus } from '../shared/status.js';

export type { SyncLogger } from '../shared/logger.js';
export type { TransportStatus } from '../shared/status.js';

/** How events travel: the broker's pub/sub, or its durable log (see `SyncTransportContext`). */
export type SyncDelivery = 'broadcast' | 'recoverable';

/**
 * The contract every transport implements. A transport moves opaque bytes between instances: it
 * knows nothing of Feathers, envelopes, serializers or the module's options. Adding a broker means
 * adding a class that implements this interface; the core does not change.
 */

/** What a transport calls back into. They never throw into a client library. */
export interface SyncTransportHandlers {
  /** One message exactly as it came off the broker (Buffer for binary brokers, string allowed). */
  message(payload: Uint8Array | string): void;
  /** The connection changed state; `error` explains a drop when there is one. */
  status(status: TransportStatus, error?: Error): void;
  /**
   * The broker's log lost `missing` messages this instance had not read yet (trimmed past its
   * cursor, or the log was reset), whose senders cannot be known. Transports with a durable log
   * call it; the core counts it once in `missed` and tells the app.
   */
  gap?(missing: number, reason: string): void;
}

/** A broker connection as the core sees it. */
export interface SyncTransport {
  /** Short name shown as `SyncService.type`, e.g. `redis`. */
  readonly type: string;
  /**
   * Connects and subscribes. Must not wait for the broker: report `ready` through
   * `handlers.status` once the subscription is live (and publishing possible), and keep
   * reconnecting without a give-up limit. A returned promise may reject only for errors that
   * retrying cannot fix (the broker lacks a feature the delivery mode needs); to reject with one
   * it may stay pending until the broker first answered (boot waits on it no longer than on ready).
   */
  open(handlers: SyncTransportHandlers): void | Promise<void>;
  /**
   * Publishes one serialized message. Called only while the transport reports `ready`, in order.
   * Return nothing once the message is handed over for good, or a promise that settles when the
   * broker has it; promises must settle in call order. The core holds at most a bounded number of
   * unsettled messages, so a transport's own buffers stay bounded too. A rejection after the
   * transport reported a drop makes the core send the message again once it is `ready`; any other
   * rejection counts the message as lost.
   */
  publish(payload: Uint8Array | string): void | Promise<unknown>;
  /**
   * Stops consuming, sends what it has accepted, closes every connection it opened, and reports
   * `closed`. Must settle within the context's `closeTimeout` (forcing sockets shut past it), so
   * that `app.close()` leaves no open handle.
   */
  close(): Promise<void>;
}

/** What a transport receives when the module constructs it. */
export interface SyncTransportContext<Settings = undefined> {
  /** The uri from the options (undefined for a custom transport given none). */
  uri?: string;
  /** The channel, exchange or subject name. */
  key: string;
  /** Where to report connection events (never log credentials). */
  logger: SyncLogger;
  /** The time `close()` may take, in ms, flush included. */
  closeTimeout: number;
  /**
   * `broadcast`: the broker's pub/sub. `recoverable`: the broker's durable log, read from where
   * this instance stopped after a disconnect; `publish()` settles once the broker stored it.
   */
  delivery: SyncDelivery;
  /**
   * `false` for a publish-only instance (`direction: 'publish'`): open no subscription, consumer or
   * log reader, and report `ready` once publishing works. Absent means `true`.
   */
  subscribe?: boolean;
  /** The transport's own settings, validated and with defaults applied (undefined for custom ones). */
  settings: Settings;
}

/** A transport class the module can construct: `new (context) => SyncTransport`. */
export type SyncTransportClass = new (context: SyncTransportContext) => SyncTransport;
