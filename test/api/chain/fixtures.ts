/**
 * Shared set-up for the chain writers' tests: one in-process Hardhat network for the file that imports it, the real
 * contracts deployed with ledger-api's deployContracts, funded local-key wallets (the writers sign raw transactions
 * themselves, so they need a Wallet, not a JSON-RPC signer), a real store of each driver (store/drivers.ts).
 */
import { network } from "hardhat";
import { Wallet } from "ethers";
import type { HDNodeWallet } from "ethers";
import { abiOf, deployContracts } from "../../../ledger-api/src/chain/contracts.ts";
import type { Deployments } from "../../../ledger-api/src/chain/contracts.ts";
import type { ChainLogger } from "../../../ledger-api/src/chain/transactions.ts";
import type { Store } from "../../../ledger-api/src/store/store.ts";
import type { StoreDriver, StoreLocation } from "../store/drivers.ts";

export const { ethers, networkHelpers } = await network.create();

/** A fresh wallet with 100 ETH on the in-process chain. */
export async function fundedWallet(): Promise<HDNodeWallet> {
  const w = Wallet.createRandom().connect(ethers.provider);
  await ethers.provider.send("hardhat_setBalance", [w.address, "0x56BC75E2D63100000"]);
  return w;
}

export async function deploy(): Promise<Deployments> {
  const [admin] = await ethers.getSigners();
  if (admin === undefined) throw new Error("no signer");
  return deployContracts(admin, admin.address);
}

export const ANCHOR_ABI = abiOf("LogAnchor");
export const LEDGER_ABI = abiOf("ProvenanceLedger");

export async function automine(on: boolean): Promise<void> {
  await ethers.provider.send("evm_setAutomine", [on]);
}

export async function mine(blocks = 1): Promise<void> {
  await networkHelpers.mine(blocks);
}

export async function dropTransaction(hash: string): Promise<boolean> {
  return (await ethers.provider.send("hardhat_dropTransaction", [hash])) as boolean;
}

/** A fresh store location of `driver` per test; `close()` closes every store opened and deletes the location. */
export function stores(driver: StoreDriver) {
  let loc: StoreLocation | undefined;
  return {
    async open(): Promise<Store> {
      loc ??= await driver.create();
      return loc.open();
    },
    /** Closes without any orderly shutdown of the writers: what a crash leaves is what the next process sees. */
    async reopen(store: Store): Promise<Store> {
      await store.close();
      return this.open();
    },
    async close(): Promise<void> {
      await loc?.remove();
      loc = undefined;
    },
  };
}

/** Collects log lines so a test can check what was reported. */
export function memoryLogger(): ChainLogger & { lines: { level: string; msg: string; obj: object }[] } {
  const lines: { level: string; msg: string; obj: object }[] = [];
  return {
    lines,
    info: (obj, msg) => void lines.push({ level: "info", msg, obj }),
    warn: (obj, msg) => void lines.push({ level: "warn", msg, obj }),
    error: (obj, msg) => void lines.push({ level: "error", msg, obj }),
  };
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return {
    now: () => t,
    set: (ms: number) => void (t = ms),
    advance: (ms: number) => void (t += ms),
  };
}
