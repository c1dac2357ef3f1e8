public import TamgaCore
import Foundation

/// Read access to ledger state at one version. The node reads the authenticated map; tests may too.
public protocol LedgerStateReading {
    func value(forKey key: [UInt8]) throws -> [UInt8]?
}

/// The authenticated map at one version, as ledger state.
public struct MapSnapshot<Store: TreeNodeStore>: LedgerStateReading {
    public let map: AuthenticatedMap<Store>
    public let version: UInt64

    public init(map: AuthenticatedMap<Store>, version: UInt64) {
        self.map = map
        self.version = version
    }

    public func value(forKey key: [UInt8]) throws -> [UInt8]? { try map.value(forKey: key, at: version) }
}

/// Why the ledger could not read its state: an operating failure, not a rejected transaction.
public struct LedgerStateError: Error, CustomStringConvertible {
    public let description: String
}

/// Records as stored: canonical JSON (sorted keys), so that every node writes the same bytes.
enum RecordCoding {
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { preconditionFailure("a ledger record always encodes") }
        return Array(data)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], key: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            // State that does not decode was not written by this ledger: the store is damaged.
            throw LedgerStateError(description: "record \(String(decoding: key, as: UTF8.self)) does not decode as \(T.self): \(error)")
        }
    }
}

/// The state seen while executing a block: the base version plus the block's writes so far,
/// plus the current transaction's writes, which are kept only if it succeeds.
struct WorkingState {
    let base: any LedgerStateReading
    private(set) var blockWrites: [[UInt8]: [UInt8]?] = [:]
    private var transactionWrites: [[UInt8]: [UInt8]?] = [:]

    init(base: any LedgerStateReading) { self.base = base }

    func bytes(_ key: [UInt8]) throws -> [UInt8]? {
        if let written = transactionWrites[key] { return written }
        if let written = blockWrites[key] { return written }
        return try base.value(forKey: key)
    }

    func record<T: Decodable>(_ type: T.Type, _ key: [UInt8]) throws -> T? {
        try bytes(key).map { try RecordCoding.decode(T.self, $0, key: key) }
    }

    mutating func put(_ value: some Encodable, at key: [UInt8]) {
        transactionWrites[key] = .some(RecordCoding.encode(value))
    }

    mutating func remove(_ key: [UInt8]) {
        transactionWrites[key] = .some(nil)
    }

    /// Keeps the current transaction's writes.
    mutating func keepTransaction() {
        blockWrites.merge(transactionWrites) { _, new in new }
        transactionWrites = [:]
    }

    /// Drops the current transaction's writes.
    mutating func dropTransaction() {
        transactionWrites = [:]
    }

    /// The block's writes in key order: the same list on every node.
    var updates: [StateUpdate] {
        blockWrites.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { StateUpdate(key: $0, value: blockWrites[$0] ?? nil) }
    }
}
