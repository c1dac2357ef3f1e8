import ArgumentParser
import Foundation
import TamgaCore
import TamgaSimulation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Tamga's throughput and print the numbers (a running network by default).",
        subcommands: [NetworkLoad.self, Flood.self, Primitives.self, LedgerExecution.self, Webhooks.self, Scale.self],
        defaultSubcommand: NetworkLoad.self
    )

    struct Primitives: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Signatures, state-map updates and state proofs, on one core. Build with -c release."
        )

        @Option(help: "Records in the state map before updates are measured.")
        var keys = 1_000_000

        @Option(help: "Updates per version (one block's worth of writes).")
        var batch = 1_000

        @Option(help: "Versions of updates to measure.")
        var versions = 200

        @Option(help: "Versions the map retains while updating (older ones are pruned, as a node does); 0 keeps all.")
        var retain = 100

        @Option(help: "Signatures to sign and verify.")
        var signatures = 20_000

        @Option(help: "Proofs to produce and verify.")
        var proofs = 100_000

        func validate() throws {
            guard keys > 0, batch > 0, versions > 0, signatures > 0, proofs > 0, retain >= 0 else {
                throw ValidationError("every count must be positive")
            }
        }

        func run() throws {
            #if DEBUG
            print("note: this is a debug build; run `swift run -c release tamga bench primitives` for real numbers")
            #endif
            try measureSignatures()
            try measureStateMap()
        }

        private func measureSignatures() throws {
            let key = SigningKey()
            let messages = (0..<signatures).map { Array("{\"chainId\":\"bench\",\"nonce\":\($0),\"fee\":100,\"body\":\"\(String(repeating: "x", count: 150))\"}".utf8) }
            var signed: [Signature] = []
            signed.reserveCapacity(signatures)
            let signing = measure { for message in messages { signed.append(key.sign(message)) } }
            report("ed25519 sign", count: signatures, seconds: signing)
            var valid = 0
            let verifying = measure {
                for (message, signature) in zip(messages, signed) where key.publicKey.isValidSignature(signature, for: message) {
                    valid += 1
                }
            }
            guard valid == signatures else { throw CommandFailure("\(signatures - valid) signatures failed to verify") }
            report("ed25519 verify (pinned rules)", count: signatures, seconds: verifying)
        }

        private func measureStateMap() throws {
            var random = SplitMix64(seed: 0x7461_6d67_61)
            let store = InMemoryTreeNodeStore()
            let map = AuthenticatedMap(store: store)
            let value = Array(repeating: UInt8(0xab), count: 120)
            func recordKey(_ index: Int) -> [UInt8] { Array("record/\(index)".utf8) }

            var version: UInt64 = 0
            let loadBatch = 20_000
            let loading = try measure {
                var next = 0
                while next < keys {
                    let end = min(next + loadBatch, keys)
                    version += 1
                    try map.apply((next..<end).map { StateUpdate(key: recordKey($0), value: value) }, as: version)
                    next = end
                }
            }
            report("map load (batches of \(loadBatch))", count: keys, seconds: loading)

            // Four updates to existing records for every new record, as a registry's blocks mostly change state.
            // The first `retain` batches are not timed: they fill the retained window with update
            // versions (and free the loading's), so that each timed version frees what one made
            // stale `retain` versions earlier, as a node does in its steady state.
            var inserted = keys
            let batches: [[StateUpdate]] = (0..<(retain + versions)).map { _ in
                (0..<batch).map { _ in
                    if random.next() % 5 == 0 {
                        inserted += 1
                        return StateUpdate(key: recordKey(inserted - 1), value: value)
                    }
                    var changed = value
                    changed[0] = UInt8(truncatingIfNeeded: random.next())
                    return StateUpdate(key: recordKey(Int(random.next() % UInt64(keys))), value: changed)
                }
            }
            func apply(_ updates: [StateUpdate]) throws {
                version += 1
                try map.apply(updates, as: version)
                if retain > 0, version > UInt64(retain) { store.prune(keepingFrom: version - UInt64(retain) + 1) }
            }
            for updates in batches.prefix(retain) { try apply(updates) }
            let updating = try measure {
                for updates in batches.dropFirst(retain) { try apply(updates) }
            }
            let retained = retain > 0 ? "\(retain) versions kept" : "all versions kept"
            report("map updates at \(keys) keys (batch \(batch), root per batch, \(retained))", count: versions * batch, seconds: updating)

            let root = try map.rootHash(at: version)
            let queried = (0..<proofs).map { index in
                // Half present, half absent.
                index % 2 == 0 ? recordKey(Int(random.next() % UInt64(inserted))) : Array("absent/\(index)".utf8)
            }
            var produced: [(key: [UInt8], value: [UInt8]?, proof: StateProof)] = []
            produced.reserveCapacity(proofs)
            let proving = try measure {
                for key in queried {
                    let (found, proof) = try map.proof(forKey: key, at: version)
                    produced.append((key, found, proof))
                }
            }
            report("proofs produced", count: proofs, seconds: proving)
            let depth = produced.reduce(0) { $0 + $1.proof.siblings.count } / proofs
            var failures = 0
            let verifying = measure {
                for entry in produced {
                    do {
                        if let found = entry.value {
                            try entry.proof.verifyInclusion(key: entry.key, value: found, root: root)
                        } else {
                            try entry.proof.verifyExclusion(key: entry.key, root: root)
                        }
                    } catch {
                        failures += 1
                    }
                }
            }
            guard failures == 0 else { throw CommandFailure("\(failures) proofs failed to verify") }
            report("proofs verified (mean \(depth) siblings)", count: proofs, seconds: verifying)
        }
    }
}

/// Seconds that `body` takes.
func measure(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    return (clock.now - start).inSeconds
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

private func report(_ name: String, count: Int, seconds: Double) {
    let rate = Double(count) / seconds
    // Padded to line the rates up, never cut.
    let padded = name.count < 58 ? name.padding(toLength: 58, withPad: " ", startingAt: 0) : name
    print("\(padded) \(String(format: "%12.0f", rate)) /s   (\(count) in \(String(format: "%.2f", seconds)) s)")
}
