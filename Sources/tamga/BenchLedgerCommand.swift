import ArgumentParser
import Foundation
import TamgaCore
import TamgaLedger
import TamgaSimulation

/// Signatures are checked when transactions enter the mempool; this benchmark measures what
/// happens after that, so its verifier accepts every signature. It exists only here.
struct AlreadyVerified: SignatureVerifying {
    func isValid(_ signature: Signature, by key: PublicKey, for message: [UInt8]) -> Bool { true }
}

extension BenchCommand {
    struct LedgerExecution: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ledger",
            abstract: "Ledger execution alone (signatures verified and payloads decoded at mempool admission), with the state root per block. Build with -c release."
        )

        @Option(help: "Transactions to execute.")
        var transactions = 100_000

        @Option(help: "Transactions per block; the state root is computed once per block.")
        var block = 1_000

        @Option(help: "Enrolled citizens.")
        var citizens = 10_000

        func validate() throws {
            guard transactions > 0, block > 0, citizens >= 10 else { throw ValidationError("counts must be positive, and at least 10 citizens") }
        }

        func run() throws {
            #if DEBUG
            print("note: this is a debug build; run `swift run -c release tamga bench ledger` for real numbers")
            #endif
            let chain = try ChainID("tamga-bench")
            let store = InMemoryTreeNodeStore()
            let map = AuthenticatedMap(store: store)
            let ledger = Ledger(chainID: chain, verifier: AlreadyVerified())
            var random = SplitMix64(seed: 0x6c65_6467_6572)
            let registrarKey = SigningKey(), courtKey = SigningKey()
            let registrar = try PartyID("registrar-1"), court = try PartyID("court-1")
            var keys: [PartyID: SigningKey] = [registrar: registrarKey, court: courtKey]
            var parties = [
                Genesis.Party(id: registrar, name: "registrar", roles: [.registrar], keys: [registrarKey.publicKey], identityCommitment: .zero, openingBalance: Tiyn(1_000_000_000)),
                Genesis.Party(id: court, name: "court", roles: [.court], keys: [courtKey.publicKey], identityCommitment: .zero, openingBalance: Tiyn(1_000_000_000)),
            ]
            let citizenIDs = try (0..<citizens).map { try PartyID("citizen-\($0)") }
            for id in citizenIDs {
                let key = try SigningKey(seed: Hash.sha256(Array(id.rawValue.utf8)).bytes)
                keys[id] = key
                parties.append(Genesis.Party(id: id, name: id.rawValue, roles: [.citizen], keys: [key.publicKey], identityCommitment: .zero, openingBalance: Tiyn(1_000_000_000)))
            }
            var version: UInt64 = 1
            try map.apply(Genesis(parties: parties, parameters: Parameters(minimumFee: Tiyn(10))).stateUpdates(), as: version)
            var nonces: [PartyID: UInt64] = [:]
            var time: UInt64 = 1_764_000_000_000
            func envelope(_ signer: PartyID, _ action: Action) throws -> SignedEnvelope {
                nonces[signer, default: 0] += 1
                let payload = TransactionPayload(chainID: chain, signer: signer, nonce: nonces[signer] ?? 1, fee: Tiyn(10),
                                                 expiresAt: Timestamp(millisecondsSinceEpoch: time + 10_000_000_000), action: action)
                guard let key = keys[signer] else { throw CommandFailure("no key for \(signer)") }
                return try SignedEnvelope.signing(payload.encoded(), with: [key])
            }
            let cache = LedgerStateCache()
            var root = try map.rootHash(at: version)
            func execute(_ block: [PreparedTransaction]) throws -> Int {
                time += 1_000
                let outcome = try ledger.execute(block, blockTime: Timestamp(millisecondsSinceEpoch: time), state: MapSnapshot(map: map, version: version),
                                                 cache: (cache, root))
                version += 1
                root = try map.apply(outcome.updates, as: version)
                cache.advance(to: root)
                // A node keeps a window of recent versions, not all of them.
                if version > 100 { store.prune(keepingFrom: version - 99) }
                return outcome.receipts.filter(\.isCommitted).count
            }

            // Setup (not measured): one property per citizen.
            let numbers = try citizenIDs.indices.map { try CadastralNumber(String(format: "%02d-%03d-%03d-%d", $0 % 17 + 1, $0 % 999 + 1, $0 % 997 + 1, $0)) }
            var owner: [CadastralNumber: PartyID] = [:]
            for chunk in stride(from: 0, to: citizens, by: block) {
                let batch = try (chunk..<min(chunk + block, citizens)).map { index in
                    owner[numbers[index]] = citizenIDs[index]
                    return try envelope(registrar, .registerProperty(RegisterProperty(
                        cadastralNumber: numbers[index], kind: "apartment", address: "Astana, street \(index)", area: AreaHundredths(7_000),
                        location: nil, owners: [Ownership(party: citizenIDs[index], share: .whole)], titleDocumentHash: .sha256(Array("title \(index)".utf8)))))
                }
                _ = try execute(batch.map(PreparedTransaction.init))
            }

            // The mix: 60% transfers, 15% listings, 15% purchases of listed properties, 10% arrests and lifts.
            var listed: [CadastralNumber] = []
            var arrested: [(CadastralNumber, TransactionID)] = []
            var envelopes: [SignedEnvelope] = []
            for _ in 0..<transactions {
                let roll = random.next() % 100
                let citizen = citizenIDs[Int(random.next() % UInt64(citizens))]
                let envelopeToAdd: SignedEnvelope
                if roll < 15, let number = listed.popLast(), let seller = owner[number], seller != citizen {
                    envelopeToAdd = try envelope(citizen, .buy(Buy(cadastralNumber: number, price: Tiyn(50_000))))
                    owner[number] = citizen
                } else if roll < 30, let number = numbers.randomElement(using: &random), let current = owner[number], !listed.contains(number) {
                    envelopeToAdd = try envelope(current, .list(ListProperty(cadastralNumber: number, price: Tiyn(50_000))))
                    listed.append(number)
                } else if roll < 35, let number = numbers.randomElement(using: &random) {
                    let arrest = try envelope(court, .imposeArrest(ImposeArrest(cadastralNumber: number, orderHash: .sha256(Array("order".utf8)))))
                    arrested.append((number, arrest.transactionID))
                    envelopeToAdd = arrest
                } else if roll < 40, let (number, arrest) = arrested.popLast() {
                    envelopeToAdd = try envelope(court, .liftArrest(LiftArrest(cadastralNumber: number, arrest: arrest, orderHash: .sha256(Array("lift".utf8)))))
                } else {
                    let to = citizenIDs[Int(random.next() % UInt64(citizens))]
                    envelopeToAdd = try envelope(citizen, .transfer(Transfer(to: to == citizen ? registrar : to, amount: Tiyn(random.next() % 10_000 + 1))))
                }
                envelopes.append(envelopeToAdd)
            }
            // Decoding the payloads is admission's work, measured apart from execution.
            var prepared: [PreparedTransaction] = []
            prepared.reserveCapacity(transactions)
            let decoding = measure { for envelope in envelopes { prepared.append(PreparedTransaction(envelope)) } }
            let blocks = stride(from: 0, to: prepared.count, by: block).map { Array(prepared[$0..<min($0 + block, prepared.count)]) }

            var committed = 0
            let seconds = try measure {
                for transactions in blocks { committed += try execute(transactions) }
            }
            print("ledger execution, \(transactions) transactions in blocks of \(block), state root per block, \(citizens) parties, 100 versions kept")
            print("  \(String(format: "%.0f", Double(transactions) / seconds)) transactions/s (\(committed) committed, \(transactions - committed) rejected) in \(String(format: "%.2f", seconds)) s")
            print("payloads decoded (strict JSON, as at admission): \(String(format: "%.0f", Double(transactions) / decoding))/s")
        }
    }
}
