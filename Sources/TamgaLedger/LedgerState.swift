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

/// A record key as a dictionary key: hashed once, as one block of bytes, with the process's
/// seeded hasher (so crafted keys cannot make the tables degenerate), then looked up by that value.
struct StateKey: Hashable {
    let bytes: [UInt8]
    private let digest: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var hasher = Hasher()
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        digest = hasher.finalize()
    }

    func hash(into hasher: inout Hasher) { hasher.combine(digest) }
    static func == (lhs: StateKey, rhs: StateKey) -> Bool { lhs.digest == rhs.digest && lhs.bytes == rhs.bytes }
}

/// Records as stored: the project's canonical JSON (`CanonicalJSON`), so that every node writes
/// the same bytes whatever its libraries.
enum RecordCoding {
    static func encode(_ value: some Encodable) -> [UInt8] {
        // The records written by nearly every transaction, in exactly the bytes CanonicalJSON
        // gives them (RecordCodingTests holds the two together).
        switch value {
        case let account as Account: return Array("{\"balance\":\(account.balance.rawValue),\"held\":\(account.held.rawValue)}".utf8)
        case let amount as Tiyn: return Array(String(amount.rawValue).utf8)
        case let number as UInt64: return Array(String(number).utf8)
        default: break
        }
        guard let bytes = try? CanonicalJSON.encode(value) else { preconditionFailure("a ledger record always encodes") }
        return bytes
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
///
/// Records are held decoded: each is decoded from the base at most once per block and encoded
/// once, when the block's updates are produced. That keeps JSON off the per-transaction path.
struct WorkingState {
    enum Entry {
        case present(any Encodable)
        case absent
    }

    /// Records read from the base, shared by the copies of this state made during one block (and,
    /// through a `LedgerStateCache`, kept for the next block).
    final class BaseCache {
        var entries: [StateKey: Entry] = [:]
    }

    let base: any LedgerStateReading
    private let cache: BaseCache
    private(set) var blockWrites: [StateKey: Entry] = [:]
    private var transactionWrites: [StateKey: Entry] = [:]

    init(base: any LedgerStateReading, cache: BaseCache = BaseCache()) {
        self.base = base
        self.cache = cache
    }

    func record<T: Codable>(_ type: T.Type, _ key: [UInt8]) throws -> T? {
        let entry: Entry
        let stateKey = StateKey(key)
        if let written = transactionWrites[stateKey] ?? blockWrites[stateKey] {
            entry = written
        } else if let cached = cache.entries[stateKey] {
            entry = cached
        } else {
            let loaded: Entry = try base.value(forKey: key).map { .present(try RecordCoding.decode(T.self, $0, key: key)) } ?? .absent
            cache.entries[stateKey] = loaded
            entry = loaded
        }
        switch entry {
        case .absent:
            return nil
        case let .present(value):
            // Each key always holds one record type.
            guard let typed = value as? T else { preconditionFailure("record \(String(decoding: key, as: UTF8.self)) read as \(T.self)") }
            return typed
        }
    }

    mutating func put(_ value: some Encodable, at key: [UInt8]) {
        transactionWrites[StateKey(key)] = .present(value)
    }

    mutating func remove(_ key: [UInt8]) {
        transactionWrites[StateKey(key)] = .absent
    }

    /// Refuses the transaction if a record it wrote would be too large for the state map, so that
    /// no committed block can produce an update the node cannot store. The small fixed-size
    /// records written by every transaction are skipped; the limits in `Limits` keep the others
    /// far below this bound, which is the last line, not the rule.
    func checkRecordSizes() throws(Rejection) {
        for (key, entry) in transactionWrites {
            guard case let .present(value) = entry else { continue }
            switch value {
            // The open-deed indexes are bounded by their limits far below the map's value limit
            // (10,000 ids of 67 bytes), and encoding the ledger-wide one for every deed would cost more than it checks.
            case is Account, is Tiyn, is UInt64, is PartyID, is [TransactionID]: continue
            default:
                let size = RecordCoding.encode(value).count
                guard size <= Limits.stateValueBytesMax else {
                    throw Rejection(.recordTooLarge, "record \(String(decoding: key.bytes.prefix(80), as: UTF8.self)) would take \(size) bytes, more than \(Limits.stateValueBytesMax)")
                }
            }
        }
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

    /// The block's writes in key order, encoded: the same list on every node.
    var updates: [StateUpdate] {
        blockWrites.keys.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }.map { key in
            switch blockWrites[key] {
            case let .present(value): StateUpdate(key: key.bytes, value: RecordCoding.encode(value))
            case .absent, nil: StateUpdate(key: key.bytes, value: nil)
            }
        }
    }
}

/// Decoded records of the latest state, kept by the caller between blocks so that a record is
/// decoded once rather than once per block.
///
/// It is tied to a state root: `Ledger.execute` uses it only when told the root of the state it
/// executes on equals the cache's, and empties it otherwise. After applying a block's updates,
/// the caller hands the new root to `advance(to:)`, which folds the block's writes in.
public final class LedgerStateCache {
    /// Records kept at most; beyond this the cache starts again empty.
    public static let recordsMax = 500_000

    fileprivate(set) var root: Hash?
    let records = WorkingState.BaseCache()
    fileprivate var pending: [StateKey: WorkingState.Entry] = [:]

    public init() {}

    /// Records that the block last executed produced the state with `root`.
    public func advance(to root: Hash) {
        guard self.root != nil else { return }
        records.entries.merge(pending) { _, new in new }
        pending = [:]
        self.root = records.entries.count > Self.recordsMax ? nil : root
        if self.root == nil { records.entries = [:] }
    }

    /// The cache for the state with `root`: itself if it matches, emptied otherwise.
    func records(for root: Hash) -> WorkingState.BaseCache {
        if self.root != root {
            records.entries = [:]
            self.root = root
        }
        pending = [:]
        return records
    }

    func keep(_ writes: [StateKey: WorkingState.Entry]) { pending = writes }
}
