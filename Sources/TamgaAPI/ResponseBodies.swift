import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TamgaConsensus
import TamgaCore
import TamgaLedger
import TamgaNode
import TamgaStorage

// The JSON bodies the API answers with. Field names are stable; docs/openapi.json describes them.

struct StatusBody: Encodable {
    struct ValidatorBody: Encodable {
        let index: UInt16
        /// The name genesis gives it; absent for a validator governance added.
        let name: String?
        let publicKey: PublicKey
        let votingPower: UInt64
    }

    struct NodeBody: Encodable {
        /// The node's peer index (a follower's lies past the genesis validators).
        let validator: UInt16
        /// The node does not vote at the next height: it checks and executes every block and
        /// serves the API (a follower, or a validator governance removed).
        let follower: Bool
        let round: UInt32
        let connectedPeers: [UInt16]
        let mempoolTransactions: Int
        let mempoolBytes: Int
        /// The process's peak resident memory (VmHWM), from /proc; nil where there is none.
        let peakMemoryBytes: UInt64?
    }

    let chainId: String
    let genesisHash: Hash
    let height: UInt64
    let latestBlockHash: Hash
    let latestBlockTime: UInt64
    let stateRoot: Hash
    let validators: [ValidatorBody]
    /// The greatest height validators with more than a third of the power report.
    let networkHeight: UInt64
    /// This node is more than a block behind the network: its state reads and submissions answer
    /// 503 `node.catching_up` until it has caught up.
    let catchingUp: Bool
    /// The fee, in tiyn, every transaction must offer at least now.
    let minimumFee: Tiyn
    let node: NodeBody

    init(_ status: NodeStatus) {
        chainId = status.chainID.rawValue
        genesisHash = status.genesisHash
        height = status.height.rawValue
        networkHeight = status.networkHeight.rawValue
        catchingUp = status.catchingUp
        minimumFee = status.minimumFee
        latestBlockHash = status.latestBlockHash
        latestBlockTime = status.latestBlockTime.rawValue
        stateRoot = status.stateRoot
        validators = status.validators.enumerated().map {
            ValidatorBody(index: UInt16($0.offset), name: $0.element.name, publicKey: $0.element.validator.publicKey, votingPower: $0.element.validator.votingPower)
        }
        node = NodeBody(validator: status.validator.rawValue, follower: status.follower, round: status.round.rawValue, connectedPeers: status.connectedPeers.map(\.rawValue),
                        mempoolTransactions: status.mempoolTransactions, mempoolBytes: status.mempoolBytes, peakMemoryBytes: peakMemoryBytes())
    }
}

/// VmHWM from /proc/self/status, in bytes.
func peakMemoryBytes() -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = UInt64(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kilobytes * 1_024
}

struct Page<Item: Encodable>: Encodable {
    let items: [Item]
    /// Pass as `after` (events) or `from` (blocks) for the next page; absent on the last page.
    let next: String?
}

struct EventBody: Encodable {
    let cursor: String
    let height: UInt64
    let transaction: TransactionID
    let kind: String
    let parties: [PartyID]
    let properties: [CadastralNumber]
    let deed: TransactionID?
    let amount: Tiyn?

    init(_ stored: StoredEvent) {
        cursor = stored.cursor.text
        height = stored.cursor.height
        transaction = stored.transaction
        kind = stored.event.kind
        parties = stored.event.parties
        properties = stored.event.properties
        deed = stored.event.deed
        amount = stored.event.amount
    }
}

struct ChallengeBody: Encodable {
    let challenge: String
    let expiresInSeconds: Int
    /// Exactly the text to sign (UTF-8) with one of the party's keys.
    let signText: String
}

struct SessionRequest: Decodable {
    let party: String
    let keyId: String
    let challenge: String
    let signature: String
}

struct SessionBody: Encodable {
    let token: String
    let party: PartyID
    let roles: [Role]
    let expiresInSeconds: Int
}

struct PropertiesBody: Encodable {
    let party: PartyID
    let properties: [CadastralNumber]
}

/// What anyone may know of the genesis: the chain, its time, the validators extracts are checked
/// against and the starting parameters; the genesis parties' names, identity commitments and
/// balances are not public.
struct GenesisBody: Encodable {
    let format: String
    let chainId: String
    let genesisTime: UInt64
    let validators: [GenesisFile.ValidatorEntry]
    let parameters: TamgaLedger.Parameters

    init(_ genesis: GenesisFile) {
        format = genesis.format
        chainId = genesis.chainID.rawValue
        genesisTime = genesis.genesisTime.rawValue
        validators = genesis.validators
        parameters = genesis.parameters
    }
}

struct DeedsBody: Encodable {
    let party: PartyID
    /// The open deeds that name the party, oldest first.
    let deeds: [Deed]
}

struct AccountBody: Encodable {
    let party: PartyID
    let balance: Tiyn
    let held: Tiyn
}

struct PassportReadBody: Encodable {
    let cadastralNumber: String
    let reader: String
    let at: UInt64
}

struct NotificationsBody: Encodable {
    let events: [EventBody]
    let next: String?
    let passportReads: [PassportReadBody]
}

/// The public part of a party: roles, keys (needed to check its signatures) and its last nonce.
/// Names and identity commitments are not public.
struct PartyBody: Encodable {
    let id: PartyID
    let roles: [Role]
    let keys: [PublicKey]
    let nonce: UInt64
}

/// Where a transaction stands. `receipt` (what it did, or why it was refused) only for those
/// who may see it; `dropped` carries the code and reason of a transaction that left the mempool
/// uncommitted.
struct TransactionBody: Encodable {
    struct Dropped: Encodable {
        let code: String
        let reason: String
    }

    let id: TransactionID
    let status: String
    let height: UInt64?
    let position: Int?
    let receipt: Receipt?
    let dropped: Dropped?

    init(id: TransactionID, status: TransactionStatus, showingReceipt: Bool = false) {
        self.id = id
        var stored: StoredReceipt?
        var dropped: Dropped?
        switch status {
        case .pending: self.status = "pending"
        case .unknown: self.status = "unknown"
        case let .dropped(code, reason):
            self.status = "dropped"
            dropped = Dropped(code: code, reason: reason)
        case let .committed(receipt):
            self.status = receipt.receipt.isCommitted ? "committed" : "rejected"
            stored = receipt
        }
        height = stored?.height.rawValue
        position = stored?.position
        receipt = showingReceipt ? stored?.receipt : nil
        self.dropped = dropped
    }
}

struct BlockBody: Encodable {
    struct HeaderBody: Encodable {
        let height: UInt64
        let hash: Hash
        let time: UInt64
        let previousBlockHash: Hash
        let lastCommitHash: Hash
        let transactionsRoot: Hash
        let evidenceRoot: Hash
        let stateRoot: Hash
        let validatorSetHash: Hash
        let proposer: UInt16
    }

    struct CommitBody: Encodable {
        let round: UInt32
        let signatures: [SignatureBody]
    }

    struct SignatureBody: Encodable {
        let validator: UInt16
        let timestamp: UInt64
        let signature: String
    }

    struct TransactionEntry: Encodable {
        let id: TransactionID
        let status: String
        let rejectionCode: String?
    }

    let header: HeaderBody
    let transactions: [TransactionEntry]
    let evidence: Int
    /// The commit that finalized this block.
    let commit: CommitBody

    init(block: Block, commit: Commit, receipts: [Receipt]) {
        let header = block.header
        self.header = HeaderBody(
            height: header.height.rawValue, hash: block.hash, time: header.time.rawValue, previousBlockHash: header.previousBlockHash,
            lastCommitHash: header.lastCommitHash, transactionsRoot: header.transactionsRoot, evidenceRoot: header.evidenceRoot,
            stateRoot: header.stateRoot, validatorSetHash: header.validatorSetHash, proposer: header.proposer.rawValue)
        transactions = receipts.map { TransactionEntry(id: $0.transaction, status: $0.isCommitted ? "committed" : "rejected", rejectionCode: $0.rejectionCode) }
        evidence = block.evidence.count
        self.commit = CommitBody(round: commit.round.rawValue, signatures: commit.signatures.map {
            SignatureBody(validator: $0.validator.rawValue, timestamp: $0.timestamp.rawValue, signature: Hex.encode($0.signature.bytes))
        })
    }
}

/// A property for sale: the listing and what a buyer sees before asking for more.
struct OfferBody: Encodable {
    let cadastralNumber: CadastralNumber
    let price: Tiyn
    let listedAt: UInt64
    let kind: String
    let address: String
    let area: AreaHundredths
    let encumbered: Bool
    /// The owners who listed it, with their shares: the sellers a buyer deals with.
    let owners: [Ownership]

    init(listing: Listing, passport: Passport) {
        cadastralNumber = listing.cadastralNumber
        price = listing.price
        listedAt = listing.listedAt.rawValue
        kind = passport.kind
        address = passport.address
        area = passport.area
        encumbered = !passport.restrictions.isEmpty
        owners = listing.owners
    }
}
