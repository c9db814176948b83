/**
 * A small TCP proxy in front of the test server, for the reliability suite:
 * it can cut every connection at once (the network dropped), stop forwarding
 * without closing (a partition), start listening late (a server coming up),
 * or not listen at all (a server refusing connections).
 */
import net from 'node:net';

export interface TcpProxyOptions {
  readonly targetHost: string;
  readonly targetPort: number;
  /** Listen at once (default) or only when `listen()` is called. */
  readonly listen?: boolean;
  /** A port to listen on; default a free one. */
  readonly port?: number;
}

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  listen(): Promise<void>;
  /** Resets every open connection, both sides, and keeps listening. */
  cutAll(): void;
  /** Cuts every open connection after `ms`. */
  cutAfter(ms: number): void;
  /** Stops forwarding bytes in both directions without closing anything. */
  blackhole(on: boolean): void;
  /** Stops listening and cuts everything. */
  close(): Promise<void>;
}

/** A TCP port nobody listens on right now (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const port = options.port ?? (await freePort());
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const timers = new Set<NodeJS.Timeout>();
  let accepted = 0;
  let holes = false;
  let listening = false;

  const kill = (socket: net.Socket) => {
    if (socket.destroyed) return;
    // An RST, as a dropped network or a dead middlebox gives; FIN when RST is not possible.
    if (typeof socket.resetAndDestroy === 'function' && socket.readyState !== 'opening') socket.resetAndDestroy();
    else socket.destroy();
  };

  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(options.targetPort, options.targetHost);
    const pair = { client, upstream };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!holes && !to.destroyed) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });

  const proxy: TcpProxy = {
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    async listen() {
      if (listening) return;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      listening = true;
    },
    cutAll() {
      for (const { client, upstream } of [...pairs]) {
        kill(client);
        kill(upstream);
      }
      pairs.clear();
    },
    cutAfter(ms) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        proxy.cutAll();
      }, ms);
      timers.add(timer);
    },
    blackhole(on) {
      holes = on;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      proxy.cutAll();
      if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      listening = false;
    },
  };
  if (options.listen !== false) await proxy.listen();
  return proxy;
}

/**
 * A fake PostgreSQL server that asks for a cleartext password and rejects it
 * with SQLSTATE 28P01, as a server with password auth does for a wrong one.
 * The local test server trusts 127.0.0.1, so a real wrong password cannot be
 * tested against it. Records the passwords it was sent; `message` may echo
 * one back, as some poolers and proxies do.
 */
export async function startPasswordRejectingServer(
  message = 'password authentication failed for user "postgres"',
): Promise<{ port: number; passwords: string[]; close(): Promise<void> }> {
  const passwords: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          if (code === 80877103) {
            socket.write('N'); // SSLRequest: no SSL here
            continue;
          }
          started = true;
          // AuthenticationCleartextPassword
          const auth = Buffer.alloc(9);
          auth.write('R', 0);
          auth.writeInt32BE(8, 1);
          auth.writeInt32BE(3, 5);
          socket.write(auth);
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0]!);
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const body = buffer.subarray(5, 1 + length);
        buffer = buffer.subarray(1 + length);
        if (type === 'p') {
          passwords.push(body.subarray(0, body.indexOf(0)).toString('utf8'));
          const fields = ['SFATAL', 'VFATAL', 'C28P01', `M${message}`];
          const payload = Buffer.concat([...fields.map((f) => Buffer.from(`${f}\0`)), Buffer.from([0])]);
          const header = Buffer.alloc(5);
          header.write('E', 0);
          header.writeInt32BE(4 + payload.length, 1);
          socket.end(Buffer.concat([header, payload]));
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    passwords,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
