/**
 * The API's listening sockets (http/listen.ts): on Linux several share the port, so a burst of new connections is
 * accepted several per turn of the event loop; every connection, whichever socket accepted it, is served by the one
 * app, and closing the app stops them all and closes the connections they brought.
 */
import { expect } from "chai";
import { connect, type Socket } from "node:net";
import { listen } from "../../../ledger-api/src/http/listen.ts";
import { startLedger, type Ledger } from "../harness.ts";

describe("listening sockets", function () {
  let ledger: Ledger | undefined;
  afterEach(async function () {
    await ledger?.close();
    ledger = undefined;
  });

  /** Opens `n` keep-alive connections, each sending one GET; resolves to each first answer's status. */
  async function keepAlive(port: number, n: number, path: string): Promise<{ sockets: Socket[]; statuses: number[] }> {
    const sockets: Socket[] = [];
    const statuses = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<number>((resolve, reject) => {
            const socket = connect({ host: "127.0.0.1", port });
            sockets.push(socket);
            let text = "";
            socket.setEncoding("latin1").on("error", reject);
            socket.on("data", (chunk: string) => {
              text += chunk;
              const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
              if (status !== undefined) resolve(Number(status));
            });
            socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
          }),
      ),
    );
    return { sockets, statuses };
  }

  it("serves every connection, whichever of the sockets sharing the port accepted it", async function () {
    ledger = await startLedger();
    const { address, sockets } = await listen(ledger.app, { host: "127.0.0.1", port: 0, backlog: 64, listeners: 4 });
    expect(sockets).to.equal(process.platform === "linux" ? 4 : 1);
    const open = await keepAlive(Number(new URL(address).port), 40, "/v1/log/checkpoint");
    expect(open.statuses).to.deep.equal(Array.from({ length: 40 }, () => 200));
    for (const socket of open.sockets) socket.destroy();
  });

  it("closes with connections still open: every socket stops accepting and the app closes its connections", async function () {
    ledger = await startLedger();
    const { address } = await listen(ledger.app, { host: "127.0.0.1", port: 0, backlog: 64, listeners: 4 });
    const port = Number(new URL(address).port);
    const open = await keepAlive(port, 20, "/v1/log/checkpoint");
    const closed = open.sockets.map((socket) => new Promise<void>((resolve) => socket.once("close", () => resolve())));
    await ledger.app.close();
    // Idle keep-alive connections are the app's to close, whichever socket accepted them.
    await Promise.all(closed);
    const refused = await new Promise<string>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => resolve("connected")).once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    });
    expect(refused).to.equal("ECONNREFUSED");
  });
});
