/**
 * What a client needs to know about the chain: where the contracts are and the EIP-712 domain to sign for, and who
 * is behind an address (profile and roles, from the index, never an RPC per request).
 */
import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { getAddress } from "ethers";
import { ApiError, ErrorBody } from "../http/errors.ts";
import type { Store } from "../store/store.ts";
import { Actor } from "../protocol/answer.ts";
import type { Deployments } from "../chain/contracts.ts";
import { actorView } from "./views.ts";

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
      try {
        getAddress(address);
      } catch {
        // Mixed case is an EIP-55 checksum, and a wrong one means a mistyped address (as for a signed event's).
        throw new ApiError("INVALID_ADDRESS", `${address} is written in mixed case but its EIP-55 checksum is wrong`, { field: "address" });
      }
      const actor = await actorView(store, address);
      if (actor.name === null && actor.roles.length === 0) {
        throw new ApiError("NOT_FOUND", `no profile or role is recorded for ${address}`);
      }
      return actor;
    },
  );
};
