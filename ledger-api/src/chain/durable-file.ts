/**
 * Replacing a file so that a crash at any moment leaves either the old contents or the new ones, never a mix or a
 * truncated file: the bytes go to a temporary file in the same directory, which is fsynced, renamed over the target
 * (rename is atomic within a file system) and then the directory is fsynced, so the rename itself survives a power
 * cut. What a crash can leave behind is a stray temporary file, which `removeStrayTemps` deletes at the next start.
 *
 * The local chain's snapshots (local-chain.ts) are written this way: anvil's own `--state` dumps rewrote one file in
 * place, and a SIGKILL during the write left a file no later start could load.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import path from "node:path";

const TEMP_SUFFIX = ".partial";

/** Writes `bytes` to `file` atomically and durably; resolves once the new contents would survive a power cut. */
export function writeFileDurably(file: string, bytes: Uint8Array): void {
  const dir = path.dirname(file);
  // The pid keeps two writers of one directory (there should be none) from sharing a temporary file.
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}${TEMP_SUFFIX}`);
  const fd = openSync(temp, "w", 0o600);
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(temp, file);
  fsyncDirectory(dir);
}

/**
 * writeFileDurably's promise, with the writes and fsyncs on libuv's thread pool: for a file written while the server
 * runs (the chain's snapshots), whose fsyncs blocked the event loop for milliseconds each time the chain moved.
 * Same guarantee: once it resolves the new contents would survive a power cut; a crash leaves the old or the new.
 */
export async function writeFileDurablyAsync(file: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}${TEMP_SUFFIX}`);
  const handle = await open(temp, "w", 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(temp, file);
  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** Makes the directory's entries (a rename, a new or deleted file) durable. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Deletes the temporary files an interrupted `writeFileDurably` left in `dir`; returns their names. */
export function removeStrayTemps(dir: string): string[] {
  const stray = readdirSync(dir).filter((name) => name.startsWith(".") && name.endsWith(TEMP_SUFFIX));
  for (const name of stray) rmSync(path.join(dir, name), { force: true });
  return stray;
}
