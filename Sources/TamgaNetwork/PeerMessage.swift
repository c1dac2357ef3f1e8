public import TamgaConsensus
public import TamgaCore

/// What validators say to each other. Each frame carries one message:
/// `u8 protocol version (1) ‖ u8 kind ‖ fields`, laid out in docs/encoding.md.
public enum PeerMessage: Hashable, Sendable {
    /// The first message on a connection: who is speaking (checked against the TLS certificate's
    /// key), which chain, and how far its chain goes.
    case hello(Hello)
    /// A signed proposal with the block it names.
    case proposal(SignedProposal, Block)
    case vote(SignedVote)
    /// Transactions for the mempools of other validators.
    case transactions([SignedEnvelope])
    /// The sender's last decided height, sent now and then so that a lagging peer learns it is behind.
    case status(height: Height)
    /// Asks for up to `count` decided blocks from `from` on.
    case blocksRequest(from: Height, count: UInt16)
    /// Decided blocks, each with the commit that finalized it.
    case blocks([DecidedBlock])
    /// Asks for a source document by its SHA-256.
    case documentRequest(Hash)
    /// A source document sent in answer: its media type and bytes (which must hash to `hash`).
    case document(hash: Hash, mediaType: String, content: [UInt8])
    /// State sync: asks for the top of state version `version`'s snapshot (`StateSnapshot`).
    case snapshotTopRequest(version: UInt64)
    /// The top of a snapshot: one summary per prefix, `StateSnapshot.prefixCount` of them.
    case snapshotTop(version: UInt64, [StateSnapshot.Summary])
    /// State sync: asks for the records of up to `count` prefixes from `prefix` on.
    case snapshotRequest(version: UInt64, prefix: UInt16, count: UInt16)
    /// The records of consecutive prefixes from `prefix` on, each group in key-hash order; as
    /// many groups as fit in `snapshotBytesMax` (at least one).
    case snapshotRecords(version: UInt64, prefix: UInt16, [[StateSnapshot.Record]])
    /// State sync: asks for the proofs of the validator-set changes since genesis, from the
    /// `from`-th on (0 for the first).
    case handoversRequest(from: UInt32)
    /// Validator-set changes in height order from the `from`-th on, each with its proof: as many
    /// as fit in `snapshotBytesMax` (at least one) and `handoversPerMessageMax`. None: there are
    /// no more.
    case handovers(from: UInt32, [Handover])

    public static let protocolVersion: UInt8 = 1
    /// How many blocks one `blocks` message carries at most.
    public static let blocksPerMessageMax: UInt16 = 64
    /// How many transactions one `transactions` message carries at most.
    public static let transactionsPerMessageMax = 1_000
    /// Bytes of a document's media type.
    public static let mediaTypeBytesMax = 64
    /// The records one `snapshotRecords` answer carries, in bytes, past its first prefix.
    public static let snapshotBytesMax = 8 * 1024 * 1024
    /// Validator-set changes one `handovers` message carries at most.
    public static let handoversPerMessageMax = 1_024

    /// A validator-set change as `ValidatorHandover` proves it: a header, the commit that
    /// finalized it, and the `validators` record in the state it names, with its proof.
    public struct Handover: Hashable, Sendable {
        public let header: BlockHeader
        public let commit: Commit
        public let record: [UInt8]
        public let proof: StateProof

        public init(header: BlockHeader, commit: Commit, record: [UInt8], proof: StateProof) {
            self.header = header
            self.commit = commit
            self.record = record
            self.proof = proof
        }

        func encode(to writer: inout ByteWriter) {
            header.encode(to: &writer)
            commit.encode(to: &writer)
            writer.writeLengthPrefixed(record)
            proof.encode(to: &writer)
        }

        /// The bytes it takes in a `handovers` message.
        public var encodedSize: Int {
            var writer = ByteWriter()
            encode(to: &writer)
            return writer.bytes.count
        }
    }

    public struct Hello: Hashable, Sendable {
        public let chainID: ChainID
        public let genesisHash: Hash
        public let validator: ValidatorIndex
        public let height: Height

        public init(chainID: ChainID, genesisHash: Hash, validator: ValidatorIndex, height: Height) {
            self.chainID = chainID
            self.genesisHash = genesisHash
            self.validator = validator
            self.height = height
        }
    }

    /// A block with the commit that finalized it.
    public struct DecidedBlock: Hashable, Sendable {
        public let block: Block
        public let commit: Commit

        public init(block: Block, commit: Commit) {
            self.block = block
            self.commit = commit
        }
    }
}

extension PeerMessage: BinaryCodable {
    private enum Kind: UInt8 {
        case hello = 1, proposal, vote, transactions, status, blocksRequest, blocks, documentRequest, document
        case snapshotTopRequest, snapshotTop, snapshotRequest, snapshotRecords
        case handoversRequest, handovers
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(PeerMessage.protocolVersion)
        switch self {
        case let .hello(hello):
            writer.write(Kind.hello.rawValue)
            writer.writeShortString(hello.chainID.rawValue)
            writer.write(hello.genesisHash)
            writer.write(hello.validator.rawValue)
            writer.write(hello.height.rawValue)
        case let .proposal(proposal, block):
            writer.write(Kind.proposal.rawValue)
            proposal.encode(to: &writer)
            block.encode(to: &writer)
        case let .vote(vote):
            writer.write(Kind.vote.rawValue)
            vote.encode(to: &writer)
        case let .transactions(envelopes):
            writer.write(Kind.transactions.rawValue)
            writer.write(UInt16(envelopes.count))
            for envelope in envelopes { envelope.encode(to: &writer) }
        case let .status(height):
            writer.write(Kind.status.rawValue)
            writer.write(height.rawValue)
        case let .blocksRequest(from, count):
            writer.write(Kind.blocksRequest.rawValue)
            writer.write(from.rawValue)
            writer.write(count)
        case let .blocks(decided):
            writer.write(Kind.blocks.rawValue)
            writer.write(UInt16(decided.count))
            for item in decided {
                item.block.encode(to: &writer)
                item.commit.encode(to: &writer)
            }
        case let .documentRequest(hash):
            writer.write(Kind.documentRequest.rawValue)
            writer.write(hash)
        case let .document(hash, mediaType, content):
            writer.write(Kind.document.rawValue)
            writer.write(hash)
            writer.writeShortString(mediaType)
            writer.writeLengthPrefixed(content)
        case let .snapshotTopRequest(version):
            writer.write(Kind.snapshotTopRequest.rawValue)
            writer.write(version)
        case let .snapshotTop(version, top):
            writer.write(Kind.snapshotTop.rawValue)
            writer.write(version)
            writer.write(UInt16(top.count))
            for summary in top {
                switch summary {
                case .empty: writer.write(UInt8(0))
                case let .leaf(keyHash, valueHash): writer.write(UInt8(1)); writer.write(keyHash); writer.write(valueHash)
                case let .subtree(hash): writer.write(UInt8(2)); writer.write(hash)
                }
            }
        case let .snapshotRequest(version, prefix, count):
            writer.write(Kind.snapshotRequest.rawValue)
            writer.write(version)
            writer.write(prefix)
            writer.write(count)
        case let .handoversRequest(from):
            writer.write(Kind.handoversRequest.rawValue)
            writer.write(from)
        case let .handovers(from, handovers):
            writer.write(Kind.handovers.rawValue)
            writer.write(from)
            writer.write(UInt16(handovers.count))
            for handover in handovers { handover.encode(to: &writer) }
        case let .snapshotRecords(version, prefix, groups):
            writer.write(Kind.snapshotRecords.rawValue)
            writer.write(version)
            writer.write(prefix)
            writer.write(UInt16(groups.count))
            for records in groups {
                writer.write(UInt32(records.count))
                for record in records {
                    writer.write(record.keyHash)
                    writer.writeLengthPrefixed(record.value)
                }
            }
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        let version = try reader.readUInt8("protocol version")
        guard version == PeerMessage.protocolVersion else {
            throw .invalidValue(field: "protocol version", reason: "unsupported version \(version)")
        }
        let rawKind = try reader.readUInt8("message kind")
        guard let kind = Kind(rawValue: rawKind) else { throw .invalidValue(field: "message kind", reason: "unknown kind \(rawKind)") }
        switch kind {
        case .hello:
            let chainText = try reader.readShortString("chain id", limit: Limits.chainIDBytesMax)
            guard let chainID = try? ChainID(chainText) else { throw .invalidValue(field: "chain id", reason: "not a chain id") }
            self = .hello(Hello(chainID: chainID, genesisHash: try reader.readHash("genesis hash"),
                                validator: ValidatorIndex(try reader.readUInt16("validator")), height: Height(try reader.readUInt64("height"))))
        case .proposal:
            self = .proposal(try SignedProposal(from: &reader), try Block(from: &reader))
        case .vote:
            self = .vote(try SignedVote(from: &reader))
        case .transactions:
            let count = Int(try reader.readUInt16("transaction count"))
            guard count <= PeerMessage.transactionsPerMessageMax else {
                throw .lengthExceedsLimit(field: "transactions", length: count, limit: PeerMessage.transactionsPerMessageMax)
            }
            var envelopes: [SignedEnvelope] = []
            for _ in 0..<count { envelopes.append(try SignedEnvelope(from: &reader)) }
            self = .transactions(envelopes)
        case .status:
            self = .status(height: Height(try reader.readUInt64("height")))
        case .blocksRequest:
            let from = Height(try reader.readUInt64("from"))
            let count = try reader.readUInt16("count")
            guard count >= 1, count <= PeerMessage.blocksPerMessageMax else {
                throw .invalidValue(field: "count", reason: "\(count) is not between 1 and \(PeerMessage.blocksPerMessageMax)")
            }
            self = .blocksRequest(from: from, count: count)
        case .blocks:
            let count = try reader.readUInt16("block count")
            guard count <= PeerMessage.blocksPerMessageMax else {
                throw .lengthExceedsLimit(field: "blocks", length: Int(count), limit: Int(PeerMessage.blocksPerMessageMax))
            }
            var decided: [DecidedBlock] = []
            for _ in 0..<count { decided.append(DecidedBlock(block: try Block(from: &reader), commit: try Commit(from: &reader))) }
            self = .blocks(decided)
        case .documentRequest:
            self = .documentRequest(try reader.readHash("document"))
        case .document:
            let hash = try reader.readHash("document")
            let mediaType = try reader.readShortString("media type", limit: PeerMessage.mediaTypeBytesMax)
            self = .document(hash: hash, mediaType: mediaType, content: try reader.readLengthPrefixed("document content", limit: Limits.documentBytesMax))
        case .snapshotTopRequest:
            self = .snapshotTopRequest(version: try reader.readUInt64("version"))
        case .snapshotTop:
            let version = try reader.readUInt64("version")
            let count = Int(try reader.readUInt16("prefix count"))
            guard count == StateSnapshot.prefixCount else {
                throw .invalidValue(field: "prefix count", reason: "\(count), not \(StateSnapshot.prefixCount)")
            }
            var top: [StateSnapshot.Summary] = []
            top.reserveCapacity(count)
            for _ in 0..<count {
                switch try reader.readUInt8("summary kind") {
                case 0: top.append(.empty)
                case 1: top.append(.leaf(keyHash: try reader.readHash("key hash"), valueHash: try reader.readHash("value hash")))
                case 2: top.append(.subtree(try reader.readHash("subtree hash")))
                case let kind: throw .invalidValue(field: "summary kind", reason: "unknown kind \(kind)")
                }
            }
            self = .snapshotTop(version: version, top)
        case .snapshotRequest:
            let version = try reader.readUInt64("version")
            let prefix = try reader.readUInt16("prefix")
            let count = try reader.readUInt16("count")
            guard Int(prefix) < StateSnapshot.prefixCount, count >= 1, Int(prefix) + Int(count) <= StateSnapshot.prefixCount else {
                throw .invalidValue(field: "prefixes", reason: "\(count) from \(prefix) is not within the \(StateSnapshot.prefixCount) prefixes")
            }
            self = .snapshotRequest(version: version, prefix: prefix, count: count)
        case .snapshotRecords:
            let version = try reader.readUInt64("version")
            let prefix = try reader.readUInt16("prefix")
            let count = Int(try reader.readUInt16("group count"))
            guard Int(prefix) + count <= StateSnapshot.prefixCount else {
                throw .invalidValue(field: "group count", reason: "\(count) groups from prefix \(prefix) pass the last prefix")
            }
            var groups: [[StateSnapshot.Record]] = []
            for _ in 0..<count {
                let records = Int(try reader.readUInt32("record count"))
                // Each record takes at least 36 bytes: a count past what the frame holds is a lie.
                guard records <= Limits.peerMessageBytesMax / 36 else {
                    throw .lengthExceedsLimit(field: "records", length: records, limit: Limits.peerMessageBytesMax / 36)
                }
                var group: [StateSnapshot.Record] = []
                for _ in 0..<records {
                    group.append(StateSnapshot.Record(keyHash: try reader.readHash("key hash"),
                                                      value: try reader.readLengthPrefixed("value", limit: Limits.stateValueBytesMax)))
                }
                groups.append(group)
            }
            self = .snapshotRecords(version: version, prefix: prefix, groups)
        case .handoversRequest:
            self = .handoversRequest(from: try reader.readUInt32("first handover"))
        case .handovers:
            let from = try reader.readUInt32("first handover")
            let count = Int(try reader.readUInt16("handover count"))
            guard count <= PeerMessage.handoversPerMessageMax else {
                throw .lengthExceedsLimit(field: "handovers", length: count, limit: PeerMessage.handoversPerMessageMax)
            }
            var handovers: [Handover] = []
            for _ in 0..<count {
                handovers.append(Handover(header: try BlockHeader(from: &reader), commit: try Commit(from: &reader),
                                          record: try reader.readLengthPrefixed("validators record", limit: Limits.stateValueBytesMax),
                                          proof: try StateProof(from: &reader)))
            }
            self = .handovers(from: from, handovers)
        }
    }
}
