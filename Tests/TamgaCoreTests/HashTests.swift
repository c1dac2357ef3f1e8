import TamgaCore
import Testing

@Suite struct HashTests {
    @Test func sha256KnownAnswers() {
        // FIPS 180-2 examples.
        #expect(Hash.sha256([]).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hash.sha256(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func taggedHashPrefixesTheDomainByte() {
        let data = Array("payload".utf8)
        for domain in HashDomain.allCases {
            #expect(Hash.tagged(domain, data) == Hash.sha256([domain.rawValue] + data))
        }
    }

    @Test func combiningEqualsTaggedHashOfBothDigests() {
        let left = Hash.sha256(Array("left".utf8))
        let right = Hash.sha256(Array("right".utf8))
        for domain in HashDomain.allCases {
            #expect(Hash.combining(domain, left, right) == Hash.tagged(domain, left.bytes + right.bytes))
        }
    }

    @Test func domainsAreDistinctAndNeverStartAJSONObject() {
        let tags = HashDomain.allCases.map(\.rawValue)
        #expect(Set(tags).count == tags.count)
        #expect(tags.allSatisfy { $0 < 0x20 })
    }

    @Test func bytesHexAndBitsAgree() {
        let digest = hash("8000000000000000000000000000000000000000000000000000000000000001")
        #expect(digest.bit(at: 0))
        #expect(!digest.bit(at: 1))
        #expect(digest.bit(at: 255))
        #expect(Hash(bytes: digest.bytes) == digest)
        #expect(Hash(hex: digest.hex) == digest)
        #expect(Hash(bytes: [1, 2, 3]) == nil)
        #expect(Hash(hex: "zz") == nil)
    }

    @Test func orderIsByteOrder() {
        let low = hash("00ff000000000000000000000000000000000000000000000000000000000000")
        let high = hash("0100000000000000000000000000000000000000000000000000000000000000")
        #expect(low < high)
        #expect(Hash.zero < low)
    }

    @Test func commonPrefixLength() {
        let a = hash("f000000000000000000000000000000000000000000000000000000000000000")
        let b = hash("f800000000000000000000000000000000000000000000000000000000000000")
        #expect(a.commonPrefixLength(with: b) == 4)
        #expect(a.commonPrefixLength(with: a) == 256)
        let c = hash("f000000000000000000000000000000000000000000000000000000000000001")
        #expect(a.commonPrefixLength(with: c) == 255)
    }
}
