/**
 * The contract's fixed limits (contracts/ProvenanceLedger.sol, contracts/lib/GS1.sol): one definition for the ingest
 * rules, the chain index and the queries. Change them with the contract, in the same commit.
 */

/** Most children of one split and most parents of one merge (ProvenanceLedger.MAX_LINEAGE). */
export const MAX_LINEAGE = 32;
/** Most ancestors, counted per lineage path, a batch may have (ProvenanceLedger.MAX_ANCESTRY). */
export const MAX_ANCESTRY = 32;
/** Longest unit string in UTF-8 bytes (ProvenanceLedger.MAX_UNIT_LENGTH). */
export const MAX_UNIT_LENGTH = 32;
/** Length of a GTIN-14 (GS1.GTIN_LENGTH). */
export const GTIN_LENGTH = 14;
/** Longest lot in bytes (GS1.MAX_LOT_LENGTH). */
export const MAX_LOT_LENGTH = 20;
