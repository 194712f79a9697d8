/**
 * Event documents: the JSON an actor signs, one schema per kind (docs/ARCHITECTURE.md "Events").
 *
 * A document is the full statement of fact; its RFC 8785 canonical form hashes to `docHash`. The EIP-712 struct the
 * actor signs repeats the kind's key fields (batch, receiver, quantities, ...) next to `docHash`, so a wallet shows
 * what is being signed and the contract can enforce its rules without the document. The server never trusts a key
 * field that is not in the document: it derives the struct from the document (see typed-values.ts), so the two
 * cannot disagree.
 *
 * Schemas are strict (`additionalProperties: false`): a signed body with a field the schema does not know is refused
 * rather than stored unvalidated. Times are RFC 3339 UTC strings, dates are YYYY-MM-DD; quantities are integers in
 * their unit, because the contract conserves them exactly across splits and merges.
 *
 * CBV / EPCIS 2.0 mapping, used by the provenance answer: Registered = ObjectEvent ADD (bizStep commissioning);
 * PesticideApplied, CustomsCleared, Observed = ObjectEvent OBSERVE; Inspected = OBSERVE (bizStep inspecting);
 * HandOffOffered = shipping; HandOffAccepted = receiving; Split / Merged = TransformationEvent;
 * Recalled = disposition recalled.
 */
import { Type, type Static, type TSchema } from "typebox";

const strict = { additionalProperties: false } as const;

/** GTIN-14, digits only; the check digit is verified in code (a schema cannot express mod-10). */
export const Gtin14 = Type.String({ pattern: "^[0-9]{14}$", description: "GTIN-14 (AI 01), check digit verified" });
/** Batch / lot (AI 10): 1-20 characters of the GS1 AI encodable character set 82. */
export const Lot = Type.String({
  minLength: 1,
  maxLength: 20,
  pattern: "^[!\"%&'()*+,\\-./0-9:;<=>?A-Z_a-z]{1,20}$",
  description: "Batch/lot (AI 10), GS1 character set 82",
});
/** A batch named by its GS1 keys; its canonical form is the Digital Link path /01/{gtin}/10/{lot}. */
export const BatchKey = Type.Object({ gtin: Gtin14, lot: Lot }, strict);
export const CountryCode = Type.String({ pattern: "^[A-Z]{2}$", description: "ISO 3166-1 alpha-2" });
export const Gln = Type.String({ pattern: "^[0-9]{13}$", description: "GS1 Global Location Number" });
export const Address = Type.String({ pattern: "^0x[0-9a-fA-F]{40}$" });
export const Timestamp = Type.String({ format: "date-time", description: "RFC 3339, e.g. 2026-11-20T08:30:00Z" });
export const DateOnly = Type.String({ format: "date", description: "YYYY-MM-DD" });
const Text = (maxLength: number, description?: string) =>
  Type.String({ minLength: 1, maxLength, ...(description ? { description } : {}) });
export const Quantity = Type.Object(
  {
    value: Type.Integer({ minimum: 1, maximum: 1e15, description: "integer amount in `unit`" }),
    unit: Type.String({ pattern: "^[A-Za-z0-9_]{1,8}$", description: "UN/ECE Rec 20 style, e.g. KGM, kg, box" }),
  },
  strict,
);
const Party = Type.Object({ name: Text(120), gln: Type.Optional(Gln) }, strict);

function kindDoc<K extends string, P extends Record<string, TSchema>>(kind: K, description: string, props: P) {
  return Type.Object(
    { kind: Type.Literal(kind), batch: BatchKey, occurredAt: Timestamp, ...props },
    { ...strict, title: kind, description },
  );
}

export const RegisteredDoc = kindDoc("Registered", "Origin of a new batch (EPCIS ObjectEvent ADD, commissioning).", {
  product: Text(120, "product name as sold, e.g. Jeju Hallabong tangerines"),
  origin: Type.Object(
    {
      country: CountryCode,
      region: Text(120),
      farm: Party,
    },
    strict,
  ),
  harvestDate: DateOnly,
  quantity: Quantity,
  imported: Type.Boolean({ description: "true when registered by an importer; customs clearance then gates retail" }),
});

export const PesticideAppliedDoc = kindDoc("PesticideApplied", "A pesticide application (ObjectEvent OBSERVE).", {
  substance: Type.Object(
    { name: Text(120), casNumber: Type.String({ pattern: "^[0-9]{2,7}-[0-9]{2}-[0-9]$" }) },
    strict,
  ),
  dose: Type.Object({ value: Type.Number({ exclusiveMinimum: 0 }), unit: Text(16) }, strict),
  preHarvestIntervalDays: Type.Integer({ minimum: 0, maximum: 3650 }),
  field: Type.Optional(Text(120)),
});

export const Analyte = Type.Object(
  {
    name: Text(120),
    casNumber: Type.Optional(Type.String({ pattern: "^[0-9]{2,7}-[0-9]{2}-[0-9]$" })),
    value: Type.Number({ minimum: 0 }),
    limit: Type.Number({ minimum: 0, description: "maximum residue limit (MRL) or maximum level" }),
    unit: Text(16),
  },
  strict,
);

export const InspectedDoc = kindDoc("Inspected", "A laboratory test (ObjectEvent OBSERVE, inspecting).", {
  lab: Party,
  method: Text(120),
  sampleId: Type.Optional(Text(64)),
  analytes: Type.Array(Analyte, { minItems: 1, maxItems: 500 }),
  passed: Type.Boolean({ description: "must equal: every analyte's value is within its limit" }),
});

export const CustomsClearedDoc = kindDoc("CustomsCleared", "Import customs clearance (ObjectEvent OBSERVE).", {
  declarationNumber: Text(40),
  hsCode: Type.String({ pattern: "^[0-9]{6,10}$" }),
  originCountry: CountryCode,
  portOfEntry: Type.String({ pattern: "^[A-Z]{2}[A-Z2-9]{3}$", description: "UN/LOCODE, e.g. KRPUS" }),
});

export const HandOffOfferedDoc = kindDoc("HandOffOffered", "Custody offered to a receiver (shipping).", {
  to: Address,
  reference: Type.Optional(Text(64, "delivery note / waybill")),
});

export const HandOffAcceptedDoc = kindDoc("HandOffAccepted", "Custody accepted by the receiver (receiving).", {
  from: Address,
  reference: Type.Optional(Text(64)),
});

export const HandOffCancelledDoc = kindDoc("HandOffCancelled", "An open offer withdrawn by the custodian.", {
  to: Address,
});

export const SplitDoc = kindDoc("Split", "A batch split into child lots (TransformationEvent).", {
  children: Type.Array(Type.Object({ gtin: Gtin14, lot: Lot, quantity: Quantity }, strict), {
    minItems: 2,
    maxItems: 32,
  }),
});

export const MergedDoc = kindDoc("Merged", "Parent batches merged into `batch` (TransformationEvent).", {
  parents: Type.Array(BatchKey, { minItems: 2, maxItems: 32 }),
});

export const RecalledDoc = kindDoc("Recalled", "A recall by the regulator, inherited by every descendant.", {
  reason: Text(500),
  reference: Type.Optional(Text(64, "authority's notice number")),
});

export const ObservedDoc = kindDoc("Observed", "A high-volume observation with no on-chain rule.", {
  readings: Type.Optional(
    Type.Array(
      Type.Object({ type: Text(40, "e.g. Temperature, Humidity, Sale"), value: Type.Number(), unit: Text(16) }, strict),
      { minItems: 1, maxItems: 200 },
    ),
  ),
  location: Type.Optional(Party),
  attachment: Type.Optional(
    Type.Object(
      {
        hash: Type.String({ pattern: "^0x[0-9a-f]{64}$", description: "keccak256 of the file" }),
        mediaType: Text(80),
        uri: Type.Optional(Text(500)),
      },
      strict,
    ),
  ),
  note: Type.Optional(Text(500)),
});

export const EventDoc = Type.Union([
  RegisteredDoc,
  PesticideAppliedDoc,
  InspectedDoc,
  CustomsClearedDoc,
  HandOffOfferedDoc,
  HandOffAcceptedDoc,
  HandOffCancelledDoc,
  SplitDoc,
  MergedDoc,
  RecalledDoc,
  ObservedDoc,
]);

export type RegisteredDoc = Static<typeof RegisteredDoc>;
export type PesticideAppliedDoc = Static<typeof PesticideAppliedDoc>;
export type InspectedDoc = Static<typeof InspectedDoc>;
export type CustomsClearedDoc = Static<typeof CustomsClearedDoc>;
export type HandOffOfferedDoc = Static<typeof HandOffOfferedDoc>;
export type HandOffAcceptedDoc = Static<typeof HandOffAcceptedDoc>;
export type HandOffCancelledDoc = Static<typeof HandOffCancelledDoc>;
export type SplitDoc = Static<typeof SplitDoc>;
export type MergedDoc = Static<typeof MergedDoc>;
export type RecalledDoc = Static<typeof RecalledDoc>;
export type ObservedDoc = Static<typeof ObservedDoc>;
export type EventDoc = Static<typeof EventDoc>;
export type KindName = EventDoc["kind"];

/** A signed event as submitted: the document plus the EIP-712 authorisation over it. */
export const SignedEvent = Type.Object(
  {
    doc: EventDoc,
    signer: Address,
    nonce: Type.String({ pattern: "^[0-9]{1,78}$", description: "unordered nonce, decimal uint256" }),
    deadline: Type.Integer({ minimum: 0, maximum: 2 ** 48, description: "unix seconds; the signature is void after" }),
    signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$", description: "65-byte r||s||v" }),
  },
  { ...strict, title: "SignedEvent" },
);
export type SignedEvent = Static<typeof SignedEvent>;
