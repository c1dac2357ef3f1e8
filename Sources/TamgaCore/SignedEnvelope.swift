/// The identifier of a transaction: SHA-256 of its payload bytes, untagged, so that anyone can
/// compute it with a standard tool. Signatures are not part of it, so adding a co-signature does
/// not change a transaction's identity.
public struct TransactionID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let hash: Hash
    public init(hash: Hash) { self.hash = hash }
    public static func < (lhs: TransactionID, rhs: TransactionID) -> Bool { lhs.hash < rhs.hash }
    public var description: String { hash.hex }

    public init(from decoder: any Decoder) throws { hash = try Hash(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try hash.encode(to: encoder) }
}

/// One signature on an envelope, with the id of the key that made it.
public struct EnvelopeSignature: Hashable, Sendable, Codable {
    public let keyID: KeyID
    public let signature: Signature

    public init(keyID: KeyID, signature: Signature) {
        self.keyID = keyID
        self.signature = signature
    }

    private enum CodingKeys: String, CodingKey {
        case keyID = "keyId"
        case signature
    }
}

/// Why an envelope was refused before its payload was even decoded.
public enum EnvelopeError: CodedError, Equatable {
    case emptyPayload
    case payloadTooLarge(bytes: Int)
    case noSignatures
    case tooManySignatures(count: Int)
    case duplicateKey(KeyID)
    case unknownKey(KeyID)
    case invalidSignature(KeyID, SignatureVerdict)
    case malformed(CodecError)

    public var code: String {
        switch self {
        case .emptyPayload: "envelope.empty_payload"
        case .payloadTooLarge: "envelope.payload_too_large"
        case .noSignatures: "envelope.no_signatures"
        case .tooManySignatures: "envelope.too_many_signatures"
        case .duplicateKey: "envelope.duplicate_key"
        case .unknownKey: "envelope.unknown_key"
        case let .invalidSignature(_, verdict): verdict.code
        case let .malformed(error): error.code
        }
    }

    public var message: String {
        switch self {
        case .emptyPayload: "the payload is empty"
        case let .payloadTooLarge(bytes): "the payload is \(bytes) bytes, more than \(Limits.transactionPayloadBytesMax)"
        case .noSignatures: "the envelope carries no signature"
        case let .tooManySignatures(count): "the envelope carries \(count) signatures, more than \(Limits.envelopeSignaturesMax)"
        case let .duplicateKey(keyID): "key \(keyID) signed twice"
        case let .unknownKey(keyID): "key \(keyID) is not a key of any enrolled party"
        case let .invalidSignature(keyID, verdict): "the signature by key \(keyID) is invalid (\(verdict.rawValue))"
        case let .malformed(error): error.message
        }
    }
}

/// A transaction as submitted: the payload bytes exactly as signed, and one or more signatures.
///
/// Nodes verify the signatures over exactly `payload`, and only then decode it. The payload is a
/// UTF-8 JSON object (the ledger's business); this type only bounds and signs bytes.
///
/// ```swift
/// let envelope = try SignedEnvelope.signing(payload, with: [ownerKey, buyerKey])
/// try envelope.verifySignatures { keyID in knownKeys[keyID] }
/// ```
public struct SignedEnvelope: Hashable, Sendable {
    public let payload: [UInt8]
    /// Signatures in the order given; no key appears twice.
    public let signatures: [EnvelopeSignature]

    public init(payload: [UInt8], signatures: [EnvelopeSignature]) throws(EnvelopeError) {
        guard !payload.isEmpty else { throw .emptyPayload }
        guard payload.count <= Limits.transactionPayloadBytesMax else { throw .payloadTooLarge(bytes: payload.count) }
        guard !signatures.isEmpty else { throw .noSignatures }
        guard signatures.count <= Limits.envelopeSignaturesMax else { throw .tooManySignatures(count: signatures.count) }
        var seen: Set<KeyID> = []
        for entry in signatures where !seen.insert(entry.keyID).inserted {
            throw .duplicateKey(entry.keyID)
        }
        self.payload = payload
        self.signatures = signatures
    }

    /// Signs `payload` with each key, in order.
    public static func signing(_ payload: [UInt8], with keys: [SigningKey]) throws(EnvelopeError) -> SignedEnvelope {
        try SignedEnvelope(
            payload: payload,
            signatures: keys.map { EnvelopeSignature(keyID: $0.publicKey.keyID, signature: $0.sign(payload)) }
        )
    }

    /// SHA-256 of the payload.
    public var transactionID: TransactionID { TransactionID(hash: .sha256(payload)) }

    /// `H(0x07 ‖ encoding)`: what a block's transaction Merkle tree commits to, signatures included.
    public var entryHash: Hash { .tagged(.transaction, encoded()) }

    /// Verifies every signature over the payload and returns the signers' key ids in order.
    ///
    /// - Parameter publicKey: looks up a key id; nil means the key is unknown, which fails.
    public func verifySignatures(publicKey: (KeyID) -> PublicKey?) throws(EnvelopeError) -> [KeyID] {
        for entry in signatures {
            guard let key = publicKey(entry.keyID), key.keyID == entry.keyID else { throw .unknownKey(entry.keyID) }
            let verdict = key.verdict(on: entry.signature, for: payload)
            guard verdict == .valid else { throw .invalidSignature(entry.keyID, verdict) }
        }
        return signatures.map(\.keyID)
    }

    /// Decodes an envelope from its binary form, refusing oversize input before reading it.
    public static func decodeEnvelope(_ bytes: [UInt8]) throws(EnvelopeError) -> SignedEnvelope {
        guard bytes.count <= Limits.envelopeBytesMax else { throw .payloadTooLarge(bytes: bytes.count) }
        var reader = ByteReader(bytes)
        let parts: (payload: [UInt8], signatures: [EnvelopeSignature])
        do throws(CodecError) {
            parts = try readParts(from: &reader)
            try reader.finish()
        } catch {
            throw .malformed(error)
        }
        return try SignedEnvelope(payload: parts.payload, signatures: parts.signatures)
    }

    private static func readParts(from reader: inout ByteReader) throws(CodecError) -> ([UInt8], [EnvelopeSignature]) {
        let payload = try reader.readLengthPrefixed("payload", limit: Limits.transactionPayloadBytesMax)
        let count = Int(try reader.readUInt8("signature count"))
        guard count <= Limits.envelopeSignaturesMax else {
            throw .lengthExceedsLimit(field: "signatures", length: count, limit: Limits.envelopeSignaturesMax)
        }
        var signatures: [EnvelopeSignature] = []
        for _ in 0..<count {
            let keyID = KeyID(hash: try reader.readHash("key id"))
            let bytes = try reader.readFixed(64, "signature")
            // readFixed returned exactly 64 bytes, so this cannot fail.
            guard let signature = try? Signature(bytes: bytes) else { preconditionFailure("signature of 64 bytes refused") }
            signatures.append(EnvelopeSignature(keyID: keyID, signature: signature))
        }
        return (payload, signatures)
    }
}

extension SignedEnvelope: BinaryCodable {
    /// The length of `encoded()`, without encoding.
    public var encodedByteCount: Int { 4 + payload.count + 1 + signatures.count * (Hash.byteCount + 64) }

    /// `u32 length ‖ payload ‖ u8 count ‖ count × (key id[32] ‖ signature[64])`.
    public func encode(to writer: inout ByteWriter) {
        writer.writeLengthPrefixed(payload)
        writer.write(UInt8(signatures.count))
        for entry in signatures {
            writer.write(entry.keyID.hash)
            writer.writeFixed(entry.signature.bytes)
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        let (payload, signatures) = try SignedEnvelope.readParts(from: &reader)
        do {
            try self.init(payload: payload, signatures: signatures)
        } catch {
            throw .invalidValue(field: "envelope", reason: error.message)
        }
    }
}

extension SignedEnvelope: Codable {
    private enum CodingKeys: String, CodingKey { case payload, signatures }

    /// JSON form: `{"payload": "<base64>", "signatures": [{"keyId": "<hex>", "signature": "<hex>"}]}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .payload)
        guard let payload = Base64.decode(text) else {
            throw DecodingError.dataCorruptedError(forKey: .payload, in: container, debugDescription: "payload is not base64")
        }
        try self.init(payload: payload, signatures: container.decode([EnvelopeSignature].self, forKey: .signatures))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Base64.encode(payload), forKey: .payload)
        try container.encode(signatures, forKey: .signatures)
    }
}
