// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title GS1 identifiers of a food batch, checked on chain.
 * @notice Guarantees: a GTIN accepted here is exactly 14 ASCII digits whose last digit is the GS1 mod-10 check
 * digit of the first 13; a lot accepted here is 1 to 20 characters of GS1 AI encodable character set 82
 * (`! " % & ' ( ) * + , - . / 0-9 : ; < = > ? A-Z _ a-z`); a batch id is `keccak256` of the GS1 Digital Link
 * path `/01/{gtin14}/10/{lot}`.
 *
 * Traps:
 * - The lot enters the path raw, NOT percent-encoded. A Digital Link URI percent-encodes `/`, `%` and friends,
 *   so decode the URI's lot before computing the id. The path stays unambiguous because the GTIN is fixed-width.
 * - Only GTIN-14 is accepted: pad GTIN-8/12/13 with leading zeros to 14 digits (the GS1 Digital Link canonical
 *   form), otherwise the same product gets two ids.
 */
library GS1 {
    /// @notice Length of a GTIN-14.
    uint256 internal constant GTIN_LENGTH = 14;
    /// @notice Maximum length of a batch/lot number (AI 10).
    uint256 internal constant MAX_LOT_LENGTH = 20;

    /// @dev Bit `c` is set when ASCII code `c` belongs to GS1 AI encodable character set 82.
    uint256 private constant CSET82 = 0x7fffffe87fffffeffffffe600000000;

    /// @notice The GTIN is not 14 ASCII digits.
    error GtinMalformed(string gtin);
    /// @notice The GTIN's last digit is not the GS1 mod-10 check digit of the first 13.
    error GtinCheckDigitMismatch(string gtin, uint8 expected, uint8 actual);
    /// @notice The lot is empty or longer than 20 characters.
    error LotLengthInvalid(string lot, uint256 length);
    /// @notice The lot holds a character outside GS1 character set 82, at byte `position`.
    error LotCharacterInvalid(string lot, uint256 position);

    /// @notice Reverts unless `gtin` is a GTIN-14 with a correct check digit.
    function checkGtin(string calldata gtin) internal pure {
        bytes calldata b = bytes(gtin);
        if (b.length != GTIN_LENGTH) revert GtinMalformed(gtin);
        uint256 sum;
        for (uint256 i; i < GTIN_LENGTH; ++i) {
            uint8 c = uint8(b[i]);
            if (c < 0x30 || c > 0x39) revert GtinMalformed(gtin);
            // Weights from the right of the 13 data digits: 3, 1, 3, ... so even positions (from the left) weigh 3.
            if (i < GTIN_LENGTH - 1) sum += (c - 0x30) * (i % 2 == 0 ? 3 : 1);
        }
        uint8 expected = uint8((10 - (sum % 10)) % 10);
        uint8 actual = uint8(b[GTIN_LENGTH - 1]) - 0x30;
        if (expected != actual) revert GtinCheckDigitMismatch(gtin, expected, actual);
    }

    /// @notice Reverts unless `lot` is 1..20 characters of GS1 character set 82.
    function checkLot(string calldata lot) internal pure {
        bytes calldata b = bytes(lot);
        if (b.length == 0 || b.length > MAX_LOT_LENGTH) revert LotLengthInvalid(lot, b.length);
        for (uint256 i; i < b.length; ++i) {
            uint8 c = uint8(b[i]);
            if (c > 0x7f || (CSET82 >> c) & 1 == 0) revert LotCharacterInvalid(lot, i);
        }
    }

    /// @notice The batch id `keccak256("/01/" || gtin || "/10/" || lot)`; does not validate its inputs.
    function batchId(string calldata gtin, string calldata lot) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("/01/", gtin, "/10/", lot));
    }

    /// @notice Validates `gtin` and `lot` and returns their batch id.
    function checkedBatchId(string calldata gtin, string calldata lot) internal pure returns (bytes32) {
        checkGtin(gtin);
        checkLot(lot);
        return batchId(gtin, lot);
    }
}
