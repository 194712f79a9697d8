/**
 * The ledger's roles, and the one table of the roles each kind of event asks of its actor. Read by the ingest rules
 * (as the contract checks them), by ingest for Observed events (which the contract never sees), by the chain index
 * (role names of the ids it reads) and by the verifier (which asks the chain whether a signer held them).
 *
 * The ids and the table are an interface with contracts/ProvenanceLedger.sol and contracts/ActorRegistry.sol:
 * change both in the same commit.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import { ZERO_HASH, type Bytes32, type KindName } from "./typed-data.ts";

export type RoleName =
  | "DEFAULT_ADMIN"
  | "REGULATOR"
  | "PRODUCER"
  | "IMPORTER"
  | "INSPECTOR"
  | "HANDLER"
  | "RELAYER"
  | "ANCHORER";

/** The bytes32 id of each role as AccessControl stores it: keccak256 of "<NAME>_ROLE", the admin role zero. */
export const ROLE_IDS: { readonly [R in RoleName]: Bytes32 } = Object.freeze({
  DEFAULT_ADMIN: ZERO_HASH,
  REGULATOR: keccak256(toUtf8Bytes("REGULATOR_ROLE")),
  PRODUCER: keccak256(toUtf8Bytes("PRODUCER_ROLE")),
  IMPORTER: keccak256(toUtf8Bytes("IMPORTER_ROLE")),
  INSPECTOR: keccak256(toUtf8Bytes("INSPECTOR_ROLE")),
  HANDLER: keccak256(toUtf8Bytes("HANDLER_ROLE")),
  RELAYER: keccak256(toUtf8Bytes("RELAYER_ROLE")),
  ANCHORER: keccak256(toUtf8Bytes("ANCHORER_ROLE")),
});

/** The name of a role by its lower-case id; an id not here is no role of ours. */
export const ROLE_NAMES: ReadonlyMap<string, RoleName> = new Map(
  Object.entries(ROLE_IDS).map(([name, id]) => [id.toLowerCase(), name as RoleName]),
);

/** The roles that may hold custody (ActorRegistry._isCustodyRole). */
export const CUSTODY_ROLES: readonly RoleName[] = Object.freeze(["HANDLER", "PRODUCER", "IMPORTER"] as const);

/**
 * The roles whose holders may record an Observed event at all (it has no on-chain rule, so ingest decides): a holder
 * of OVERSIGHT_ROLES about any lot, any other only about a lot it holds or is offered (ingest/ingestor.ts).
 */
export const OBSERVER_ROLES: readonly RoleName[] = Object.freeze(["PRODUCER", "IMPORTER", "INSPECTOR", "HANDLER", "REGULATOR"] as const);

/** The roles that may observe any lot, held or not: inspectors and the regulator. */
export const OVERSIGHT_ROLES: readonly RoleName[] = Object.freeze(["INSPECTOR", "REGULATOR"] as const);

/**
 * The roles (any one suffices) each kind asks of its actor; [] for none. Registered asks PRODUCER, or IMPORTER for an
 * imported batch (see {@link rolesFor}). The custody kinds ask a custody role (the contract's NotCustodyHolder), the
 * others the one role of the contract's `onlyRole` check (AccessControlUnauthorizedAccount). HandOffCancelled asks
 * none: the contract checks only that the actor is the custodian.
 */
export const KIND_ROLES: { readonly [K in KindName]: readonly RoleName[] } = Object.freeze({
  Registered: ["PRODUCER"],
  PesticideApplied: ["PRODUCER"],
  Inspected: ["INSPECTOR"],
  CustomsCleared: ["IMPORTER"],
  HandOffOffered: CUSTODY_ROLES,
  HandOffAccepted: CUSTODY_ROLES,
  HandOffCancelled: [],
  Split: CUSTODY_ROLES,
  Merged: CUSTODY_ROLES,
  Recalled: ["REGULATOR"],
  Observed: OBSERVER_ROLES,
});

/** The roles (any one suffices) the actor of an event of `kind` with these signed values needs. */
export function rolesFor(kind: KindName, values: unknown): readonly RoleName[] {
  const imported = typeof values === "object" && values !== null && "imported" in values && values.imported === true;
  return kind === "Registered" && imported ? ["IMPORTER"] : KIND_ROLES[kind];
}
