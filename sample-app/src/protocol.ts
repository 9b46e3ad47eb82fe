/** What the primary and its instances tell each other over the cluster IPC channel. */

/** An instance serves requests. */
export interface ListeningNotice {
  sample: 'listening';
  port: number;
  url: string;
  sync: string;
  store: string;
}

/** The primary asks an instance to close. */
export interface ShutdownRequest {
  sample: 'shutdown';
}

export function isListeningNotice(message: unknown): message is ListeningNotice {
  return (message as Partial<ListeningNotice> | null)?.sample === 'listening';
}

export function isShutdownRequest(message: unknown): message is ShutdownRequest {
  return (message as Partial<ShutdownRequest> | null)?.sample === 'shutdown';
}
