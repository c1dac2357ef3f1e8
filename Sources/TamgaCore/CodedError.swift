/// An error with a stable machine-readable code and a message for people.
///
/// Codes are part of the protocol: every node must reject the same input with the same code, and
/// the HTTP API returns the code in problem+json. Codes are dotted lowercase words, for example
/// `codec.truncated` or `signature.non_canonical_scalar`; they never change once released.
public protocol CodedError: Error, CustomStringConvertible {
    /// The stable machine code, such as `proof.root_mismatch`.
    var code: String { get }
    /// A sentence that tells a person what was wrong.
    var message: String { get }
}

extension CodedError {
    public var description: String { "\(code): \(message)" }
}
