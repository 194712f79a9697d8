/**
 * When a block counts as final for the relay, the anchorer and the indexer: once `confirmations` blocks sit on it
 * (the deepest reorg tolerated) and, on the local chain, once a durable snapshot holds it (local-chain.ts). Anvil
 * rolled back by a crash then loses only blocks nothing has called final, so no 'confirmed' row, confirmed anchor
 * or indexed block ever points at a block the chain can lose. A remote chain has no durable bound: its nodes keep
 * their own blocks.
 */

/** The newest block that survives a crash of the chain node (the local chain's last snapshot). */
export type DurableBlock = () => number;

/**
 * The newest final block at `head`: `confirmations` blocks on top of it (0: the head itself), and no newer than
 * `durable()` when given.
 */
export function finalBlock(head: number, confirmations: number, durable: DurableBlock | undefined): number {
  const deep = head - confirmations;
  return durable === undefined ? deep : Math.min(deep, durable());
}

/**
 * Whether a transaction mined in `block` is final at `head`, with `confirmations` counting the transaction's own
 * block (the writers' convention: 1 = mined).
 */
export function isFinal(block: number, head: number, confirmations: number, durable: DurableBlock | undefined): boolean {
  return block <= finalBlock(head, confirmations - 1, durable);
}
