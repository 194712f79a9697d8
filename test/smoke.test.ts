import { expect } from "chai";
import { network } from "hardhat";

describe("Smoke", function () {
  it("deploys and counts", async function () {
    const { ethers } = await network.connect();
    const smoke = await ethers.deployContract("Smoke");
    await smoke.inc();
    expect(await smoke.x()).to.equal(1n);
  });
});
