import TamgaCore
import Testing

/// RFC 6962 §2.1 written as the RFC states it (recursive split at the largest power of two), as a
/// reference for the iterative implementation.
private enum Reference {
    static func root(_ items: ArraySlice<Hash>) -> Hash {
        switch items.count {
        case 0: return .sha256([])
        case 1: return MerkleTree.leafHash(items[items.startIndex])
        default:
            let split = largestPowerOfTwo(below: items.count)
            return .combining(.merkleNode, root(items.prefix(split)), root(items.dropFirst(split)))
        }
    }

    static func path(_ index: Int, _ items: ArraySlice<Hash>) -> [Hash] {
        guard items.count > 1 else { return [] }
        let split = largestPowerOfTwo(below: items.count)
        if index < split { return path(index, items.prefix(split)) + [root(items.dropFirst(split))] }
        return path(index - split, items.dropFirst(split)) + [root(items.prefix(split))]
    }

    static func largestPowerOfTwo(below n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }
}

@Suite struct MerkleTreeTests {
    static func items(_ count: Int) -> [Hash] { (0..<count).map { Hash.sha256(Array("tx-\($0)".utf8)) } }

    @Test func knownRoots() {
        #expect(MerkleTree.root(of: []).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // From scripts/encoding_vectors.py.
        #expect(MerkleTree.root(of: [filled(1), filled(2), filled(3)]).hex == "df896896c799531f1fd1e556cea26a6989ab06853bcbfdd3e4f5097a611f658f")
    }

    @Test(arguments: Array(0...33) + [64, 100, 127, 128, 129])
    func rootsAndProofsMatchTheRFC(_ count: Int) throws {
        let items = Self.items(count)
        let root = MerkleTree.root(of: items)
        #expect(root == Reference.root(items[...]))
        for index in 0..<count {
            let proof = MerkleTree.proof(of: items, index: index)
            #expect(proof.path == Reference.path(index, items[...]))
            try proof.verify(item: items[index], root: root)
            #expect(try MerkleProof.decode(proof.encoded()) == proof)
        }
    }

    @Test func mutatedProofsAreRejected() throws {
        let items = Self.items(13)
        let root = MerkleTree.root(of: items)
        let proof = MerkleTree.proof(of: items, index: 6)
        try proof.verify(item: items[6], root: root)

        var wrongSibling = proof.path
        wrongSibling[1] = filled(0xaa)
        #expect(throws: MerkleProofError.rootMismatch) { try MerkleProof(leafIndex: 6, treeSize: 13, path: wrongSibling).verify(item: items[6], root: root) }
        #expect(throws: MerkleProofError.rootMismatch) { try proof.verify(item: items[7], root: root) }
        #expect(throws: MerkleProofError.rootMismatch) { try proof.verify(item: items[6], root: filled(0)) }
        #expect(throws: MerkleProofError.pathTooShort) { try MerkleProof(leafIndex: 6, treeSize: 13, path: proof.path.dropLast()).verify(item: items[6], root: root) }
        #expect(throws: MerkleProofError.pathTooLong) { try MerkleProof(leafIndex: 6, treeSize: 13, path: proof.path + [filled(1)]).verify(item: items[6], root: root) }
        // Swapped left and right: the same path claimed for the neighbouring position.
        #expect(throws: MerkleProofError.rootMismatch) { try MerkleProof(leafIndex: 7, treeSize: 13, path: proof.path).verify(item: items[6], root: root) }
        #expect(throws: MerkleProofError.rootMismatch) { try MerkleProof(leafIndex: 6, treeSize: 13, path: proof.path.reversed()).verify(item: items[6], root: root) }
        #expect(throws: MerkleProofError.indexOutOfRange) { try MerkleProof(leafIndex: 13, treeSize: 13, path: proof.path).verify(item: items[6], root: root) }
        // A leaf cannot pass for an inner node: the internal node hash is not a valid item proof.
        let inner = Hash.combining(.merkleNode, MerkleTree.leafHash(items[0]), MerkleTree.leafHash(items[1]))
        #expect(throws: (any Error).self) { try MerkleProof(leafIndex: 0, treeSize: 12, path: Array(MerkleTree.proof(of: items, index: 0).path.dropFirst())).verify(item: inner, root: root) }
    }
}
