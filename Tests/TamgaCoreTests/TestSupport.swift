import TamgaCore
import Testing

/// Hex for fixtures; a malformed fixture is a bug in the test.
func bytes(_ hex: String) -> [UInt8] {
    guard let decoded = Hex.decode(hex) else { preconditionFailure("bad hex fixture") }
    return decoded
}

func hash(_ hex: String) -> Hash {
    guard let hash = Hash(hex: hex) else { preconditionFailure("bad hash fixture") }
    return hash
}

/// A hash of 32 copies of `byte`.
func filled(_ byte: UInt8) -> Hash {
    guard let hash = Hash(bytes: [UInt8](repeating: byte, count: 32)) else { preconditionFailure() }
    return hash
}

/// RFC 8032 §7.1 test keys.
enum RFC8032 {
    static let seed1 = bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    static let seed2 = bytes("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    static var key1: SigningKey { try! SigningKey(seed: seed1) }
    static var key2: SigningKey { try! SigningKey(seed: seed2) }
}

/// A seeded generator for tests that need many inputs but the same ones every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
