import Foundation
import TamgaConsensus
import TamgaCore
import TamgaLedger
import TamgaNetwork
@testable import TamgaNode
import TamgaStorage
import Testing

@Suite("Validator-set changes: a set governance decides at H governs from H + 2 in every node")
struct ValidatorChangeTests {
    /// Transfers from each signer, one after another, each signer to its own node, all signers at
    /// once, until cancelled; returns how many committed.
    private static func load(_ nodes: [Node], _ signers: [TestSigner]) async -> Int {
        await withTaskGroup(of: Int.self) { group in
            for (offset, signer) in signers.enumerated() {
                let node = nodes[offset % nodes.count]
                group.addTask {
                    var committed = 0
                    while !Task.isCancelled {
                        guard let envelope = try? transfer(signer, to: "citizen-9", amount: 1),
                              let id = try? await node.submit(envelope),
                              let stored = try? await node.waitForCommit(id, timeout: .seconds(20)), stored.receipt.isCommitted
                        else { continue }
                        committed += 1
                    }
                    return committed
                }
            }
            return await group.reduce(0, +)
        }
    }

    /// Proposes `validators` as operator-0 and approves it as operators 1 and 2 (3 of 4: more
    /// than two thirds); returns the height of the block that applied it.
    private static func decide(_ validators: [Validator], on node: Node, operators: [TestSigner]) async throws -> Height {
        let propose = try operators[0].sign(.proposeGovernance(ProposeGovernance(change: .setValidators(validators))))
        let proposed = try #require(try await node.waitForCommit(try await node.submit(propose), timeout: commitTimeout))
        #expect(proposed.receipt.isCommitted)
        var applied = proposed.height
        for approver in operators[1...2] {
            let approve = try approver.sign(.approveGovernance(GovernanceReference(proposal: propose.transactionID)))
            let stored = try #require(try await node.waitForCommit(try await node.submit(approve), timeout: commitTimeout))
            #expect(stored.receipt.isCommitted, "\(stored.receipt)")
            applied = stored.height
        }
        return applied
    }

    private static func waitForHeight(_ target: Height, _ nodes: [Node]) async throws {
        let deadline = ContinuousClock.now + commitTimeout
        for node in nodes {
            while await node.status().height < target {
                guard ContinuousClock.now < deadline else {
                    Issue.record("a node stayed at height \(await node.status().height), short of \(target)")
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Every node holds the same block at every height they have (one that joined by state sync
    /// holds none before it joined): no fork.
    private static func expectOneChain(_ nodes: [Node]) async throws {
        var common = Height(UInt64.max)
        for node in nodes { common = min(common, await node.status().height) }
        for height in 1...common.rawValue {
            let hashes = try nodes.compactMap { try $0.block(at: Height(height))?.block.hash }
            #expect(hashes.count >= nodes.count - 1 && Set(hashes).count == 1, "the nodes disagree at height \(height)")
        }
    }

    @Test("a fifth validator is added and a genesis validator removed, under load, with no halt and no fork; extracts follow the changes")
    func addAndRemoveUnderLoad() async throws {
        // follower-0 becomes the fifth validator; follower-1 joins by state sync at the end.
        let network = try TestNetwork(validators: 4, followers: 2)
        defer { network.remove() }
        try network.joinByStateSync(follower: 1)
        let genesisSet = try network.genesis.validatorSet()
        let newcomerKey = try network.followerHomes[0].loadIdentity().key.publicKey
        var nodes = try (network.homes + [network.followerHomes[0]]).map { try Node(home: $0, logger: quietLogger) }
        var running = nodes.map(start)
        defer { for task in running { task.cancel() } }
        let operators = try (0..<4).map { try TestSigner("operator-\($0)", in: network) }
        let number = try CadastralNumber("07-007-007-7")
        let registrar = try TestSigner("registrar-1", in: network)
        let register = try registrar.sign(.registerProperty(RegisterProperty(
            cadastralNumber: number, kind: "house", address: "Astana, handover street 7", area: AreaHundredths(12_000),
            location: nil, owners: [Ownership(party: try PartyID("citizen-8"), share: .whole)], titleDocumentHash: .sha256(Array("title".utf8)))))
        #expect(try #require(try await nodes[0].waitForCommit(try await nodes[0].submit(register), timeout: commitTimeout)).receipt.isCommitted)
        let load = Task { [nodes] in await Self.load(nodes, try (1...4).map { try TestSigner("citizen-\($0)", in: network) }) }

        // Add the follower's key as a fifth validator.
        let added = try ValidatorSet(genesisSet.validators + [Validator(publicKey: newcomerKey, votingPower: 1)])
        let addedAt = try await Self.decide(added.validators, on: nodes[0], operators: operators)
        try await Self.waitForHeight(Height(addedAt.rawValue + 4), nodes)
        for node in nodes {
            let before = try #require(try node.block(at: addedAt.next)).block.header
            let after = try #require(try node.block(at: Height(addedAt.rawValue + 2))).block.header
            #expect(before.validatorSetHash == genesisSet.hash && after.validatorSetHash == added.hash)
        }
        #expect(await nodes[4].status().follower == false, "the added validator votes")
        // Its precommit is in a commit of the new set (the set at H + 2 on).
        var signedByNewcomer = false
        for height in addedAt.rawValue + 2...addedAt.rawValue + 4 {
            let commit = try #require(try nodes[0].block(at: Height(height))).commit
            signedByNewcomer = signedByNewcomer || commit.signatures.contains { $0.validator == ValidatorIndex(4) }
        }
        #expect(signedByNewcomer, "no commit after the change carries the added validator's signature")

        // Remove genesis validator 0.
        let removed = try ValidatorSet(Array(added.validators.dropFirst()))
        let removedAt = try await Self.decide(removed.validators, on: nodes[1], operators: operators)
        try await Self.waitForHeight(Height(removedAt.rawValue + 3), nodes)
        #expect(await nodes[0].status().follower, "the removed validator no longer votes")
        #expect(try #require(try nodes[1].block(at: Height(removedAt.rawValue + 2))).block.header.validatorSetHash == removed.hash)

        // With the removed validator and one more stopped, only the added validator's vote makes a
        // quorum (3 of the 4): the chain goes on only because it counts.
        load.cancel()
        let committed = try await load.value
        #expect(committed > 0)
        for index in [0, 1] { await stop(running[index]) }
        let survivors = [nodes[2], nodes[3], nodes[4]]
        let citizen = try TestSigner("citizen-5", in: network)
        let id = try await nodes[4].submit(try transfer(citizen, to: "citizen-6"))
        let stored = try #require(try await nodes[2].waitForCommit(id, timeout: commitTimeout))
        #expect(stored.receipt.isCommitted)
        try await Self.expectOneChain(survivors)

        // An extract from after both changes verifies against the genesis file alone, through the
        // handovers it carries; without them, or with one dropped, it does not.
        let parts = try #require(try await nodes[4].extractParts(number))
        let handovers = nodes[4].validatorHandovers
        #expect(handovers.count == 2)
        let extract = try Extract(cadastralNumber: number, record: parts.value, proof: parts.proof, header: parts.header, commit: parts.commit,
                                  validatorHandovers: handovers)
        #expect(try extract.verify(chain: network.genesis.chainID, validators: genesisSet).height == parts.header.height)
        // A handover that changes nothing (a later header, whose state holds the set in force) is
        // refused: a list padded with them would cost every verifier a commit check each.
        let latest = try #require(try nodes[2].block(at: await nodes[2].status().height))
        let (record, recordProof) = try await nodes[2].validatorsRecord(at: latest.block.header.height.rawValue)
        var padded = extract
        padded.validatorHandovers = handovers + [ValidatorHandover(header: latest.block.header, commit: latest.commit, record: try #require(record), proof: recordProof)]
        #expect(throws: Extract.Failure.handoverInvalid(ValidatorHandover.Failure.noChange(index: 2).message)) {
            try padded.verify(chain: network.genesis.chainID, validators: genesisSet)
        }
        // The portal's verifier is tested on such an extract (Tests/portal/proof_test.mjs); this
        // writes a new pair when asked.
        if let folder = ProcessInfo.processInfo.environment["TAMGA_WRITE_HANDOVER_FIXTURE"] {
            try writeJSON(extract, to: URL(fileURLWithPath: folder).appendingPathComponent("handover_extract.json"))
            try writeJSON(network.genesis, to: URL(fileURLWithPath: folder).appendingPathComponent("handover_genesis.json"))
        }
        var bare = extract
        bare.validatorHandovers = nil
        #expect(throws: Extract.Failure.self) { try bare.verify(chain: network.genesis.chainID, validators: genesisSet) }
        var skipped = extract
        skipped.validatorHandovers = [handovers[1]]
        #expect {
            try skipped.verify(chain: network.genesis.chainID, validators: genesisSet)
        } throws: { error in
            guard case let .handoverInvalid(reason)? = error as? Extract.Failure else { return false }
            return reason.contains("not finalized by the set of its height")
        }

        // The removed validator restarts as a follower from its own disk and catches up; the
        // added one restarts as a validator; the audit reads both.
        for index in [0, 1, 4] {
            await stop(running[index])
            nodes[index] = try Node(home: index == 4 ? network.followerHomes[0] : network.homes[index], logger: quietLogger)
            running[index] = start(nodes[index])
        }
        let target = await nodes[2].status().height
        try await Self.waitForHeight(target, [nodes[0], nodes[4]])
        #expect(await nodes[4].status().follower == false)
        #expect(await nodes[0].status().follower)
        try await Self.waitForHeight(target, [nodes[1]])

        // A new node joins by state sync: it takes the handovers from a peer, checks the anchor
        // against the set of its height, and follows the chain of the new set. Its peers serve
        // one handover per page, so it takes the list in three pages, the last empty.
        for node in nodes { await node.limitHandoverPages(toBytes: 1) }
        let joiner = try Node(home: network.followerHomes[1], logger: quietLogger)
        running.append(start(joiner))
        let joinTarget = await nodes[2].status().height
        try await Self.waitForHeight(joinTarget, [joiner])
        var pages = 0
        for node in nodes { pages += await node.handoverPagesServed }
        #expect(pages >= 3, "the handovers came in \(pages) pages")
        // The same changes (each node's commit of a block may hold other signatures of it).
        #expect(joiner.validatorHandovers.map { [$0.header, $0.record] } == handovers.map { [$0.header, $0.record] })
        nodes.append(joiner)
        try await Self.expectOneChain(nodes)
        for task in running { task.cancel() }
        for task in running { _ = await task.result }
        for home in [network.homes[0], network.followerHomes[0]] {
            let report = try NodeAudit.run(home: home)
            #expect(report.height >= target)
        }
    }
}

extension Node {
    /// The `validators` record at a state version, with its proof.
    func validatorsRecord(at version: UInt64) throws -> (value: [UInt8]?, proof: StateProof) {
        try map.proof(forKey: RecordKey.validators, at: version)
    }
}
