/**
 * A bounded admission gate: at most `capacity` units of work run at once; work that cannot start at once may wait,
 * in arrival order, but only in a queue of `maxQueued` places and only for `maxWaitMs`. What finds the queue full, or
 * does not start in time, is refused at once (OverloadedError) instead of queued behind work the service cannot
 * finish soon. A refused request has not started, so nothing of it was done or stored.
 *
 * A request takes a queue place first (`reserve`, before its body is even read, so a flood is refused before it
 * costs memory), then waits for room with `start(weight)` (an ingest request weighs its number of events), and gives
 * the room back with `release` once its work is done. `release` is idempotent and also gives back a place that never
 * started (the request failed validation, or its client went away).
 *
 * FIFO without barging: a light request never overtakes a heavy one at the head of the queue, so a 500-event request
 * is not starved by a stream of 1-event ones.
 *
 * Admitted work starts on a later turn of the event loop, never in the turn that admitted it. The work behind the
 * gates is largely synchronous (SQLite reads and writes behind async functions, an answer serialised in one piece):
 * started at once, a request's whole work would run in the microtasks of the socket read that brought it, and the
 * next waiter's right after it, before the event loop reads the next socket. Requests would then never meet in the
 * gate: every one would find room, none would be refused, the wait limit's timer could not fire, and the real queue
 * would grow unseen in the sockets until clients time out (1,000 connections of provenance queries: no 503, 951
 * client timeouts). Deferred, every request that has arrived is read and counted (admitted, queued or refused at
 * once) before the work starts, and timers fire between two slices of work. Within a slice, requests that were
 * already waiting follow each other for up to SLICE_MS; without that, a flood (each turn of the loop refusing a
 * thousand requests) would leave room for only `capacity` answers per turn.
 */

/** How long admitted work may run back to back in one turn of the event loop before the loop reads sockets again. */
export const SLICE_MS = 10;

export class OverloadedError extends Error {
  override readonly name = "OverloadedError";
  readonly gate: string;
  constructor(gate: string, message: string) {
    super(message);
    this.gate = gate;
  }
}

/** The client went away before its work started; nothing was done for it. */
export class ClientGoneError extends Error {
  override readonly name = "ClientGoneError";
}

export interface GateOptions {
  /** Names the gate in refusals and metrics: "ingest", "queries". */
  readonly name: string;
  /** Units of work (events, requests) running at once. */
  readonly capacity: number;
  /** Requests holding a place but not running yet (reading their body, or waiting for room). */
  readonly maxQueued: number;
  /** How long a request may wait for room before it is refused. */
  readonly maxWaitMs: number;
}

export interface GateStats {
  readonly inFlight: number;
  /** Requests holding a place, not running yet: reading their body, or waiting for room. */
  readonly queued: number;
  /** Of those, the ones waiting for room. */
  readonly waiting: number;
  readonly refused: number;
}

interface Waiter {
  readonly weight: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class AdmissionGate {
  readonly name: string;
  readonly capacity: number;
  readonly maxQueued: number;
  readonly maxWaitMs: number;
  private inFlight = 0;
  private queued = 0;
  private refused = 0;
  private readonly waiters: Waiter[] = [];
  /** When the current slice of work began (performance.now()): its first piece started on a fresh turn. */
  private sliceStart = 0;

  constructor(options: GateOptions) {
    if (!(Number.isInteger(options.capacity) && options.capacity >= 1)) throw new RangeError("capacity must be an integer >= 1");
    if (!(Number.isInteger(options.maxQueued) && options.maxQueued >= 0)) throw new RangeError("maxQueued must be an integer >= 0");
    if (!(options.maxWaitMs >= 0)) throw new RangeError("maxWaitMs must be >= 0");
    this.name = options.name;
    this.capacity = options.capacity;
    this.maxQueued = options.maxQueued;
    this.maxWaitMs = options.maxWaitMs;
  }

  stats(): GateStats {
    return { inFlight: this.inFlight, queued: this.queued, waiting: this.waiters.length, refused: this.refused };
  }

  /**
   * A place for a request whose work may start later. Throws OverloadedError when every place is taken: the queue's
   * places, plus one while there is room and nobody waits (a request that can start at once; so a queue of 0 means
   * "no waiting", not "nothing runs"). Places held by requests still reading their bodies count, so a burst that
   * arrives before any of it has started takes at most that many places (the rule used to let every request of a
   * burst in while nothing was in flight).
   */
  reserve(): Ticket {
    const places = this.maxQueued + (this.waiters.length === 0 && this.inFlight < this.capacity ? 1 : 0);
    if (this.queued >= places) {
      this.refused++;
      throw new OverloadedError(
        this.name,
        `the ${this.name} queue is full (${this.inFlight} of ${this.capacity} in progress, ${this.queued} waiting)`,
      );
    }
    this.queued++;
    return new Ticket(this);
  }

  /**
   * @internal Ticket.start: takes the room now if there is room and nobody is ahead, else waits its turn; either way
   * the work starts on a later turn of the event loop (see the header).
   */
  acquire(weight: number, signal: AbortSignal | undefined): Promise<void> {
    const w = Math.min(Math.max(1, weight), this.capacity);
    if (this.waiters.length === 0 && this.inFlight + w <= this.capacity) {
      this.queued--;
      this.inFlight += w;
      return this.startSlice();
    }
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = (err: Error) => {
        const i = this.waiters.indexOf(waiter);
        if (i === -1) return;
        this.waiters.splice(i, 1);
        this.queued--;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        reject(err);
        // The head may have been the one blocking those behind it.
        this.pump();
      };
      const onAbort = () => leave(new ClientGoneError("the client closed the connection while its request waited"));
      const waiter: Waiter = {
        weight: w,
        resolve: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          // Waited already (counted, not refused): it may follow the work just done while the slice lasts.
          if (performance.now() - this.sliceStart < SLICE_MS) resolve();
          else void this.startSlice().then(resolve);
        },
        reject: leave,
      };
      this.waiters.push(waiter);
      timer = setTimeout(() => {
        this.refused++;
        leave(new OverloadedError(this.name, `the ${this.name} work could not start within ${this.maxWaitMs} ms`));
      }, this.maxWaitMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** @internal A reserved place given back without running. */
  unreserve(): void {
    this.queued--;
    this.pump();
  }

  /** @internal Running work done. */
  finish(weight: number): void {
    this.inFlight -= Math.min(Math.max(1, weight), this.capacity);
    this.pump();
  }

  /** Resolves on the next turn of the event loop, which begins a slice of work. */
  private startSlice(): Promise<void> {
    return new Promise((resolve) =>
      setImmediate(() => {
        this.sliceStart = performance.now();
        resolve();
      }),
    );
  }

  private pump(): void {
    for (;;) {
      const head = this.waiters[0];
      if (head === undefined || this.inFlight + head.weight > this.capacity) return;
      this.waiters.shift();
      this.queued--;
      this.inFlight += head.weight;
      head.resolve();
    }
  }
}

/** One request's place at a gate: reserved, then running, then released (each at most once). */
export class Ticket {
  private readonly gate: AdmissionGate;
  private state: "reserved" | "waiting" | "running" | "released" = "reserved";
  private weight = 0;

  constructor(gate: AdmissionGate) {
    this.gate = gate;
  }

  get running(): boolean {
    return this.state === "running";
  }

  /**
   * Waits for room for `weight` units (clamped to the gate's capacity, so one request at the per-request maximum can
   * always run alone). Rejects with OverloadedError after the gate's maxWaitMs, ClientGoneError if `signal` aborts.
   */
  async start(weight: number, signal?: AbortSignal): Promise<void> {
    // Given back before it started: its client went away (the connection closed while the body was read).
    if (this.state === "released") throw new ClientGoneError("the request's place was given back before it started");
    if (this.state !== "reserved") throw new Error(`ticket is ${this.state}, not reserved`);
    if (signal?.aborted) {
      this.release();
      throw new ClientGoneError("the client closed the connection before its request was admitted");
    }
    this.state = "waiting";
    try {
      await this.gate.acquire(weight, signal);
    } catch (err) {
      // The gate already gave the place back.
      this.state = "released";
      throw err;
    }
    if (this.state !== "waiting") {
      // Released while waiting for room that has just been granted: give it straight back.
      this.gate.finish(weight);
      throw new ClientGoneError("the request was released before it started");
    }
    this.weight = weight;
    this.state = "running";
  }

  /** Gives back whatever the ticket holds; a no-op the second time. */
  release(): void {
    const was = this.state;
    this.state = "released";
    if (was === "reserved") this.gate.unreserve();
    else if (was === "running") this.gate.finish(this.weight);
  }

  /** Gives back a place that has not started; leaves running (or waiting) work alone. */
  cancel(): void {
    if (this.state === "reserved") this.release();
  }
}
