import Foundation
import TamgaCore
@testable import TamgaLedger
import Testing

/// Payload field names read from the bytes (`PayloadKeys`) give exactly the decoder's verdict on
/// unknown fields, and anything unusual falls back to the decoder.
@Suite struct PayloadKeysTests {
    static let transfer = #"{"chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"token.transfer","body":{"to":"owner-a","amount":5}}"#
    static let register = #"{"chainId":"tamga-test","signer":"registrar-1","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"property.register","body":{"cadastralNumber":"09-099-009-009","kind":"land, \"north\" {plot}","address":"x]}","area":1,"location":{"latitudeMicrodegrees":1,"longitudeMicrodegrees":2},"owners":[{"party":"owner-a","share":"1"}],"titleDocumentHash":"0000000000000000000000000000000000000000000000000000000000000000"}}"#

    @Test func readsTheTopLevelAndBodyFieldNames() throws {
        let keys = try #require(PayloadKeys(Array(Self.register.utf8)))
        #expect(keys.top == ["chainId", "signer", "nonce", "fee", "expiresAt", "type", "body"])
        #expect(keys.body == ["cadastralNumber", "kind", "address", "area", "location", "owners", "titleDocumentHash"])
        let spaced = " {\n \"type\" : \"token.transfer\" ,\t\"body\" : { } , \"extra\" : [ 1 , { \"a\" : null } ] }\r\n"
        let read = try #require(PayloadKeys(Array(spaced.utf8)))
        #expect(read.top == ["type", "body", "extra"] && read.body.isEmpty)
    }

    @Test(arguments: [
        #"{"\u0074ype":"token.transfer","body":{}}"#,        // an escape in a name
        #"{"type":"a","type":"b","body":{}}"#,                // a repeated name
        #"{"type":"a","body":{"to":1,"to":2}}"#,              // a repeated name in the body
        #"{"type":"a"}"#,                                     // no body
        #"{"type":"a","body":[1]}"#,                          // a body that is not an object
        #"{"type":"a","body":{}} x"#,                         // bytes after the object
        #"{"type":"a","body":{"to":"x"}"#,                    // cut short
        #"{"type":"a","body":{"to":"x}}"#,                    // an unclosed string
        "{" + (0..<PayloadKeys.namesMax).map { "\"f\($0)\":0," }.joined() + #""body":{}}"#,  // too many names
    ])
    func unusualBytesAreLeftToTheDecoder(_ json: String) {
        #expect(PayloadKeys(Array(json.utf8)) == nil)
    }

    /// Variants of two payloads: reordered, spaced, with unknown fields at either level, with
    /// escaped names, repeated names, and broken bodies.
    static var variants: [String] {
        var variants: [String] = []
        for base in [transfer, register] {
            let top = base.dropLast()
            variants += [
                base,
                String(top) + #","zeta":1,"alpha":{"x":[1,"}"]}}"#,
                "{\"memo\":\"a,b\"," + base.dropFirst(),
                base.replacingOccurrences(of: #""body":{"#, with: #""body":{"memo":"x","#),
                base.replacingOccurrences(of: #""body":{"#, with: #""body" : { "\u006demo" : 1 , "#),
                base.replacingOccurrences(of: #""signer""#, with: #""\u0073igner""#),
                base.replacingOccurrences(of: #""fee":10"#, with: #""fee":10,"fee":11"#),
                base.replacingOccurrences(of: #""type""#, with: #""kind""#),
                base.replacingOccurrences(of: ",", with: " ,\n "),
                base.replacingOccurrences(of: #""body":{"#, with: #""body":[{"#).replacingOccurrences(of: "}}", with: "}]}"),
                String(top),
            ]
        }
        return variants
    }

    @Test func scanningGivesTheDecodersVerdict() {
        for json in Self.variants {
            let bytes = Array(json.utf8)
            let scanned = Result { () throws(Rejection) in try TransactionPayload.decode(bytes, scanningKeys: true) }
            let plain = Result { () throws(Rejection) in try TransactionPayload.decode(bytes, scanningKeys: false) }
            #expect(scanned == plain, "\(json)")
        }
    }
}
