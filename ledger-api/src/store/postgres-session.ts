/**
 * A dedicated PostgreSQL session, outside the pool: what session-scoped state needs (an advisory lock held across
 * transactions, the backend whose life marks the leader alive). Connected on first use; when the connection breaks
 * (the server restarted, an idle timeout cut it), the session is dropped, and the next use connects a new one. What
 * the old session held is gone with it, which is why its users fence their writes (see postgres-admission.ts and
 * postgres-lease.ts) instead of trusting that they still hold it.
 */
import pg from "pg";
import type { Row } from "./rows.ts";

export class PgSession {
  private readonly config: pg.ClientConfig;
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  /** Bumped each time a connection is dropped: a holder compares it to know its session (and its locks) changed. */
  private generation = 0;

  constructor(config: pg.ClientConfig) {
    this.config = config;
  }

  /** Which connection is current; changes whenever one is dropped. */
  get connection(): number {
    return this.generation;
  }

  async query(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }> {
    const client = await this.connect();
    try {
      return await client.query(text, values);
    } catch (e) {
      // An error the server answered leaves the session usable; a broken connection does not.
      if (!(e instanceof pg.DatabaseError)) this.drop(client);
      throw e;
    }
  }

  /** Closes the connection (releasing whatever the session held). */
  async close(): Promise<void> {
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    this.connecting = undefined;
    this.generation++;
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<pg.Client> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = new pg.Client(this.config);
      // Without a listener, a connection error after connect would crash the process; here it just ends the session.
      client.on("error", () => this.drop(client));
      client.on("end", () => this.drop(client));
      try {
        await client.connect();
      } catch (e) {
        this.connecting = undefined;
        throw e;
      }
      this.client = client;
      this.connecting = undefined;
      return client;
    })();
    return this.connecting;
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.generation++;
    client.end().catch(() => undefined);
  }
}
