import Foundation

/// Why a key file could not be read.
public enum KeyFileError: CodedError, Equatable {
    case malformed(String)
    case unsupportedFormat(String)
    case publicKeyMismatch

    public var code: String {
        switch self {
        case .malformed: "key_file.malformed"
        case .unsupportedFormat: "key_file.unsupported_format"
        case .publicKeyMismatch: "key_file.public_key_mismatch"
        }
    }

    public var message: String {
        switch self {
        case let .malformed(reason): "the key file is malformed: \(reason)"
        case let .unsupportedFormat(format): "the key file format \"\(format.prefix(40))\" is not supported (expected \(KeyFile.format))"
        case .publicKeyMismatch: "the key file's public key does not belong to its private key"
        }
    }
}

/// The JSON layout of a key file (the file itself is written by the CLI with mode 0600):
///
/// ```json
/// {
///   "algorithm" : "ed25519",
///   "format" : "tamga-key-v1",
///   "keyId" : "<64 hex>",
///   "privateKey" : "<64 hex: the RFC 8032 seed>",
///   "publicKey" : "ed25519:<64 hex>"
/// }
/// ```
/// `publicKey` and `keyId` are there for people and are checked against the private key on reading.
public enum KeyFile {
    public static let format = "tamga-key-v1"

    private struct Contents: Codable {
        var format: String
        var algorithm: String
        var privateKey: String
        var publicKey: String
        var keyId: String
    }

    /// The file's bytes for `key`.
    public static func encode(_ key: SigningKey) -> [UInt8] {
        let contents = Contents(
            format: format, algorithm: SignatureAlgorithm.ed25519.name, privateKey: Hex.encode(key.seed),
            publicKey: key.publicKey.description, keyId: key.publicKey.keyID.description
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(contents) else { preconditionFailure("encoding a key file failed") }
        return Array(data) + [UInt8(ascii: "\n")]
    }

    /// Reads a key file's bytes and checks that its parts agree.
    public static func decode(_ bytes: [UInt8]) throws(KeyFileError) -> SigningKey {
        let contents: Contents
        do {
            contents = try JSONDecoder().decode(Contents.self, from: Data(bytes))
        } catch {
            throw .malformed("not a JSON object with format, algorithm, privateKey, publicKey and keyId")
        }
        guard contents.format == format else { throw .unsupportedFormat(contents.format) }
        guard contents.algorithm == SignatureAlgorithm.ed25519.name else {
            throw .malformed("unknown algorithm \"\(contents.algorithm.prefix(40))\"")
        }
        guard let seed = Hex.decode(contents.privateKey), seed.count == 32 else {
            throw .malformed("privateKey must be 64 hex characters")
        }
        guard let key = try? SigningKey(seed: seed) else { throw .malformed("privateKey was refused") }
        guard key.publicKey.description == contents.publicKey.lowercased(),
              key.publicKey.keyID.description == contents.keyId.lowercased()
        else { throw .publicKeyMismatch }
        return key
    }
}
