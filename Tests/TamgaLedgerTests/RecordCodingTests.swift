import Foundation
import TamgaCore
import Testing
@testable import TamgaLedger

@Suite struct RecordCodingTests {
    static func generic(_ value: some Encodable) throws -> [UInt8] { try CanonicalJSON.encode(value) }

    /// The hand-written encodings of the hottest records are byte for byte what CanonicalJSON writes.
    @Test(arguments: [UInt64(0), 1, 42, 1_000_000_007, UInt64.max])
    func fastPathsMatchTheEncoder(_ number: UInt64) throws {
        #expect(RecordCoding.encode(Account(balance: Tiyn(number), held: Tiyn(number / 3))) == (try Self.generic(Account(balance: Tiyn(number), held: Tiyn(number / 3)))))
        #expect(RecordCoding.encode(Tiyn(number)) == (try Self.generic(Tiyn(number))))
        #expect(RecordCoding.encode(number) == (try Self.generic(number)))
        #expect(try RecordCoding.decode(Account.self, RecordCoding.encode(Account(balance: Tiyn(number), held: .zero)), key: []) == Account(balance: Tiyn(number), held: .zero))
    }

    static func h(_ text: String) -> Hash { .sha256(Array(text.utf8)) }
    static func sha(_ bytes: [UInt8]) -> String { Hash.sha256(bytes).hex }

    /// The vectors printed by `scripts/record_vectors.py`, an implementation of docs/encoding.md's
    /// record rules written apart from the Swift code.
    @Test func recordsMatchTheIndependentVectors() throws {
        let number = cadastral("01-001-001-1")
        let passport = Passport(cadastralNumber: number, kind: "apartment", address: "Astana, Kabanbay batyr 8, кв. 12", area: AreaHundredths(8450),
                                location: try Coordinate(latitudeMicrodegrees: 51_128_207, longitudeMicrodegrees: -71_430_411),
                                owners: [Ownership(party: party("citizen-1"), share: share("999999999999/1000000000000")),
                                         Ownership(party: party("citizen-2"), share: share("1/1000000000000"))],
                                restrictions: [Restriction(id: TransactionID(hash: Self.h("arrest")), kind: .arrest, holder: party("bailiff-1"),
                                                           documentHash: Self.h("order"), since: Timestamp(millisecondsSinceEpoch: 1_764_000_000_000))],
                                documents: [Self.h("title"), Self.h("order")], registeredAt: Timestamp(millisecondsSinceEpoch: 1_764_000_000_000))
        let passportText = #"{"address":"Astana, Kabanbay batyr 8, кв. 12","area":8450,"cadastralNumber":"01-001-001-1","documents":["aaf2320646108059a87ab5017a86aee454f5378ed95003dbb2e12f4ca5266e0e","3eeb7e96e59ce40f9cb1a089daba079fd699f6867a30f6634af8570967b2375a"],"kind":"apartment","location":{"latitudeMicrodegrees":51128207,"longitudeMicrodegrees":-71430411},"owners":[{"party":"citizen-1","share":"999999999999/1000000000000"},{"party":"citizen-2","share":"1/1000000000000"}],"registeredAt":1764000000000,"restrictions":[{"documentHash":"3eeb7e96e59ce40f9cb1a089daba079fd699f6867a30f6634af8570967b2375a","holder":"bailiff-1","id":"7f1c0fd436e9f13c99b0b8c204137fd15ec24423a536449dacef2f10899f2573","kind":"arrest","since":1764000000000}]}"#
        #expect(String(decoding: RecordCoding.encode(passport), as: UTF8.self) == passportText)
        #expect(Self.sha(RecordCoding.encode(passport)) == "09202570437190d41ef27a1175bbc034b688334700c12677d5172169dd219cd3")

        let listing = Listing(cadastralNumber: number, price: Tiyn(UInt64.max), listedAt: Timestamp(millisecondsSinceEpoch: 1_764_000_001_000),
                              owners: [Ownership(party: party("citizen-1"), share: .whole)])
        #expect(Self.sha(RecordCoding.encode(listing)) == "72c47e2d4f0f4359a5e9ae5e4ac5b7ba647f6f121e9c7ae447fe33ca6c28fd75")

        let deed = Deed(id: TransactionID(hash: Self.h("deed")), cadastralNumber: number, sellers: [Deed.Seller(party: party("citizen-1"), share: share("1/2"))],
                        buyers: [Deed.Buyer(party: party("citizen-3"), share: share("1/2"), pays: Tiyn(4_000_000))], financing: nil, acceptedPledges: [],
                        price: Tiyn(4_000_000), signedBy: [party("citizen-3")], holds: [Ownership.Hold(party: party("citizen-3"), amount: Tiyn(4_000_000))],
                        notaryRequired: false, attestedBy: nil, status: .open, createdAt: Timestamp(millisecondsSinceEpoch: 1_764_000_002_000),
                        expiresAt: Timestamp(millisecondsSinceEpoch: 1_764_604_802_000))
        #expect(Self.sha(RecordCoding.encode(deed)) == "3d1449b61b4ffc3f8d966d2d3eae43864a53eb4a938dffc180d6e3340bb6d38c")

        let name = "Quote \" backslash \\ newline \n tab \t bell \u{07} unit \u{1F} Әлия / ok"
        let record = PartyRecord(id: party("citizen-4"), roles: [.citizen], keys: [], identityCommitment: Self.h("iin"), name: name)
        #expect(Self.sha(RecordCoding.encode(record)) == "8834271db4ff526170946936923a143a0e37ebd2d4696241bbe8c023cc58eba0",
                "\(String(decoding: RecordCoding.encode(record), as: UTF8.self))")

        let code = AccessCode(salt: Self.h("salt"), codeHash: Self.h("code"))
        #expect(Self.sha(RecordCoding.encode(code)) == "f2e723af3560a97895df0141726e43c8b8f584f7a9a0f02b0df373ca35e79ded")
        // What is written decodes back to the same record.
        #expect(try RecordCoding.decode(Passport.self, RecordCoding.encode(passport), key: []) == passport)
        #expect(try RecordCoding.decode(PartyRecord.self, RecordCoding.encode(record), key: []) == record)
    }
}
