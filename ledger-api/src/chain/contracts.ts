/**
 * The deployed contracts: their artifacts (ABI + bytecode from `hardhat build`), deployment, and the deployments
 * file that tells the API where they live. Tests deploy with the same functions as scripts/deploy.ts.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Contract, ContractFactory, getAddress, type InterfaceAbi, type Signer } from "ethers";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export type ContractName = "ProvenanceLedger" | "LogAnchor";

interface Artifact {
  readonly contractName: string;
  readonly sourceName: string;
  readonly abi: InterfaceAbi;
  readonly bytecode: string;
  readonly linkReferences: Record<string, Record<string, { start: number; length: number }[]>>;
}

const artifactCache = new Map<string, Artifact>();

/** Reads a compiled artifact; `npm start` and `npm test` build first, so a missing one is a set-up error. */
export function loadArtifact(name: string, sourceName = `contracts/${name}.sol`): Artifact {
  const key = `${sourceName}:${name}`;
  const cached = artifactCache.get(key);
  if (cached) return cached;
  const file = path.join(ROOT, "artifacts", sourceName, `${name}.json`);
  if (!existsSync(file)) throw new Error(`artifact ${file} is missing: run \`npx hardhat build\` first`);
  const artifact = JSON.parse(readFileSync(file, "utf8")) as Artifact;
  artifactCache.set(key, artifact);
  return artifact;
}

export function abiOf(name: ContractName): InterfaceAbi {
  return loadArtifact(name).abi;
}

/** Where the contracts of one chain live; written once by the deployer, read by every API instance. */
export interface Deployments {
  readonly chainId: number;
  readonly ledger: string;
  readonly anchor: string;
  /** First block worth indexing: nothing of ours exists before it. */
  readonly deployBlock: number;
}

export function readDeployments(file: string): Deployments | undefined {
  if (!existsSync(file)) return undefined;
  const raw = JSON.parse(readFileSync(file, "utf8")) as Partial<Deployments>;
  if (
    typeof raw.chainId !== "number" ||
    typeof raw.ledger !== "string" ||
    typeof raw.anchor !== "string" ||
    typeof raw.deployBlock !== "number"
  ) {
    throw new Error(`${file} is not a deployments file (needs chainId, ledger, anchor, deployBlock)`);
  }
  return { chainId: raw.chainId, ledger: getAddress(raw.ledger), anchor: getAddress(raw.anchor), deployBlock: raw.deployBlock };
}

/** Writes atomically (temp file + rename) so a crash never leaves half a deployments file. */
export function writeDeployments(file: string, deployments: Deployments): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(deployments, null, 2) + "\n");
  renameSync(tmp, file);
}

/** Deploys an artifact, first deploying and linking any external libraries it references. */
async function deployArtifact(artifact: Artifact, signer: Signer, args: unknown[]): Promise<Contract> {
  let bytecode = artifact.bytecode;
  for (const [sourceName, libs] of Object.entries(artifact.linkReferences)) {
    for (const [libName, refs] of Object.entries(libs)) {
      const lib = await deployArtifact(loadArtifact(libName, sourceName), signer, []);
      const address = (await lib.getAddress()).slice(2).toLowerCase();
      for (const { start, length } of refs) {
        const at = 2 + start * 2;
        bytecode = bytecode.slice(0, at) + address.padEnd(length * 2, "0") + bytecode.slice(at + length * 2);
      }
    }
  }
  const factory = new ContractFactory(artifact.abi, bytecode, signer);
  const contract = await factory.deploy(...args);
  await contract.waitForDeployment();
  return contract as Contract;
}

/** Deploys the ledger and the log anchor with `admin` holding DEFAULT_ADMIN_ROLE on both. */
export async function deployContracts(deployer: Signer, admin: string): Promise<Deployments> {
  const provider = deployer.provider;
  if (!provider) throw new Error("deployer signer has no provider");
  const deployBlock = await provider.getBlockNumber();
  const ledger = await deployArtifact(loadArtifact("ProvenanceLedger"), deployer, [admin]);
  const anchor = await deployArtifact(loadArtifact("LogAnchor"), deployer, [admin]);
  const { chainId } = await provider.getNetwork();
  return {
    chainId: Number(chainId),
    ledger: await ledger.getAddress(),
    anchor: await anchor.getAddress(),
    deployBlock,
  };
}
