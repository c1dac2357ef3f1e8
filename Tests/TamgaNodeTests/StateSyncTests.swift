import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import TamgaAPI
import TamgaConsensus
import TamgaCore
import TamgaIntegrations
import TamgaLedger
import TamgaNetwork
@testable import TamgaNode
import TamgaSimulation
import TamgaStorage
import Testing

@Suite("State sync: a node that joins from a snapshot its peers serve")
struct StateSyncTests {
    /// A state of `count` records and the anchor block whose header names its root.
    private func source(_ count: Int) throws -> (map: AuthenticatedMap<InMemoryTreeNodeStore>, anchor: (block: Block, commit: Commit)) {
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        // Enough records that most prefixes hold a subtree, some a single record, a few nothing.
        let root = try map.apply((0..<count).map { StateUpdate(key: Array("record/\($0)".utf8), value: Array("value \($0)".utf8)) }, as: 7)
        let header = BlockHeader(chainID: try ChainID("tamga-test"), height: Height(7), time: Timestamp(millisecondsSinceEpoch: 1), previousBlockHash: .zero,
                                 lastCommitHash: .zero, transactionsRoot: Block.transactionsRoot([]), evidenceRoot: Block.evidenceRoot([]),
                                 stateRoot: root, validatorSetHash: .zero, proposer: ValidatorIndex(0))
        let block = Block(header: header, transactions: [], lastCommit: nil)
        return (map, (block, Commit(height: Height(7), round: Round(0), blockHash: block.hash, signatures: [])))
    }

    @Test("a lying peer's top or records are refused and change nothing; the honest pieces rebuild the very state, with its root, values and proofs")
    func piecesAreCheckedOneByOne() throws {
        let (map, anchor) = try source(9_000)
        var progress = StateSyncProgress(anchor: anchor)
        let top = try map.snapshotTop(at: 7)
        #expect(top.contains(.empty) && top.contains { if case .leaf = $0 { true } else { false } })

        // A top with one prefix's hash changed does not give the signed root.
        var forged = top
        let changed = try #require(forged.firstIndex { if case .subtree = $0 { true } else { false } })
        forged[changed] = .subtree(.sha256(Array("forged".utf8)))
        #expect(throws: SnapshotError.self) { _ = try progress.accept(top: forged) }
        #expect(progress.top == nil)

        // A top that puts a lone record under another prefix (which the root alone cannot tell).
        let lone = try #require(top.indices.first { if case .leaf = top[$0] { true } else { false } })
        var moved = top
        (moved[lone], moved[lone ^ 1]) = (moved[lone ^ 1], moved[lone])
        #expect(throws: SnapshotError.self) { try progress.accept(top: moved) }
        #expect(progress.top == nil)

        try progress.accept(top: top)
        var nodes: [(key: NodeKey, node: TreeNode)] = []
        let all = Set(top.indices.filter { top[$0] != .empty })
        #expect(progress.missing == all)

        // Records with one value changed, one dropped, or out of order: refused, nothing taken.
        var records = try map.snapshotRecords(prefix: changed, at: 7)
        #expect(records.count >= 2)
        let honest = records
        records[0] = StateSnapshot.Record(keyHash: records[0].keyHash, value: Array("a forged owner".utf8))
        #expect(throws: SnapshotError.prefixMismatch(prefix: changed)) { _ = try progress.accept(records: [records], from: changed) }
        #expect(throws: SnapshotError.prefixMismatch(prefix: changed)) { _ = try progress.accept(records: [Array(honest.dropLast())], from: changed) }
        #expect(throws: SnapshotError.recordsOutOfOrder(prefix: changed)) { _ = try progress.accept(records: [honest.reversed()], from: changed) }
        // A record of another prefix passed off as this one's.
        let other = try #require(all.first { $0 != changed })
        #expect(throws: SnapshotError.recordOutsidePrefix(prefix: changed)) {
            _ = try progress.accept(records: [try map.snapshotRecords(prefix: other, at: 7)], from: changed)
        }
        #expect(progress.missing == all)

        // Every prefix from honest peers, in groups of 100.
        for first in stride(from: 0, to: StateSnapshot.prefixCount, by: 100) {
            let groups = try (first..<min(first + 100, StateSnapshot.prefixCount)).map { try map.snapshotRecords(prefix: $0, at: 7) }
            nodes += try progress.accept(records: groups, from: first).nodes
        }
        #expect(progress.isComplete)
        let (root, above) = try progress.finalNodes()
        nodes += above

        // Written to a node's database, the state is the source's, node for node where it matters.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tamga-sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try NodeStore(path: directory.appendingPathComponent("node.sqlite").path)
        try store.writeSnapshotNodes(nodes)
        try store.finishSnapshot(version: 7, root: root, baseHeight: Height(7))
        let synced = AuthenticatedMap(store: try DiskTreeNodeStore(store, cacheBytes: 1 << 20))
        #expect(try synced.rootHash(at: 7) == anchor.block.header.stateRoot)
        #expect(try synced.audit(version: 7).count == 9_000)
        for index in stride(from: 0, to: 9_100, by: 101) {
            let key = Array("record/\(index)".utf8)
            let (value, proof) = try synced.proof(forKey: key, at: 7)
            let (expectedValue, expectedProof) = try map.proof(forKey: key, at: 7)
            #expect(value == expectedValue && proof == expectedProof)
        }
        // And it takes new versions on top, as a node's state does.
        #expect(try synced.apply([StateUpdate(key: Array("record/1".utf8), value: nil)], as: 8)
                == (try map.apply([StateUpdate(key: Array("record/1".utf8), value: nil)], as: 8)))
    }

    /// A registrar's registration of an apartment `number`, owned whole by `owner`.
    private func registration(of number: CadastralNumber, to owner: TestSigner, by registrar: TestSigner) throws -> SignedEnvelope {
        try registrar.sign(.registerProperty(RegisterProperty(
            cadastralNumber: number, kind: "apartment", address: "Astana, sync street \(number.rawValue)", area: AreaHundredths(5_500),
            location: nil, owners: [Ownership(party: owner.party, share: .whole)], titleDocumentHash: .sha256(Array("title".utf8)))))
    }

    /// Two blocks more, held by every validator: a node that joins from now on joins at a block
    /// after everything committed so far (it anchors a block behind what most validators hold).
    private func settle(_ validators: [Node], sender: TestSigner) async throws {
        let target = (await validators[0].status().height).rawValue + 2
        for _ in 0..<2 {
            let id = try await validators[0].submit(try transfer(sender, to: "citizen-9"))
            #expect(try await validators[0].waitForCommit(id, timeout: commitTimeout)?.receipt.isCommitted == true)
        }
        let deadline = ContinuousClock.now + commitTimeout
        for node in validators {
            while await node.status().height.rawValue < target, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    @Test("a follower with an empty database joins four validators by state sync, serves the same proofs, offers, pledges under review and open deeds, takes transactions, restarts from its own disk, and passes the audit")
    func followerJoinsByStateSync() async throws {
        let network = try TestNetwork(validators: 4, followers: 1)
        defer { network.remove() }
        try network.joinByStateSync(follower: 0)
        let validators = try network.homes.map { try Node(home: $0, logger: quietLogger) }
        let running = validators.map(start)
        defer { for task in running { task.cancel() } }

        let number = try CadastralNumber("05-005-005-5")
        let citizen = try TestSigner("citizen-1", in: network)
        let (registrar, bank) = (try TestSigner("registrar-1", in: network), try TestSigner("bank-1", in: network))
        func commit(_ envelope: SignedEnvelope) async throws -> TransactionID {
            let id = try await validators[0].submit(envelope)
            let stored = try #require(try await validators[0].waitForCommit(id, timeout: commitTimeout))
            #expect(stored.receipt.isCommitted, "\(stored.receipt.rejectionMessage ?? "")")
            return id
        }
        for envelope in [try registration(of: number, to: citizen, by: registrar), try transfer(citizen, to: "citizen-2"), try transfer(citizen, to: "citizen-3")] {
            _ = try await commit(envelope)
        }
        // Before the join: one property listed, one listed, withdrawn and under an open deed, two
        // pledges waiting for review and one rejected. The follower has none of these blocks, only
        // their state.
        let (listed, withdrawn) = (try CadastralNumber("05-005-005-6"), try CadastralNumber("05-005-005-7"))
        for other in [listed, withdrawn] {
            _ = try await commit(try registration(of: other, to: citizen, by: registrar))
            _ = try await commit(try citizen.sign(.list(ListProperty(cadastralNumber: other, price: Tiyn(50_000_000)))))
        }
        _ = try await commit(try citizen.sign(.withdrawListing(WithdrawListing(cadastralNumber: withdrawn))))
        let buyer = try TestSigner("citizen-2", in: network)
        let deed = try await commit(try buyer.sign(.proposeDeed(ProposeDeed(cadastralNumber: withdrawn, sellers: [Deed.Seller(party: citizen.party, share: .whole)],
                                                                              buyers: [Deed.Buyer(party: buyer.party, share: .whole, pays: Tiyn(10_000))]))))
        let waiting = try await commit(try bank.sign(.proposePledge(ProposePledge(cadastralNumber: number, loanAmount: Tiyn(9_000_000), documents: [.sha256(Array("loan".utf8))]))))
        let rejected = try await commit(try bank.sign(.proposePledge(ProposePledge(cadastralNumber: number, loanAmount: Tiyn(1_000), documents: [.sha256(Array("loan".utf8))]))))
        _ = try await commit(try registrar.sign(.rejectPledge(RejectPledge(pledge: rejected, reason: "the loan contract is unsigned"))))
        let later = try await commit(try bank.sign(.proposePledge(ProposePledge(cadastralNumber: number, loanAmount: Tiyn(7_000_000), documents: [.sha256(Array("loan".utf8))]))))
        try await settle(validators, sender: citizen)

        let follower = try Node(home: network.followerHomes[0], logger: quietLogger)
        let following = start(follower)
        let deadline = ContinuousClock.now + commitTimeout
        while await follower.status().height < (await validators[0].status().height), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        let joined = await follower.status()
        #expect(joined.follower && joined.height >= Height(3), "the follower reached height \(joined.height)")

        // The same proof of the passport at the same block, from the follower and from a validator.
        let at = joined.height
        let fromFollower = try #require(try await follower.extractParts(number, atBlock: at))
        let fromValidator = try #require(try await validators[1].extractParts(number, atBlock: at))
        #expect(fromFollower.value == fromValidator.value && fromFollower.proof == fromValidator.proof && fromFollower.header == fromValidator.header)

        // Its offers list and registrars' review list hold what the state it fetched holds.
        #expect(try await follower.offers(after: nil, limit: 10).offers.map(\.listing.cadastralNumber) == [listed])
        #expect(try await follower.pledgesUnderReview(after: nil, limit: 10).pledges.map(\.id) == [waiting, later])
        #expect(try await validators[1].pledgesUnderReview(after: nil, limit: 10).pledges.map(\.id) == [waiting, later])
        // Oldest first, a page at a time, as on every node.
        let firstPage = try await follower.pledgesUnderReview(after: nil, limit: 1)
        #expect(firstPage.pledges.map(\.id) == [waiting] && firstPage.next?.height == 0)
        #expect(try await follower.pledgesUnderReview(after: firstPage.next, limit: 1).pledges.map(\.id) == [later])
        for party in [citizen.party, buyer.party] {
            #expect(try await follower.openDeeds(of: party).map(\.id) == [deed])
        }
        // A pledge decided after the join leaves the follower's list.
        let decided = try await follower.submit(try registrar.sign(.rejectPledge(RejectPledge(pledge: waiting, reason: "the valuation is missing"))))
        #expect(try await follower.waitForCommit(decided, timeout: commitTimeout)?.receipt.isCommitted == true)
        #expect(try await follower.pledgesUnderReview(after: nil, limit: 10).pledges.map(\.id) == [later])

        // It takes a transaction like any node, and every node commits it.
        let id = try await follower.submit(try transfer(citizen, to: "citizen-4"))
        let committed = try #require(try await follower.waitForCommit(id, timeout: commitTimeout))
        #expect(committed.receipt.isCommitted)
        #expect(try await validators[2].waitForCommit(id, timeout: commitTimeout) != nil)

        // Stopped and opened again, it starts from its own disk at the block it joined at or later.
        await stop(following)
        _ = try NodeAudit.run(home: network.followerHomes[0])
        let reopened = try Node(home: network.followerHomes[0], logger: quietLogger)
        #expect(await reopened.status().height >= committed.height)
        #expect(try await reopened.passport(number, atBlock: committed.height)?.owners == [Ownership(party: citizen.party, share: .whole)])
    }

    @Test("a node that joined by state sync cannot tell who enrolled a party or first cited a document before its join, and refuses rather than guess")
    func historyBeforeTheJoinIsNotGuessed() async throws {
        let network = try TestNetwork(validators: 4, followers: 1)
        defer { network.remove() }
        try network.joinByStateSync(follower: 0)
        let validators = try network.homes.map { try Node(home: $0, logger: quietLogger) }
        let running = validators.map(start)
        defer { for task in running { task.cancel() } }
        func commit(_ envelope: SignedEnvelope, at node: Node) async throws {
            let stored = try #require(try await node.waitForCommit(try await node.submit(envelope), timeout: commitTimeout))
            #expect(stored.receipt.isCommitted, "\(stored.receipt.rejectionMessage ?? "")")
        }
        // Before the join: registrar 1 enrolls a person, and registers a property whose title
        // document the owner alone may read.
        let registrar = try TestSigner("registrar-1", in: network)
        let newcomer = SigningKey()
        try await commit(try registrar.sign(.enroll(Enroll(party: try PartyID("citizen-77"), publicKey: newcomer.publicKey,
                                                            identityCommitment: .sha256(Array("iin".utf8)), name: "Citizen 77")), cosigners: [newcomer]), at: validators[0])
        let number = try CadastralNumber("05-005-005-8")
        let title = Hash.sha256(Array("title".utf8))
        let owner = try TestSigner("citizen-1", in: network)
        try await commit(try registration(of: number, to: owner, by: registrar), at: validators[0])
        let registered = await validators[0].status().height
        try await settle(validators, sender: owner)

        let follower = try Node(home: network.followerHomes[0], logger: quietLogger)
        let following = start(follower)
        defer { following.cancel() }
        let deadline = ContinuousClock.now + commitTimeout
        while await follower.status().height < (await validators[0].status().height), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        let now = await follower.status().height
        let joinedAt = try follower.firstHeldBlock()
        #expect(joinedAt > registered, "joined at \(joinedAt), registered at \(registered), now \(now)")
        // After it, a bank that learnt the title's hash cites it on a pledge of its own: on the
        // follower that is the first citation it holds.
        try await commit(try TestSigner("bank-1", in: network).sign(.proposePledge(ProposePledge(cadastralNumber: number, loanAmount: Tiyn(1), documents: [title]))),
                         at: follower)

        let integrations = try IntegrationStore(path: network.followerHomes[0].integrationsURL.path)
        for (node, home) in [(follower, network.followerHomes[0]), (validators[1], network.homes[1])] {
            let isFollower = node === follower
            let app = Application(router: NodeAPI.router(node: node, metrics: nil, integrations: isFollower ? integrations
                                                                                                           : try IntegrationStore(path: home.integrationsURL.path)))
            try await app.test(.router) { client in
                let bankSession = try await openSession("bank-1", in: network, client: client)
                let read = try await client.execute(uri: "/v1/documents/\(title.hex)", method: .get, headers: bearer(bankSession)) { $0 }
                // A validator knows the registrar's citation came first; the follower cannot know.
                #expect(isFollower ? read.status == .conflict && code(read) == "document.citations_before_join"
                                   : read.status == .forbidden && code(read) == "auth.not_allowed", "\(read.status) \(code(read) ?? "")")
                let second = try await openSession("registrar-2", in: network, client: client)
                let body = ByteBuffer(string: #"{"email": "citizen77@example.kz", "consent": true}"#)
                let contact = try await client.execute(uri: "/v1/parties/citizen-77/contact", method: .put, headers: bearer(second), body: body) { $0 }
                #expect(isFollower ? contact.status == .conflict && code(contact) == "contact.enrolment_unknown"
                                   : contact.status == .forbidden && code(contact) == "contact.not_the_enrolling_registrar", "\(contact.status) \(code(contact) ?? "")")
                // A party of genesis was enrolled by nobody on chain: any registrar, on any node.
                let genesisParty = try await client.execute(uri: "/v1/parties/citizen-3/contact", method: .put, headers: bearer(second), body: body) { $0 }
                #expect(genesisParty.status == .ok)
            }
        }
    }

    @Test("lying peers in a running network: a forged top and forged records are refused, their senders distrusted, and the pieces fetched from honest peers")
    func lyingPeersAreRefusedAndPiecesFetchedElsewhere() async throws {
        let network = try TestNetwork(validators: 4, followers: 1)
        defer { network.remove() }
        try network.joinByStateSync(follower: 0)
        let validators = try network.homes.map { try Node(home: $0, logger: quietLogger) }
        // Validator 0 forges every top it serves, validator 1 every group of records; 2 and 3 are honest.
        let forgedTops = Tally(), forgedRecords = Tally()
        await validators[0].tamperWithSnapshotAnswers { (answer: PeerMessage) -> PeerMessage in
            guard case let .snapshotTop(version, top) = answer, let at = top.firstIndex(where: { $0 != .empty }) else { return answer }
            forgedTops.add()
            var forged = top
            forged[at] = .subtree(.zero)
            return .snapshotTop(version: version, forged)
        }
        await validators[1].tamperWithSnapshotAnswers { (answer: PeerMessage) -> PeerMessage in
            guard case let .snapshotRecords(version, prefix, groups) = answer,
                  let at = groups.firstIndex(where: { !$0.isEmpty }) else { return answer }
            forgedRecords.add()
            var forged = groups
            let record = forged[at][0]
            forged[at][0] = StateSnapshot.Record(keyHash: record.keyHash, value: record.value + [0])
            return .snapshotRecords(version: version, prefix: prefix, forged)
        }
        let running = validators.map(start)
        defer { for task in running { task.cancel() } }

        let number = try CadastralNumber("05-005-005-6")
        let register = try registration(of: number, to: try TestSigner("citizen-1", in: network), by: try TestSigner("registrar-1", in: network))
        let stored = try #require(try await validators[2].waitForCommit(try await validators[2].submit(register), timeout: commitTimeout))
        #expect(stored.receipt.isCommitted)

        let follower = try Node(home: network.followerHomes[0], logger: quietLogger)
        let following = start(follower)
        defer { following.cancel() }
        let deadline = ContinuousClock.now + commitTimeout
        while ContinuousClock.now < deadline {
            let syncing = await follower.stateSync != nil
            if !syncing, await follower.status().height > stored.height { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(await follower.stateSync == nil, "the follower finished state sync")
        #expect(forgedTops.count >= 1 && forgedRecords.count >= 1, "both liars were asked: \(forgedTops.count) tops, \(forgedRecords.count) record answers forged")
        let distrusted = await follower.unreliableUntil
        #expect(distrusted[ValidatorIndex(0)] != nil && distrusted[ValidatorIndex(1)] != nil, "both liars were distrusted")

        // What it built from the honest pieces is the network's state: the same proof at the same
        // block (the first whose header names the state with the property).
        let at = stored.height.next
        let fromFollower = try #require(try await follower.extractParts(number, atBlock: at))
        let fromHonest = try #require(try await validators[3].extractParts(number, atBlock: at))
        #expect(fromFollower.value == fromHonest.value && fromFollower.proof == fromHonest.proof && fromFollower.header == fromHonest.header)
    }

    @Test("a peer's snapshot requests are answered within a budget: a burst of 32, then 4 a second")
    func snapshotBudget() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let node = try Node(home: network.homes[0], logger: quietLogger)
        let greedy = ValidatorIndex(1), other = ValidatorIndex(2)
        var answered = 0
        for _ in 0..<100 {
            if await node.spendSnapshotAnswer(for: greedy) { answered += 1 }
        }
        // A few may have been earned while the loop ran; far fewer than asked for.
        #expect(answered >= 32 && answered < 40, "\(answered) of 100 answered")
        #expect(await node.spendSnapshotAnswer(for: other), "another peer's budget is its own")
        try await Task.sleep(for: .milliseconds(600))
        #expect(await node.spendSnapshotAnswer(for: greedy), "the budget refills")
    }
}
