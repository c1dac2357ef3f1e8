public import TamgaCore
public import TamgaConsensus
import TamgaLedger
import TamgaStorage
import Foundation

/// What `NodeAudit.run` checked.
public struct AuditReport: Sendable {
    /// The last stored block.
    public let height: Height
    public let blocks: Int
    /// Records in the latest state, each reached through nodes whose hashes were all checked.
    public let records: Int
    /// The root of the latest state (the state after the last block).
    public let stateRoot: Hash
}

/// The full check of a node's folder that a start skips: every stored block and commit, and every
/// node of the latest state. A node starts in seconds by checking only what it builds on
/// (`Node.init`); this reads everything, for an operator who suspects the disk or an insider.
public enum NodeAudit {
    /// Checks, in order: every block from the first this node holds links to its predecessor and
    /// to its transactions, is stored under its own hash, and carries a commit signed by more than
    /// two thirds of the validators of its height (each stored validator set the one its handover
    /// proves), and every kept state version has the root its block's header
    /// names; executing the last block again gives the stored latest state; and every node of that
    /// state hashes to what its parent names. Stops at the first fault, with a
    /// `StorageError.integrity` that says where.
    public static func run(home: NodeHome, progress: (String) -> Void = { _ in }) throws -> AuditReport {
        guard FileManager.default.fileExists(atPath: home.databaseURL.path) else {
            throw NodeFileError.malformed(file: home.databaseURL.path, reason: "there is no database here; this folder has never run a node")
        }
        let genesis = try home.loadGenesis()
        let validators = try genesis.validatorSet()
        let store = try NodeStore(path: home.databaseURL.path)
        try store.bind(toGenesis: genesis.hash)
        let height = try store.lastHeight()
        let stored = try store.validatorSets()
        let sets = ValidatorSets(genesis: validators, stored: stored, executed: height)
        // Each stored set with its proof must be the one its handover, followed from genesis, proves.
        let handovers = stored.compactMap(\.handover)
        do {
            let proven = try ValidatorHandover.follow(handovers, from: validators, chain: genesis.chainID)
            for entry in stored where entry.handover != nil && proven.validators(at: entry.from) != entry.validators {
                throw StorageError.integrity("the validator set stored from height \(entry.from) is not the one its handover proves")
            }
        } catch let error as ValidatorHandover.Failure {
            throw StorageError.integrity(error.message)
        }

        // A node that joined by state sync holds blocks from the one it joined at; that block's
        // predecessor is vouched for by its commit alone.
        let base = try store.baseHeight()
        var previous: Block?
        var next = base
        while next <= height {
            // A few blocks at a time: a full block is megabytes, decoded.
            let page = try store.blocks(from: next, limit: 16)
            guard !page.isEmpty else { throw StorageError.integrity("block \(next) is missing") }
            for (block, commit) in page {
                let header = block.header
                guard header.height == next, header.chainID == genesis.chainID else {
                    throw StorageError.integrity("block \(next) is missing or stored as height \(header.height)")
                }
                let previousHash = previous?.hash ?? (next == Height(1) ? .zero : header.previousBlockHash)
                guard header.previousBlockHash == previousHash, header.transactionsRoot == Block.transactionsRoot(block.transactions),
                      (block.lastCommit?.blockHash ?? .zero) == previousHash
                else { throw StorageError.integrity("block \(next) does not link to block \(next.rawValue - 1) or to its own transactions") }
                guard try store.blockHash(at: next) == block.hash else { throw StorageError.integrity("block \(next) is stored under another hash") }
                // Every kept state version is the one its block's header names.
                if let root = try store.storedRoot(version: next.rawValue), root != header.stateRoot {
                    throw StorageError.integrity("the stored state of block \(next) has root \(root), but its header names \(header.stateRoot)")
                }
                guard header.validatorSetHash == sets.validators(at: next).hash else {
                    throw StorageError.integrity("block \(next) names validator set \(header.validatorSetHash), not the one of its height")
                }
                do {
                    try commit.verify(blockHash: block.hash, height: next, chainID: genesis.chainID, validators: sets.validators(at: next))
                } catch {
                    throw StorageError.integrity("the commit of block \(next) does not verify: \(error.message)")
                }
                previous = block
                next = next.next
            }
            if next.rawValue % 10_240 == 1 { progress("blocks checked: \(next.rawValue - base.rawValue) of \(height.rawValue - base.rawValue + 1)") }
        }
        let blocks = height.rawValue >= base.rawValue ? Int(height.rawValue - base.rawValue + 1) : 0
        progress("blocks checked: \(blocks), from \(base) to \(height)")

        let tree = try DiskTreeNodeStore(store, cacheBytes: 64 << 20)
        let map = AuthenticatedMap(store: tree)
        var records = 0
        do {
            if let previous {
                let named = try map.rootHash(at: height.rawValue)
                guard named == previous.header.stateRoot else {
                    throw StorageError.integrity("state version \(height.rawValue) hashes to \(named), but block \(height) names \(previous.header.stateRoot)")
                }
                try map.checkRoot(version: height.rawValue)
            } else {
                let expected = try AuthenticatedMap(store: InMemoryTreeNodeStore()).apply(genesis.ledgerGenesis.stateUpdates(), as: 1)
                guard try map.rootHash(at: 1) == expected else { throw StorageError.integrity("the stored genesis state is not the genesis file's") }
            }
            // The latest state, which no header names yet: executing the last block again gives it.
            if let previous {
                let outcome = try Ledger(chainID: genesis.chainID, verifier: DirectVerifier())
                    .execute(previous.transactions, blockTime: previous.header.time, state: MapSnapshot(map: map, version: height.rawValue))
                let recomputed = try AuthenticatedMap(store: UnsavedVersionStore(tree, on: height.rawValue)).apply(outcome.updates, as: height.rawValue + 1)
                guard try map.rootHash(at: height.rawValue + 1) == recomputed else {
                    throw StorageError.integrity("the stored state after block \(height) is not what executing the block gives (\(recomputed))")
                }
            }
            try map.audit(version: height.rawValue + 1) { _, _ in
                records += 1
                if records % 1_000_000 == 0 { progress("records checked: \(records)") }
            }
            return AuditReport(height: height, blocks: blocks, records: records, stateRoot: try map.rootHash(at: height.rawValue + 1))
        } catch let error as StateTreeError {
            throw StorageError.integrity(error.message)
        } catch let error as LedgerStateError {
            throw StorageError.integrity(error.description)
        }
    }
}
