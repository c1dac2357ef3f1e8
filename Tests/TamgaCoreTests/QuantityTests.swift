import Foundation
import TamgaCore
import Testing

@Suite struct IdentifierTests {
    @Test(arguments: ["21-320-113-125", "01-011-001-1", "01-011-001-123456", "01-011-001-123:45", "01-011-001-123:123456"])
    func acceptsCadastralNumbers(_ text: String) throws {
        #expect(try CadastralNumber(text).rawValue == text)
    }

    @Test(arguments: ["", "21-320-113", "2-320-113-125", "21-3200-113-125", "21-320-113-1234567", "21-320-113-125:",
                      "21-320-113-125:1234567", "21-320-113-125:1:2", "21-320-113-12a", "21 320 113 125", "21-320-113-125-1",
                      "21-320-113:125", "٢١-320-113-125"])
    func refusesMalformedCadastralNumbers(_ text: String) {
        #expect(throws: IdentifierError.self) { try CadastralNumber(text) }
    }

    @Test func partyAndChainIDs() throws {
        #expect(try PartyID("bank-halyk").rawValue == "bank-halyk")
        for bad in ["ab", "Bank", "1bank", "bank-", "bank_1", String(repeating: "a", count: 65)] {
            #expect(throws: IdentifierError.self) { try PartyID(bad) }
        }
        #expect(try ChainID("tamga-devnet.1").rawValue == "tamga-devnet.1")
        for bad in ["", "Tamga", "tamga net", String(repeating: "a", count: 65)] {
            #expect(throws: IdentifierError.self) { try ChainID(bad) }
        }
        let error = #expect(throws: IdentifierError.self) { try PartyID("X") }
        #expect(error?.code == "party_id.invalid")
    }

    @Test func identifiersDecodeFromJSONWithValidation() throws {
        #expect(try JSONDecoder().decode([CadastralNumber].self, from: Data(#"["21-320-113-125"]"#.utf8)).first?.rawValue == "21-320-113-125")
        #expect(throws: IdentifierError.self) { try JSONDecoder().decode([CadastralNumber].self, from: Data(#"["nope"]"#.utf8)) }
    }

    @Test func coordinatesAreBounded() throws {
        let almaty = try Coordinate(latitudeMicrodegrees: 43_238_949, longitudeMicrodegrees: 76_889_709)
        #expect(almaty.latitudeMicrodegrees == 43_238_949)
        #expect(throws: IdentifierError.self) { try Coordinate(latitudeMicrodegrees: 90_000_001, longitudeMicrodegrees: 0) }
        #expect(throws: IdentifierError.self) { try Coordinate(latitudeMicrodegrees: 0, longitudeMicrodegrees: -180_000_001) }
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(Coordinate.self, from: Data(#"{"latitudeMicrodegrees":91000000,"longitudeMicrodegrees":0}"#.utf8))
        }
    }
}

@Suite struct MoneyAndShareTests {
    @Test func tiynArithmetic() {
        #expect(Tiyn(150) + Tiyn(50) == Tiyn(200))
        #expect(Tiyn(UInt64.max).adding(Tiyn(1)) == nil)
        #expect(Tiyn(1).subtracting(Tiyn(2)) == nil)
        #expect(Tiyn(123_456).description == "1234.56 KZT")
        #expect(Tiyn(5).description == "0.05 KZT")
    }

    @Test func tiynTrapsOnOverflow() async {
        await #expect(processExitsWith: .failure) {
            _ = Tiyn(UInt64.max) + Tiyn(1)
        }
        await #expect(processExitsWith: .failure) {
            _ = Tiyn(0) - Tiyn(1)
        }
    }

    @Test func tiynTimesShareIsExactAndRoundsDown() throws {
        #expect(Tiyn(100).multiplied(by: try Share(1, 3)) == Tiyn(33))
        #expect(Tiyn(UInt64.max).multiplied(by: try Share(2, 3)) == Tiyn(UInt64.max / 3 * 2))
        #expect(Tiyn(UInt64.max).multiplied(by: .whole) == Tiyn(UInt64.max))
    }

    @Test func sharesAreReducedAndExact() throws {
        let half = try Share(2, 4)
        #expect(half == (try Share(1, 2)))
        #expect(half.description == "1/2")
        #expect(try Share(1, 3).adding(try Share(1, 6)) == half)
        #expect(try half.subtracting(try Share(1, 2)).isZero)
        #expect(try Share(parsing: "1") == .whole)
        #expect(try Share(parsing: "3/7") == (try Share(3, 7)))
        #expect(try Share(1, 3) < (try Share(1, 2)))
        #expect(Share.sumIsWhole([try Share(1, 3), try Share(1, 3), try Share(1, 3)]))
        #expect(!Share.sumIsWhole([try Share(1, 3), try Share(1, 3)]))
        #expect(!Share.sumIsWhole([.whole, try Share(1, 3)]))
    }

    @Test func shareErrors() throws {
        #expect(throws: ShareError.zeroDenominator) { try Share(1, 0) }
        #expect(throws: ShareError.greaterThanWhole) { try Share(3, 2) }
        #expect(throws: ShareError.greaterThanWhole) { try Share(2, 3).adding(try Share(2, 3)) }
        #expect(throws: ShareError.negative) { try Share(1, 3).subtracting(try Share(1, 2)) }
        #expect(throws: ShareError.denominatorTooLarge) { try Share(1, Limits.shareDenominatorMax + 1) }
        #expect(throws: ShareError.denominatorTooLarge) { try Share(1, 999_999_999_989).adding(try Share(1, 999_999_999_961)) }
        for bad in ["", "1/", "/2", "a/b", "1/2/3", "-1/2", "0.5"] {
            #expect(throws: ShareError.malformed) { try Share(parsing: bad) }
        }
    }
}

@Suite struct LimitsTests {
    /// The bounds must fit inside one another, or a valid input at one layer would be refused at the next.
    @Test func limitsRelate() {
        #expect(Limits.envelopeBytesMax > Limits.transactionPayloadBytesMax)
        #expect(Limits.blockTransactionBytesMax >= Limits.envelopeBytesMax * 16)
        #expect(Limits.blockTransactionsMax * 4 + Limits.blockTransactionBytesMax < Limits.peerMessageBytesMax)
        #expect(Limits.mempoolBytesMax >= Limits.blockTransactionBytesMax * 2)
        #expect(Limits.mempoolTransactionsMax >= Limits.blockTransactionsMax * 2)
        #expect(Limits.mempoolTransactionsPerSenderMax < Limits.mempoolTransactionsMax)
        #expect(Limits.validatorsMax <= Int(UInt16.max))
        #expect(Limits.envelopeSignaturesMax <= Int(UInt8.max))
        #expect(Limits.stateProofSiblingsMax == 256)
        // A balanced tree of the largest block is 13 levels deep.
        #expect(1 << Limits.merkleProofHashesMax.trailingZeroBitCount >= 0 && Limits.blockTransactionsMax < 1 << 13 && Limits.merkleProofHashesMax >= 13)
        #expect(Limits.stateValueBytesMax >= Limits.transactionPayloadBytesMax)
        #expect(Limits.deedPartiesMax >= 4 && Limits.pageSizeMax >= 100)
        // Every share sum of two valid shares is exact in 64 bits.
        #expect(Limits.shareDenominatorMax.multipliedReportingOverflow(by: 2).overflow == false)
        #expect(Limits.chainIDBytesMax <= Int(UInt16.max) && Limits.partyIDBytesMax <= Int(UInt16.max))
    }
}

@Suite struct KeyFileTests {
    @Test func roundTripsAndChecksItsParts() throws {
        let key = RFC8032.key1
        let encoded = KeyFile.encode(key)
        let text = String(decoding: encoded, as: UTF8.self)
        #expect(text.contains(#""publicKey" : "ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a""#))
        #expect(try KeyFile.decode(encoded).publicKey == key.publicKey)

        let otherPublic = text.replacingOccurrences(of: "d75a98", with: "d75a99")
        #expect(throws: KeyFileError.publicKeyMismatch) { try KeyFile.decode(Array(otherPublic.utf8)) }
        let otherFormat = text.replacingOccurrences(of: "tamga-key-v1", with: "tamga-key-v9")
        #expect(throws: KeyFileError.unsupportedFormat("tamga-key-v9")) { try KeyFile.decode(Array(otherFormat.utf8)) }
        let shortSeed = text.replacingOccurrences(of: "9d61b19d", with: "")
        #expect(throws: KeyFileError.malformed("privateKey must be 64 hex characters")) { try KeyFile.decode(Array(shortSeed.utf8)) }
        #expect(throws: KeyFileError.self) { try KeyFile.decode(Array("not json".utf8)) }
        #expect(throws: KeyFileError.self) { try KeyFile.decode([]) }
    }
}
