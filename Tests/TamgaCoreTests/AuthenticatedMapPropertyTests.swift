import PropertyBased
import TamgaCore
import Testing

/// An operation code drawn by the generator: key = code % 40, value = code / 40; value 0 deletes.
private func update(_ code: Int) -> StateUpdate {
    let value = code / 40
    return StateUpdate(key: key("k\(code % 40)"), value: value == 0 ? nil : key("v\(value)"))
}

private let operations = Gen.int(in: 0...199).array(of: 0...60)

@Suite struct AuthenticatedMapPropertyTests {
    /// The root does not depend on the order of updates to distinct keys, nor on how they are split into versions.
    @Test func rootIsIndependentOfUpdateOrder() async {
        await propertyCheck(count: 200, input: operations) { codes in
            // Keep one update per key so that order within the batch cannot matter by definition.
            var seen: Set<Int> = []
            let distinct = codes.filter { seen.insert($0 % 40).inserted }.map(update)
            let oneBatch = AuthenticatedMap(store: InMemoryTreeNodeStore())
            let expected = try! oneBatch.apply(distinct, as: 1)

            let reversed = AuthenticatedMap(store: InMemoryTreeNodeStore())
            #expect(try! reversed.apply(distinct.reversed(), as: 1) == expected)

            let chunked = AuthenticatedMap(store: InMemoryTreeNodeStore())
            var version: UInt64 = 0
            var root = Hash.zero
            for start in stride(from: 0, to: distinct.count, by: 3) {
                version += 1
                root = try! chunked.apply(Array(distinct.reversed()[start..<min(start + 3, distinct.count)]), as: version)
            }
            #expect(root == expected)
        }
    }

    /// Every proof the map produces verifies, and says what a plain dictionary says.
    @Test func everyProducedProofVerifies() async {
        await propertyCheck(count: 150, input: operations, operations) { first, second in
            let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
            var model: [String: [UInt8]] = [:]
            for (version, codes) in [first, second].enumerated() {
                let updates = codes.map(update)
                for entry in updates { model[String(decoding: entry.key, as: UTF8.self)] = entry.value }
                let root = try! map.apply(updates, as: UInt64(version + 1))
                for index in 0..<40 {
                    let name = key("k\(index)")
                    let (value, proof) = try! map.proof(forKey: name, at: UInt64(version + 1))
                    #expect(value == model["k\(index)"])
                    // The store's flat index of the latest version agrees with the tree.
                    #expect(try! map.value(forKey: name, at: UInt64(version + 1)) == value)
                    if let value {
                        #expect(throws: Never.self) { try proof.verifyInclusion(key: name, value: value, root: root) }
                    } else {
                        #expect(throws: Never.self) { try proof.verifyExclusion(key: name, root: root) }
                    }
                }
            }
        }
    }

    /// A proof from one version does not verify against another version's root where the record differs.
    @Test func proofsAreBoundToTheirVersion() async {
        await propertyCheck(count: 150, input: operations, Gen.int(in: 0...39)) { codes, index in
            let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
            let name = key("k\(index)")
            try! map.apply(codes.map(update) + [StateUpdate(key: name, value: key("before"))], as: 1)
            try! map.apply([StateUpdate(key: name, value: key("after"))], as: 2)
            let (old, proof) = try! map.proof(forKey: name, at: 1)
            #expect(old == key("before"))
            #expect(throws: StateProofError.self) { try proof.verifyInclusion(key: name, value: key("before"), root: try! map.rootHash(at: 2)) }
            let (_, newProof) = try! map.proof(forKey: name, at: 2)
            #expect(throws: StateProofError.self) { try newProof.verifyInclusion(key: name, value: key("after"), root: try! map.rootHash(at: 1)) }
        }
    }
}
