import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './brokers';

/**
 * A loopback TCP proxy in front of a broker, one per instance under test: `cut(ms)` drops every
 * connection through it and refuses new ones for that long, as a network cut between that
 * instance and the broker would, while the broker and every other instance stay up.
 */
export class CutProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<CutProxy> {
    const proxy = new CutProxy(await freePort(), target);
    await proxy.listen();
    return proxy;
  }

  /** `uri` with its host and port replaced by the proxy's. */
  uri(uri: string): string {
    const url = new URL(uri);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString().replace(/\/$/, '');
  }

  async cut(ms: number): Promise<void> {
    const closed = this.closeServer();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.listen();
  }

  async close(): Promise<void> {
    const closed = this.closeServer();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      const pair = [client, upstream];
      for (const socket of pair) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          for (const other of pair) {
            other.destroy();
            this.sockets.delete(other);
          }
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private closeServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
