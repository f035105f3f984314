// A TCP proxy in front of PostgreSQL that a test can cut and restore, to make the
// database disappear for the service without touching the real server.
import net from 'node:net';

export class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private trafficWaiters: Array<() => void> = [];
  port = 0;

  constructor(
    private readonly targetPort = 5432,
    private readonly targetHost = '127.0.0.1',
  ) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('data', () => {
        const waiters = this.trafficWaiters;
        this.trafficWaiters = [];
        waiters.forEach((wake) => wake());
      });
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /**
   * Resolves when the service next sends the database something (a query on its way): a
   * cut made then catches a request in the middle of its work, whatever the machine's speed.
   */
  nextTraffic(): Promise<void> {
    return new Promise((resolve) => this.trafficWaiters.push(resolve));
  }

  /** Stops accepting and kills every open connection: the database is "gone". */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts again on the same port: the database is "back". */
  restore(): Promise<void> {
    return this.open();
  }
}
