import TamgaCore
import Testing

/// Golden encodings from scripts/encoding_vectors.py, an independent implementation of
/// docs/encoding.md in Python. If one of these fails, the wire format changed.
@Suite struct EncodingTests {
    let chain = try! ChainID("tamga-test")

    var sampleHeader: BlockHeader {
        BlockHeader(
            chainID: chain, height: Height(7), time: Timestamp(millisecondsSinceEpoch: 1_764_000_000_000),
            previousBlockHash: filled(0x11), lastCommitHash: filled(0x22), transactionsRoot: filled(0x33),
            evidenceRoot: filled(0x44), stateRoot: filled(0x55), validatorSetHash: filled(0x66), proposer: ValidatorIndex(2)
        )
    }

    @Test func headerLayout() throws {
        let encoded = sampleHeader.encoded()
        #expect(Hex.encode(encoded) == "0001000a74616d67612d7465737400000000000000070000019ab697e8001111111111111111111111111111111111111111111111111111111111111111222222222222222222222222222222222222222222222222222222222222222233333333333333333333333333333333333333333333333333333333333333334444444444444444444444444444444444444444444444444444444444444444555555555555555555555555555555555555555555555555555555555555555566666666666666666666666666666666666666666666666666666666666666660002")
        #expect(sampleHeader.hash.hex == "8b37d36c6a5a16b37a0e100ad7b5db977ee7d88c2d50a5157310b7d487029db4")
        #expect(try BlockHeader.decode(encoded) == sampleHeader)
    }

    @Test func votes() throws {
        let precommit = Vote(kind: .precommit, chainID: chain, height: Height(7), round: Round(1), blockHash: filled(0x77),
                             timestamp: Timestamp(millisecondsSinceEpoch: 1_764_000_000_123), validator: ValidatorIndex(3))
        #expect(Hex.encode(precommit.encoded()) == "02000a74616d67612d746573740000000000000007000000010177777777777777777777777777777777777777777777777777777777777777770000019ab697e87b0003")
        #expect(precommit.signBytes == [0x05] + precommit.encoded())
        let nilPrevote = Vote(kind: .prevote, chainID: chain, height: Height(7), round: Round(0), blockHash: nil,
                              timestamp: Timestamp(millisecondsSinceEpoch: 1_764_000_000_123), validator: ValidatorIndex(0))
        #expect(Hex.encode(nilPrevote.encoded()) == "01000a74616d67612d74657374000000000000000700000000000000019ab697e87b0000")
        #expect(try Vote.decode(precommit.encoded()) == precommit)
        #expect(try Vote.decode(nilPrevote.encoded()) == nilPrevote)
        let signed = precommit.signed(with: RFC8032.key1)
        #expect(try SignedVote.decode(signed.encoded()) == signed)
    }

    @Test func proposalAndItsSignature() throws {
        let proposal = Proposal(chainID: chain, height: Height(7), round: Round(2), proofOfLockRound: Round(1), blockHash: filled(0x77),
                                timestamp: Timestamp(millisecondsSinceEpoch: 1_764_000_000_456), proposer: ValidatorIndex(0))
        #expect(Hex.encode(proposal.encoded()) == "000a74616d67612d74657374000000000000000700000002010000000177777777777777777777777777777777777777777777777777777777777777770000019ab697e9c80000")
        let signed = proposal.signed(with: RFC8032.key1)
        #expect(signed.signature.description == "e69c11b32e28f3bc45ee307adf78eb129e0f41e9246bac96e78e85d471f79edc8c3a7f0b41fa257cf283b99392e0f96eaf404a201809a9bb00be9eb522616d07")
        #expect(try SignedProposal.decode(signed.encoded()) == signed)
    }

    @Test func proposalWithLockRoundNotBeforeItsRoundIsRefused() {
        let proposal = Proposal(chainID: chain, height: Height(7), round: Round(1), proofOfLockRound: Round(1), blockHash: filled(0x77),
                                timestamp: Timestamp(millisecondsSinceEpoch: 0), proposer: ValidatorIndex(0))
        #expect(throws: CodecError.self) { try Proposal.decode(proposal.encoded()) }
    }

    @Test func validatorSetAndCommit() throws {
        let validators = try ValidatorSet([
            Validator(publicKey: RFC8032.key1.publicKey, votingPower: 10),
            Validator(publicKey: RFC8032.key2.publicKey, votingPower: 20),
        ])
        #expect(Hex.encode(validators.encoded()) == "000201d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a000000000000000a013d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c0000000000000014")
        #expect(validators.hash.hex == "c705a27531ed7788b8e996ee54d12148086191a5992992e417b3e0b02e3a8d22")
        #expect(try ValidatorSet.decode(validators.encoded()) == validators)

        let signatures = [(RFC8032.key1, UInt16(0), UInt64(1_764_000_000_100)), (RFC8032.key2, 1, 1_764_000_000_200)].map { key, index, time in
            let vote = Vote(kind: .precommit, chainID: chain, height: Height(7), round: Round(1), blockHash: filled(0x77),
                            timestamp: Timestamp(millisecondsSinceEpoch: time), validator: ValidatorIndex(index))
            return CommitSignature(validator: vote.validator, timestamp: vote.timestamp, signature: vote.signed(with: key).signature)
        }
        let commit = Commit(height: Height(7), round: Round(1), blockHash: filled(0x77), signatures: signatures.reversed())
        #expect(Hex.encode(commit.encoded()) == "0000000000000007000000017777777777777777777777777777777777777777777777777777777777777777000200000000019ab697e864e67baf3ce32ab4b478d80c710df05cdc0883a94c9a9ecfbfd3744be534aceb3c14049b3ebe2e5d78c37490d2a66f12dc08c0375d606c47a67e5da4f00264e00100010000019ab697e8c8588b51a871d4286d2804f678a350b5d44ec9d383f40c108139e620ba660918f41812a4dbcc9a6b76bd6b56e3ae8b3939ca3249088f9c30c34fc7efc50c954d0c")
        #expect(commit.hash.hex == "a7690dae961e2a3ecb9edaf5aec1a4748e3d5bfcd6724c047c1092f774d9d15c")
        #expect(try Commit.decode(commit.encoded()) == commit)
        try commit.verify(blockHash: filled(0x77), height: Height(7), chainID: chain, validators: validators)
    }

    @Test func commitVerificationFailures() throws {
        let validators = try ValidatorSet([
            Validator(publicKey: RFC8032.key1.publicKey, votingPower: 10),
            Validator(publicKey: RFC8032.key2.publicKey, votingPower: 20),
        ])
        func signature(_ key: SigningKey, _ index: UInt16, chain: ChainID) -> CommitSignature {
            let vote = Vote(kind: .precommit, chainID: chain, height: Height(7), round: Round(0), blockHash: filled(0x77),
                            timestamp: Timestamp(millisecondsSinceEpoch: 5), validator: ValidatorIndex(index))
            return CommitSignature(validator: vote.validator, timestamp: vote.timestamp, signature: vote.signed(with: key).signature)
        }
        let onlySmall = Commit(height: Height(7), round: Round(0), blockHash: filled(0x77), signatures: [signature(RFC8032.key1, 0, chain: chain)])
        #expect(throws: CommitError.insufficientPower(signed: 10, total: 30)) {
            try onlySmall.verify(blockHash: filled(0x77), height: Height(7), chainID: chain, validators: validators)
        }
        // 20 of 30 is exactly two thirds: not more than two thirds.
        let onlyLarge = Commit(height: Height(7), round: Round(0), blockHash: filled(0x77), signatures: [signature(RFC8032.key2, 1, chain: chain)])
        #expect(throws: CommitError.insufficientPower(signed: 20, total: 30)) {
            try onlyLarge.verify(blockHash: filled(0x77), height: Height(7), chainID: chain, validators: validators)
        }
        let otherChain = try ChainID("other-chain")
        let crossChain = Commit(height: Height(7), round: Round(0), blockHash: filled(0x77),
                                signatures: [signature(RFC8032.key1, 0, chain: otherChain), signature(RFC8032.key2, 1, chain: otherChain)])
        #expect(throws: CommitError.invalidSignature(ValidatorIndex(0))) {
            try crossChain.verify(blockHash: filled(0x77), height: Height(7), chainID: chain, validators: validators)
        }
        let outOfRange = Commit(height: Height(7), round: Round(0), blockHash: filled(0x77), signatures: [signature(RFC8032.key1, 9, chain: chain)])
        #expect(throws: CommitError.unknownValidator(ValidatorIndex(9))) {
            try outOfRange.verify(blockHash: filled(0x77), height: Height(7), chainID: chain, validators: validators)
        }
        #expect(throws: CommitError.wrongBlock(expected: filled(0x78), actual: filled(0x77))) {
            try onlySmall.verify(blockHash: filled(0x78), height: Height(7), chainID: chain, validators: validators)
        }
    }

    @Test func strictDecoding() throws {
        let encoded = sampleHeader.encoded()
        #expect(throws: CodecError.trailingBytes(count: 1)) { try BlockHeader.decode(encoded + [0]) }
        #expect(throws: CodecError.truncated(field: "proposer", needed: 2, remaining: 1)) { try BlockHeader.decode(Array(encoded.dropLast())) }
        var badVersion = encoded
        badVersion[1] = 2
        #expect(throws: CodecError.self) { try BlockHeader.decode(badVersion) }
        var badChain = encoded
        badChain[4] = UInt8(ascii: "T")
        #expect(throws: CodecError.invalidValue(field: "chain id", reason: "only a-z, 0-9, '-' and '.' are allowed")) { try BlockHeader.decode(badChain) }

        let vote = Vote(kind: .prevote, chainID: chain, height: Height(1), round: Round(0), blockHash: nil,
                        timestamp: Timestamp(millisecondsSinceEpoch: 0), validator: ValidatorIndex(0))
        var badFlag = vote.encoded()
        badFlag[1 + 2 + 10 + 8 + 4] = 2
        #expect(throws: CodecError.invalidValue(field: "block hash", reason: "flag byte 2 is neither 0 nor 1")) { try Vote.decode(badFlag) }
        var badKind = vote.encoded()
        badKind[0] = 3
        #expect(throws: CodecError.invalidValue(field: "vote kind", reason: "unknown kind 3")) { try Vote.decode(badKind) }

        // A commit whose validator indices repeat or go down is refused.
        let signature = try Signature(bytes: [UInt8](repeating: 1, count: 64))
        var writer = ByteWriter()
        writer.write(UInt64(7)); writer.write(UInt32(0)); writer.write(filled(0x77)); writer.write(UInt16(2))
        for _ in 0..<2 { writer.write(UInt16(1)); writer.write(UInt64(0)); writer.writeFixed(signature.bytes) }
        #expect(throws: CodecError.invalidValue(field: "commit signatures", reason: "validator indices must be strictly increasing")) {
            try Commit.decode(writer.bytes)
        }
        // A length prefix above its limit is refused before any allocation.
        var huge = ByteWriter()
        huge.write(UInt16(Limits.validatorsMax + 1))
        #expect(throws: CodecError.lengthExceedsLimit(field: "validators", length: Limits.validatorsMax + 1, limit: Limits.validatorsMax)) {
            try ValidatorSet.decode(huge.bytes)
        }
    }

    @Test func validatorSetRules() throws {
        let key = RFC8032.key1.publicKey
        #expect(throws: ValidatorSetError.empty) { try ValidatorSet([]) }
        #expect(throws: ValidatorSetError.zeroPower(ValidatorIndex(0))) { try ValidatorSet([Validator(publicKey: key, votingPower: 0)]) }
        #expect(throws: ValidatorSetError.duplicateKey(ValidatorIndex(1))) {
            try ValidatorSet([Validator(publicKey: key, votingPower: 1), Validator(publicKey: key, votingPower: 1)])
        }
        let four = try ValidatorSet((1...4).map { seed in
            Validator(publicKey: try SigningKey(seed: [UInt8](repeating: UInt8(seed), count: 32)).publicKey, votingPower: 1)
        })
        #expect(!four.isQuorum(2))
        #expect(four.isQuorum(3))
        #expect(four.isMoreThanOneThird(2))
        #expect(!four.isMoreThanOneThird(1))
        #expect(four[ValidatorIndex(4)] == nil)
    }
}
