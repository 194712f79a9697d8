/**
 * Granting roles and setting actor profiles: what the authority does once at deployment (scripts/deploy.ts, from a
 * roles file) and whenever a new producer, lab or stall joins. Idempotent: a role already held is not granted again
 * and a profile equal to the stored one is not rewritten, so re-running a roles file costs only the changes.
 */
import { Contract, toUtf8Bytes, hexlify, type Signer } from "ethers";
import { abiOf, type Deployments } from "./contracts.ts";
import { ROLE_IDS, type RoleName } from "../protocol/roles.ts";

export interface ActorGrant {
  readonly account: string;
  /** Roles on the ledger; ANCHORER is granted on the log anchor. */
  readonly roles: readonly RoleName[];
  readonly profile?: {
    readonly name: string;
    /** 13-digit GLN, or undefined. */
    readonly gln?: string;
    /** ISO 3166-1 alpha-2. */
    readonly country: string;
    readonly retail: boolean;
  };
}

export interface GrantOptions {
  /**
   * Send every transaction before waiting for any (all are awaited before returning). Only for a signer that numbers
   * its own nonces (ethers' NonceManager); a local chain with 1 s blocks then takes seconds, not one block per grant.
   */
  readonly pipelined?: boolean;
}

export async function applyGrants(admin: Signer, deployments: Deployments, grants: readonly ActorGrant[], options: GrantOptions = {}): Promise<number> {
  const ledger = new Contract(deployments.ledger, abiOf("ProvenanceLedger"), admin);
  const anchor = new Contract(deployments.anchor, abiOf("LogAnchor"), admin);
  let sent = 0;
  const mined: Promise<unknown>[] = [];
  const send = async (tx: Promise<{ wait(): Promise<unknown> }>): Promise<void> => {
    const receipt = (await tx).wait();
    if (options.pipelined) mined.push(receipt);
    else await receipt;
  };
  for (const grant of grants) {
    for (const role of grant.roles) {
      const contract = role === "ANCHORER" ? anchor : ledger;
      const id = ROLE_IDS[role];
      if (await contract.getFunction("hasRole")(id, grant.account)) continue;
      await send(contract.getFunction("grantRole")(id, grant.account));
      sent++;
    }
    if (grant.profile) {
      const wanted = {
        name: grant.profile.name,
        gln: BigInt(grant.profile.gln ?? 0),
        country: hexlify(toUtf8Bytes(grant.profile.country)),
        retail: grant.profile.retail,
      };
      const current = (await ledger.getFunction("profileOf")(grant.account)) as {
        name: string;
        gln: bigint;
        country: string;
        retail: boolean;
      };
      if (
        current.name === wanted.name &&
        current.gln === wanted.gln &&
        current.country.toLowerCase() === wanted.country &&
        current.retail === wanted.retail
      ) {
        continue;
      }
      await send(ledger.getFunction("setProfile")(grant.account, wanted));
      sent++;
    }
  }
  await Promise.all(mined);
  return sent;
}
