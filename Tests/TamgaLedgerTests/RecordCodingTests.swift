import Foundation
import TamgaCore
import Testing
@testable import TamgaLedger

@Suite struct RecordCodingTests {
    static func generic(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// The hand-written encodings of the hottest records are byte for byte what JSONEncoder writes.
    @Test(arguments: [UInt64(0), 1, 42, 1_000_000_007, UInt64.max])
    func fastPathsMatchTheEncoder(_ number: UInt64) throws {
        #expect(RecordCoding.encode(Account(balance: Tiyn(number), held: Tiyn(number / 3))) == (try Self.generic(Account(balance: Tiyn(number), held: Tiyn(number / 3)))))
        #expect(RecordCoding.encode(Tiyn(number)) == (try Self.generic(Tiyn(number))))
        #expect(RecordCoding.encode(number) == (try Self.generic(number)))
        #expect(try RecordCoding.decode(Account.self, RecordCoding.encode(Account(balance: Tiyn(number), held: .zero)), key: []) == Account(balance: Tiyn(number), held: .zero))
    }
}
