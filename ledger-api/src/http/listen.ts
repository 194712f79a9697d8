/**
 * Where the service takes its connections. Since libuv 1.45 (Node 20+), a listening socket accepts one connection
 * per turn of the event loop. Under a flood each turn is long (every connected client's next request is read and
 * answered, most with a quick 503), so new connections are accepted a few dozen a second and the rest wait in the
 * kernel: a client that connects during a flood times out before the server has even seen its request, let alone
 * refused it (1,000 connections opened at once: several hundred timed out at 10 s, every one waiting for accept()).
 *
 * So the API listens with several sockets on the same port (SO_REUSEPORT, Linux; elsewhere one socket): the kernel
 * spreads new connections over them, and each accepts one per turn. Every connection goes to the one Fastify server,
 * and a deep backlog lets a burst wait for accept() rather than be dropped (a dropped connection's client retries
 * only after 1, 3, 7 s).
 *
 * The plugin (registered by app.ts) owns the extra sockets so that closing the app stops them too; `listen` opens
 * them once the app is ready.
 */
import { createServer, type Server } from "node:net";
import type { FastifyInstance, FastifyListenOptions } from "fastify";
import fp from "fastify-plugin";

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /** Connections each listening socket's kernel queue holds before accept() (capped by net.core.somaxconn). */
  readonly backlog: number;
  /** Listening sockets sharing the port; 1 for a plain listen. */
  readonly listeners: number;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Listening sockets besides the app's own, sharing its port (http/listen.ts). */
    readonly extraListeners: Server[];
  }
}

async function listeners(app: FastifyInstance): Promise<void> {
  const extra: Server[] = [];
  app.decorate("extraListeners", extra);
  // On close, stop accepting on every socket. Not awaited: a net.Server's close callback waits for the connections
  // it accepted, which the app's server owns and closes itself (idle ones at once, the others once answered).
  app.addHook("preClose", (done) => {
    for (const server of extra.splice(0)) server.close();
    done();
  });
}

export default fp(listeners, { name: "listeners" });

/** Listens; resolves to the address and the number of listening sockets. They stop accepting when the app closes. */
export async function listen(app: FastifyInstance, options: ListenOptions): Promise<{ address: string; sockets: number }> {
  const spread = options.listeners > 1 && process.platform === "linux";
  const address = await app.listen({
    host: options.host,
    port: options.port,
    backlog: options.backlog,
    ...(spread ? { reusePort: true } : {}),
  } as FastifyListenOptions);
  if (!spread) return { address, sockets: 1 };
  const port = Number(new URL(address).port);
  for (let i = 1; i < options.listeners; i++) {
    // A connection accepted here is served by the app's own HTTP server, as one it accepted itself.
    const server = createServer({ noDelay: true }, (socket) => app.server.emit("connection", socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: options.host, port, backlog: options.backlog, reusePort: true }, () => resolve());
    });
    app.extraListeners.push(server);
  }
  return { address, sockets: 1 + app.extraListeners.length };
}
