/**
 * The few Node `Buffer` calls that shared ledger modules make (log/entry.ts encodeEntry, log/hash.ts hex helpers,
 * protocol/canonical.ts docHash, protocol/typed-data.ts countryCode), over Uint8Array, for the browser bundle only:
 * web/bundle.ts injects it (esbuild `inject`) wherever bundled code names the global `Buffer`. Nothing else uses it.
 *
 * Supported, exactly: Buffer.from(string, "hex" | "utf8" | "ascii"), Buffer.from(ArrayBuffer, offset, length) (a
 * view), Buffer.from(Uint8Array) (a copy), Buffer.alloc(n), Buffer.compare(a, b), and on instances write(hex, offset,
 * "hex"), writeUInt32BE, writeBigInt64BE, toString("hex" | "utf8"); anything else throws, loudly. The bundle test
 * (test/api/verify/verify.test.ts) runs the bundle where no Node global exists, so a shared module that starts using
 * more of Buffer fails there, not in a shopper's browser. The better fix is those modules going Buffer-free.
 */

function parseHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError(`not a hex string: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

class ShimBuffer extends Uint8Array {
  write(value: string, offset: number, encoding: string): number {
    if (encoding !== "hex") throw new TypeError(`Buffer shim: write(..., "${encoding}") is not supported`);
    const bytes = parseHex(value);
    this.set(bytes, offset);
    return bytes.length;
  }

  writeUInt32BE(value: number, offset: number): number {
    new DataView(this.buffer, this.byteOffset, this.byteLength).setUint32(offset, value, false);
    return offset + 4;
  }

  writeBigInt64BE(value: bigint, offset: number): number {
    new DataView(this.buffer, this.byteOffset, this.byteLength).setBigInt64(offset, value, false);
    return offset + 8;
  }

  override toString(encoding = "utf8"): string {
    if (encoding === "hex") return Array.from(this, (b) => b.toString(16).padStart(2, "0")).join("");
    if (encoding === "utf8" || encoding === "utf-8") return new TextDecoder().decode(this);
    throw new TypeError(`Buffer shim: toString("${encoding}") is not supported`);
  }
}

function from(value: string | ArrayBufferLike | Uint8Array, encodingOrOffset?: string | number, length?: number): ShimBuffer {
  if (typeof value === "string") {
    const encoding = (encodingOrOffset as string | undefined) ?? "utf8";
    if (encoding === "hex") return new ShimBuffer(parseHex(value));
    if (encoding === "utf8" || encoding === "utf-8") return new ShimBuffer(new TextEncoder().encode(value));
    if (encoding === "ascii" || encoding === "latin1") return new ShimBuffer(Array.from(value, (c) => c.charCodeAt(0) & 0xff));
    throw new TypeError(`Buffer shim: from(string, "${encoding}") is not supported`);
  }
  if (value instanceof Uint8Array) return new ShimBuffer(value);
  return new ShimBuffer(value as ArrayBuffer, (encodingOrOffset as number | undefined) ?? 0, length);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export const Buffer = Object.freeze({
  from,
  alloc: (size: number): ShimBuffer => new ShimBuffer(size),
  compare,
  isBuffer: (x: unknown): boolean => x instanceof ShimBuffer,
});
