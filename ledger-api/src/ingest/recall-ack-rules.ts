/**
 * Who may acknowledge a recall (protocol/recall-ack.ts), checked at ingest like the contract's rules, against the
 * index with the accepted-but-unmined events laid over it:
 * - the lot must be under a recall, its own or one it inherits (protocol/lineage.ts firstRecalled, the contract's
 *   walk), and the acknowledgement must name the `Recalled` event of that lot or of a recalled ancestor:
 *   409 RECALL_ACK_NOT_RECALLED otherwise;
 * - only the lot's custodian may acknowledge: 403 RECALL_ACK_NOT_CUSTODIAN otherwise (a stall acknowledges what it
 *   holds; a lot it handed on is its new holder's to acknowledge).
 * An Observed document with the RecallAcknowledged reading but no event hash in `note` is 422 DOC_INCONSISTENT.
 *
 * Acknowledgements are rare and every other Observed event is not one, so the check costs a substring test of the
 * stored body for all of them and a parse only for those that carry the reading's name.
 */
import { ApiError } from "../http/errors.ts";
import { firstRecalled } from "../protocol/lineage.ts";
import { isRecallAckAttempt, RECALL_ACK_READING, recallAckOf } from "../protocol/recall-ack.ts";
import type { Bytes32 } from "../protocol/typed-data.ts";
import type { LedgerView } from "./rules.ts";

type AckDoc = { readonly kind: string; readonly readings?: readonly { readonly type: string }[]; readonly note?: string };

/** The Observed document of a stored body when it claims to acknowledge a recall; undefined otherwise. */
export function recallAckClaim(body: string): AckDoc | undefined {
  if (!body.includes(`"${RECALL_ACK_READING}"`)) return undefined;
  const doc = (JSON.parse(body) as { doc?: AckDoc }).doc;
  return doc !== undefined && isRecallAckAttempt(doc) ? doc : undefined;
}

/** The recall an acknowledgement names, as the log holds it: the entry's kind name and batch, when logged. */
export interface NamedRecall {
  readonly kindName: string;
  readonly batchId: string;
}

/** The refusal of an acknowledgement of `batchId` by `signer`, or undefined when it is admitted. */
export function judgeRecallAck(view: LedgerView, doc: AckDoc, signer: string, batchId: string, named: NamedRecall | undefined): ApiError | undefined {
  const ack = recallAckOf(doc);
  if (ack === undefined) {
    return new ApiError("DOC_INCONSISTENT", `a ${RECALL_ACK_READING} reading needs the recall's event hash (0x and 64 hex digits) in note`);
  }
  const id = batchId.toLowerCase() as Bytes32;
  const node = (b: Bytes32) => {
    const batch = view.batch(b);
    return batch === undefined ? undefined : { recalled: batch.recalled, ancestry: batch.ancestry, parents: batch.parents };
  };
  if (firstRecalled(node, id) === undefined) {
    return new ApiError("RECALL_ACK_NOT_RECALLED", `lot ${batchId} was never recalled, neither itself nor through a lot it was made from: there is nothing to acknowledge`);
  }
  // The named recall must be one that applies here: a Recalled entry of the lot or of a recalled ancestor.
  const lineage = new Set<string>();
  const walk = (b: string): void => {
    if (lineage.has(b)) return;
    lineage.add(b);
    for (const p of view.batch(b as Bytes32)?.parents ?? []) walk(p.toLowerCase());
  };
  walk(id);
  const source = named?.batchId.toLowerCase();
  if (named?.kindName !== "Recalled" || source === undefined || !lineage.has(source) || view.batch(source as Bytes32)?.recalled !== true) {
    return new ApiError("RECALL_ACK_NOT_RECALLED", `${ack.recallEventHash} is not a recall of lot ${batchId} or of a lot it was made from`);
  }
  const custodian = view.batch(id)?.custodian;
  if (custodian?.toLowerCase() !== signer.toLowerCase()) {
    return new ApiError("RECALL_ACK_NOT_CUSTODIAN", `only the custodian of lot ${batchId} (${custodian}) may acknowledge its recall, not ${signer}`);
  }
  return undefined;
}
