/**
 * Loads the demo story through the public API, as the parties' own systems would: each step is signed by its actor
 * and submitted over HTTP with the client module. Nothing is written to the store directly.
 */
import { HDNodeWallet, NonceManager, type Provider } from "ethers";
import { deployContracts, readDeployments, writeDeployments, type Deployments } from "../chain/contracts.ts";
import { applyGrants } from "../chain/roles.ts";
import { LedgerClient, signEvent } from "../client/client.ts";
import { DEV_MNEMONIC } from "../chain/local-chain.ts";
import { demoActors, demoBatches, demoStory, type DemoActorName } from "./story.ts";
import { formatDigitalLink } from "../gs1/digital-link.ts";

export function demoWallet(keyIndex: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${keyIndex}`);
}

export function demoWallets(): Record<DemoActorName, HDNodeWallet> {
  return Object.fromEntries(
    Object.entries(demoActors).map(([name, actor]) => [name, demoWallet(actor.keyIndex)]),
  ) as Record<DemoActorName, HDNodeWallet>;
}

/** Submits every step of the demo story to the ledger at `baseUrl`; returns how many events were logged. */
export async function loadDemo(baseUrl: string, now = new Date()): Promise<number> {
  const client = new LedgerClient(baseUrl);
  const wallets = demoWallets();
  const domain = await client.domain();
  let logged = 0;
  for (const step of demoStory(now, (name) => wallets[name].address)) {
    const signed = await signEvent(wallets[step.actor], domain, step.doc);
    const [receipt] = await client.submit([signed]);
    if (receipt && !receipt.duplicate) logged++;
  }
  return logged;
}

/** The demo batches' Digital Link URLs: what their QR codes hold. */
export function demoBatchUrls(publicBaseUrl: string): { label: string; url: string }[] {
  const { tangerines, tangerineStallLots, beef, spinach } = demoBatches;
  return [
    { label: "Jeju tangerines (farm lot)", keys: tangerines },
    { label: "Jeju tangerines, stall lot at Mangwon Market", keys: tangerineStallLots[0] },
    { label: "Australian beef (imported, customs cleared)", keys: beef },
    { label: "Namyangju spinach (RECALLED)", keys: spinach },
  ].map(({ label, keys }) => ({ label, url: formatDigitalLink(publicBaseUrl, keys) }));
}

/** Dev-mnemonic key indices of the local chain's operators (the demo actors use 3 and up). */
export const LOCAL_KEYS = { deployer: 0, relayer: 1, anchorer: 2 } as const;

/**
 * The contracts of a local development chain: deployed by dev key 0 on first use, with the relayer, the anchorer and
 * the demo actors granted their roles, and recorded in `file`; later calls reuse them while the chain still has them.
 */
export async function ensureDemoDeployment(provider: Provider, file: string): Promise<Deployments> {
  const existing = readDeployments(file);
  if (existing && (await provider.getCode(existing.ledger)) !== "0x") return existing;
  const deployer = new NonceManager(demoWallet(LOCAL_KEYS.deployer).connect(provider));
  const deployments = await deployContracts(deployer, await deployer.getAddress());
  const wallets = demoWallets();
  await applyGrants(deployer, deployments, [
    { account: demoWallet(LOCAL_KEYS.relayer).address, roles: ["RELAYER"] },
    { account: demoWallet(LOCAL_KEYS.anchorer).address, roles: ["ANCHORER"] },
    ...Object.entries(demoActors).map(([name, actor]) => ({
      account: wallets[name as DemoActorName].address,
      roles: actor.roles,
      profile: actor.profile,
    })),
  ]);
  writeDeployments(file, deployments);
  return deployments;
}
