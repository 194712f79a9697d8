/** A progress bar on stderr (a plain line per update when stderr is not a terminal). */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #start = performance.now();
  #last = 0;

  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = total;
  }

  update(done: number): void {
    const now = performance.now();
    if (now - this.#last < (process.stderr.isTTY ? 200 : 10_000) && done < this.#total) return;
    this.#last = now;
    const fraction = Math.min(1, done / this.#total);
    const seconds = (now - this.#start) / 1000;
    const rate = done / Math.max(seconds, 0.001);
    const eta = rate > 0 ? (this.#total - done) / rate : 0;
    const bar = "#".repeat(Math.round(fraction * 30)).padEnd(30, ".");
    const line = `${this.#label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${done.toLocaleString("en")}/${this.#total.toLocaleString("en")} ${Math.round(rate).toLocaleString("en")}/s ETA ${Math.round(eta)}s`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
  }

  done(): void {
    if (process.stderr.isTTY) process.stderr.write("\n");
  }
}
