/** One chat message, as stored and as sent to clients. */
export interface Message {
  id: number;
  text: string;
  /** The instance that created it (INSTANCE_NAME), to show where a message came from. */
  instance: string;
  /** ISO 8601. */
  createdAt: string;
}

/** What a client sends to create a message. */
export interface MessageData {
  text: string;
}

/** What `find` accepts, after the hooks normalized it. */
export interface MessageQuery {
  $limit: number;
  id?: { $gt: number };
}

export const MAX_TEXT_LENGTH = 500;
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;
