/**
 * Deploys ProvenanceLedger and LogAnchor to any EVM chain, grants roles and sets actor profiles from a roles file,
 * and writes the deployments file the API reads. Re-running with an existing deployments file only applies the
 * roles file (grants are idempotent).
 *
 *   RPC_URL=https://rpc.example.org DEPLOYER_KEY=0x... ROLES_FILE=deploy/roles.json \
 *   DEPLOYMENTS_FILE=data/deployments.json node scripts/deploy.ts
 *
 * Nothing secret lives in the repository: keys come from the environment only.
 */
import { readFileSync } from "node:fs";
import { JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { deployContracts, readDeployments, writeDeployments } from "../ledger-api/src/chain/contracts.ts";
import { applyGrants, type ActorGrant } from "../ledger-api/src/chain/roles.ts";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (see the header of scripts/deploy.ts)`);
  return value;
}

const provider = new JsonRpcProvider(required("RPC_URL"));
const deployer = new NonceManager(new Wallet(required("DEPLOYER_KEY"), provider));
const file = process.env.DEPLOYMENTS_FILE ?? "data/deployments.json";
const admin = process.env.ADMIN_ADDRESS ?? (await deployer.getAddress());

let deployments = readDeployments(file);
if (deployments) {
  console.log(`using the contracts in ${file}: ledger ${deployments.ledger}, anchor ${deployments.anchor}`);
} else {
  deployments = await deployContracts(deployer, admin);
  writeDeployments(file, deployments);
  console.log(`deployed on chain ${deployments.chainId}: ledger ${deployments.ledger}, anchor ${deployments.anchor}; wrote ${file}`);
}
if (process.env.ROLES_FILE) {
  const grants = JSON.parse(readFileSync(process.env.ROLES_FILE, "utf8")) as ActorGrant[];
  const sent = await applyGrants(deployer, deployments, grants);
  console.log(`roles file applied: ${sent} transaction(s) for ${grants.length} account(s)`);
}
provider.destroy();
