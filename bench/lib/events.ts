/**
 * Signed request bodies on demand, made by a small pool of signing workers (sign-worker.ts). Jobs are spread over the
 * workers and answered in order, so a caller can stream bodies into a server while the next ones are signed.
 */
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { SignJob } from "./sign-worker.ts";

export interface Signer {
  readonly address: string;
  readonly privateKey: string;
}

export interface EventSource {
  readonly domain: SignJob["domain"];
  readonly signer: Signer;
  readonly gtin: string;
  readonly lots: readonly string[];
}

export class BodyFactory {
  readonly #workers: Worker[];
  readonly #waiting = new Map<number, (bodies: string[]) => void>();
  #nextId = 1;
  #next = 0;
  #seq = 0;
  // A fresh nonce range per factory: events of this run never collide with a cached log's.
  readonly #nonceBase = BigInt("0x" + randomBytes(16).toString("hex")) << 32n;

  constructor(workers: number) {
    this.#workers = Array.from({ length: workers }, () => {
      const worker = new Worker(new URL("./sign-worker.ts", import.meta.url));
      worker.on("message", (reply: { id: number; bodies: string[] }) => {
        const resolve = this.#waiting.get(reply.id);
        this.#waiting.delete(reply.id);
        resolve?.(reply.bodies);
      });
      worker.on("error", (err) => {
        throw err;
      });
      return worker;
    });
  }

  /** `bodies` request bodies of `perBody` events each, signed by `source.signer` (`counterparty`: of a hand-off). */
  make(source: EventSource, kind: SignJob["kind"], bodies: number, perBody: number, counterparty?: string): Promise<string[]> {
    const id = this.#nextId++;
    const job: SignJob = {
      id,
      domain: source.domain,
      privateKey: source.signer.privateKey,
      signer: source.signer.address,
      gtin: source.gtin,
      lots: source.lots,
      kind,
      ...(counterparty === undefined ? {} : { counterparty }),
      bodies,
      perBody,
      nonceBase: this.#nonceBase.toString(),
      firstSeq: this.#seq,
      deadline: Math.floor(Date.now() / 1000) + 30 * 86_400,
    };
    this.#seq += bodies * perBody;
    const worker = this.#workers[this.#next++ % this.#workers.length]!;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      worker.postMessage(job);
    });
  }

  /** Many bodies, split into jobs of `chunk` bodies across the workers. */
  async makeMany(source: EventSource, kind: SignJob["kind"], bodies: number, perBody: number, chunk = 8): Promise<string[]> {
    const jobs: Promise<string[]>[] = [];
    for (let done = 0; done < bodies; done += chunk) jobs.push(this.make(source, kind, Math.min(chunk, bodies - done), perBody));
    return (await Promise.all(jobs)).flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
