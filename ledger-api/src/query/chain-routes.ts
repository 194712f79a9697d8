/**
 * What a client needs to know about the chain: where the contracts are and the EIP-712 domain to sign for, and who
 * is behind an address (profile and roles, from the index, never an RPC per request).
 */
import type { FastifyPluginAsync } from "fastify";
import { Type, type Static } from "typebox";
import { toUtf8String } from "ethers";
import { ApiError, ErrorBody } from "../http/errors.ts";
import type { ActorProfile, Store } from "../store/store.ts";
import { ROLE_NAMES } from "../protocol/roles.ts";
import type { Deployments } from "../chain/contracts.ts";

export const Actor = Type.Object(
  {
    address: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    gln: Type.Union([Type.String(), Type.Null()]),
    country: Type.Union([Type.String(), Type.Null()]),
    retail: Type.Boolean(),
    roles: Type.Array(Type.String()),
  },
  { $id: "Actor", title: "Actor" },
);
export type Actor = Static<typeof Actor>;

function country(bytes2: string): string | null {
  return /^0x0*$/.test(bytes2) ? null : toUtf8String(bytes2);
}

/** An actor as a shopper should see it: a name, not an address. */
export async function actorView(store: Store, address: string, profile?: ActorProfile): Promise<Actor> {
  const [p, grants] = await Promise.all([profile ? Promise.resolve(profile) : store.profile(address), store.rolesOf(address)]);
  return {
    address: address.toLowerCase(),
    name: p?.name ?? null,
    gln: p && p.gln !== 0n ? p.gln.toString().padStart(13, "0") : null,
    country: p ? country(p.country) : null,
    retail: p?.retail ?? false,
    roles: grants
      .filter((g) => g.contract === "ledger")
      .map((g) => ROLE_NAMES.get(g.role.toLowerCase()) ?? g.role)
      .sort(),
  };
}

export interface ChainRoutesOptions {
  readonly store: Store;
  readonly deployments: Deployments;
}

export const chainRoutes: FastifyPluginAsync<ChainRoutesOptions> = async (app, { store, deployments }) => {
  app.get(
    "/v1/chain",
    {
      schema: {
        tags: ["actors"],
        summary: "The chain, the contracts, and the EIP-712 domain events are signed for",
        response: {
          200: Type.Object({
            chainId: Type.Integer(),
            ledger: Type.String(),
            anchor: Type.String(),
            deployBlock: Type.Integer(),
            domain: Type.Object({
              name: Type.String(),
              version: Type.String(),
              chainId: Type.Integer(),
              verifyingContract: Type.String(),
            }),
          }),
        },
      },
    },
    async () => ({
      ...deployments,
      domain: { name: "ProvenanceLedger", version: "1", chainId: deployments.chainId, verifyingContract: deployments.ledger },
    }),
  );

  app.get(
    "/v1/actors/:address",
    {
      schema: {
        tags: ["actors"],
        summary: "An actor's profile and roles",
        params: Type.Object({ address: Type.String({ pattern: "^0x[0-9a-fA-F]{40}$" }) }),
        response: { 200: Actor, "4xx": ErrorBody },
      },
    },
    async (request) => {
      const { address } = request.params as { address: string };
      const actor = await actorView(store, address);
      if (actor.name === null && actor.roles.length === 0) {
        throw new ApiError("NOT_FOUND", `no profile or role is recorded for ${address}`);
      }
      return actor;
    },
  );
};
