/** Raised at boot when the module options are wrong. The message says how to fix them. */
export class FeathersSyncConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeathersSyncConfigError';
  }
}

/** Raised when a transport's optional broker client package is not installed. */
export class FeathersSyncMissingPackageError extends FeathersSyncConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'FeathersSyncMissingPackageError';
  }
}

/** `SyncService.ready` rejects with this when the broker did not answer in `connectTimeout`. */
export class FeathersSyncConnectTimeoutError extends Error {
  /** `cause`: why the last attempt failed, when the transport said (credentials taken out). */
  constructor(message: string, cause?: Error) {
    super(message, cause ? { cause } : undefined);
    this.name = 'FeathersSyncConnectTimeoutError';
  }
}

/** `SyncService.ready` rejects with this when the app closed before the subscription went live. */
export class FeathersSyncClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeathersSyncClosedError';
  }
}
