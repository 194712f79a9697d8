/**
 * Live updates for stall displays: the server side of GET /stalls/{stall}/events (server-sent events).
 *
 * Updates are derived from the store, never from in-process events, so a display connected to one API instance
 * hears of a hand-off ingested by another: once a second (`intervalMs`) each instance reads the log's size and the
 * chain index's cursor, two point reads; when either moved, it recomputes the view version (stall.ts
 * `stallVersion`) of each stall that has a display connected to it, and sends `version` to that stall's displays
 * when it changed. A display fetches its view again on a new version. Nothing is computed while the store stands
 * still, and nothing for stalls nobody watches.
 *
 * Connections are bounded (`maxConnections` per instance, and per stall): past the bound a new display is refused
 * (503 OVERLOADED, Retry-After) rather than slowing every other one. A comment line every `heartbeatMs` keeps
 * proxies from closing an idle stream and lets the server notice a display that went away.
 */
import type { Store } from "../store/store.ts";
import type { MarketProjection } from "./projection.ts";
import { stallVersion } from "./stall.ts";

/** What the watch needs of one connected display. */
export interface DisplayConnection {
  /** Sends one SSE event; the route writes it to the response. */
  send(event: string, data: string): void;
  /** Sends an SSE comment (heartbeat). */
  ping(): void;
  /** Ends the response (server shutting down). */
  end(): void;
}

export interface StallWatchOptions {
  readonly store: Store;
  readonly projection: MarketProjection;
  /** How often the store is looked at (default 1000 ms). */
  readonly intervalMs?: number;
  readonly heartbeatMs?: number;
  /** Displays connected to this instance at most. */
  readonly maxConnections: number;
  /** Displays of one stall at most (a stall has a screen or two; more is a leak or abuse). */
  readonly maxPerStall?: number;
}

export class StallWatch {
  private readonly store: Store;
  private readonly projection: MarketProjection;
  private readonly intervalMs: number;
  private readonly heartbeatMs: number;
  private readonly maxConnections: number;
  private readonly maxPerStall: number;
  private readonly displays = new Map<string, Set<DisplayConnection>>();
  private readonly versions = new Map<string, string>();
  private count = 0;
  private storeState: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private ticking = false;
  private closed = false;

  constructor(options: StallWatchOptions) {
    this.store = options.store;
    this.projection = options.projection;
    this.intervalMs = options.intervalMs ?? 1000;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.maxConnections = options.maxConnections;
    this.maxPerStall = options.maxPerStall ?? 16;
  }

  /** Connected displays, for /metrics and tests. */
  get connections(): number {
    return this.count;
  }

  /** Whether a display of `account` would be taken now. */
  hasRoom(account: string): boolean {
    const set = this.displays.get(account.toLowerCase());
    return !this.closed && this.count < this.maxConnections && (set?.size ?? 0) < this.maxPerStall;
  }

  /**
   * Adds a display of `account` and sends it the current version at once (it may have changed since the page was
   * rendered). Returns the function that removes it, or undefined when a bound refuses it.
   */
  async connect(account: string, display: DisplayConnection): Promise<(() => void) | undefined> {
    const key = account.toLowerCase();
    const set = this.displays.get(key) ?? new Set<DisplayConnection>();
    if (this.closed || this.count >= this.maxConnections || set.size >= this.maxPerStall) return undefined;
    set.add(display);
    this.displays.set(key, set);
    this.count += 1;
    this.start();
    const version = await stallVersion(this.store, this.projection, key);
    this.versions.set(key, version);
    display.send("version", version);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      set.delete(display);
      this.count -= 1;
      if (set.size === 0) {
        this.displays.delete(key);
        this.versions.delete(key);
      }
      if (this.count === 0) this.stop();
    };
  }

  /** Ends every display's stream and stops polling. */
  close(): void {
    this.closed = true;
    this.stop();
    for (const set of this.displays.values()) for (const d of set) d.end();
    this.displays.clear();
    this.count = 0;
  }

  /** One look at the store; exposed so tests step it without waiting for the timer. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const [size, cursor] = await Promise.all([this.store.size(), this.store.cursor()]);
      const state = `${size}:${cursor?.blockNumber ?? -1}:${cursor?.blockHash ?? ""}`;
      if (state === this.storeState) return;
      this.storeState = state;
      for (const [account, set] of this.displays) {
        const version = await stallVersion(this.store, this.projection, account);
        if (version === this.versions.get(account)) continue;
        this.versions.set(account, version);
        for (const d of set) d.send("version", version);
      }
    } finally {
      this.ticking = false;
    }
  }

  private start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      // A failed look (store closing, a read error) is retried on the next tick; displays keep their last view.
      this.tick().catch(() => undefined);
    }, this.intervalMs);
    this.heartbeat = setInterval(() => {
      for (const set of this.displays.values()) for (const d of set) d.ping();
    }, this.heartbeatMs);
    this.timer.unref();
    this.heartbeat.unref();
  }

  private stop(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
    this.storeState = undefined;
  }
}
