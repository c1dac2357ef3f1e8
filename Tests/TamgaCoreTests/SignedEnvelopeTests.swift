import Foundation
import TamgaCore
import Testing

@Suite struct SignedEnvelopeTests {
    let payload = Array(#"{"chainId":"tamga-test"}"#.utf8)

    @Test func goldenEncodingAndIdentifiers() throws {
        let envelope = try SignedEnvelope.signing(payload, with: [RFC8032.key1])
        #expect(Hex.encode(envelope.encoded()) == "000000187b22636861696e4964223a2274616d67612d74657374227d01e0a75109a40568e6d1faaecc6c0e00ffb3b9a9f78c6cbb1aff644695c4c9cce72ac583e0468cb4e32df4dfa46ecebf3268eb1163626af0216ec84636fee5fe0ac1cbb18eabb1f7366b8bf8a064bc240cfbac8526a29522dda8e2fda26cd96306")
        #expect(envelope.transactionID.description == "4b34a5935364dc44beac59a578a9109fb81bc66ed77428db2990d7827ee4ff68")
        #expect(envelope.transactionID.hash == Hash.sha256(payload))
        #expect(envelope.entryHash.hex == "14c9ba9aa221cde29dadc6d47dd66ab130355fa76583807db338a271d56f6907")
        #expect(try SignedEnvelope.decodeEnvelope(envelope.encoded()) == envelope)
        #expect(envelope.encodedByteCount == envelope.encoded().count)
    }

    @Test func verifiesEverySignerOverThePayloadBytes() throws {
        let keys = [RFC8032.key1.publicKey, RFC8032.key2.publicKey]
        let lookup = { (id: KeyID) in keys.first { $0.keyID == id } }
        let envelope = try SignedEnvelope.signing(payload, with: [RFC8032.key1, RFC8032.key2])
        #expect(try envelope.verifySignatures(publicKey: lookup) == keys.map(\.keyID))

        let stranger = SigningKey()
        let unknown = try SignedEnvelope.signing(payload, with: [stranger])
        #expect(throws: EnvelopeError.unknownKey(stranger.publicKey.keyID)) { try unknown.verifySignatures(publicKey: lookup) }

        // A signature moved onto other payload bytes (one space added) fails.
        let moved = try SignedEnvelope(payload: payload + [0x20], signatures: envelope.signatures)
        #expect(throws: EnvelopeError.invalidSignature(keys[0].keyID, .mismatch)) { try moved.verifySignatures(publicKey: lookup) }

        // A key id that names one key but a lookup that returns another is not trusted.
        #expect(throws: EnvelopeError.unknownKey(keys[0].keyID)) { try envelope.verifySignatures { _ in keys[1] } }
    }

    @Test func refusesMalformedEnvelopes() throws {
        let signature = RFC8032.key1.sign(payload)
        let entry = EnvelopeSignature(keyID: RFC8032.key1.publicKey.keyID, signature: signature)
        #expect(throws: EnvelopeError.emptyPayload) { try SignedEnvelope(payload: [], signatures: [entry]) }
        #expect(throws: EnvelopeError.noSignatures) { try SignedEnvelope(payload: payload, signatures: []) }
        #expect(throws: EnvelopeError.duplicateKey(entry.keyID)) { try SignedEnvelope(payload: payload, signatures: [entry, entry]) }
        let big = [UInt8](repeating: 0x20, count: Limits.transactionPayloadBytesMax + 1)
        #expect(throws: EnvelopeError.payloadTooLarge(bytes: big.count)) { try SignedEnvelope(payload: big, signatures: [entry]) }
        let many = (0..<(Limits.envelopeSignaturesMax + 1)).map { _ in
            let key = SigningKey()
            return EnvelopeSignature(keyID: key.publicKey.keyID, signature: key.sign(payload))
        }
        #expect(throws: EnvelopeError.tooManySignatures(count: many.count)) { try SignedEnvelope(payload: payload, signatures: many) }

        let good = try SignedEnvelope(payload: payload, signatures: [entry]).encoded()
        #expect(throws: EnvelopeError.malformed(.trailingBytes(count: 1))) { try SignedEnvelope.decodeEnvelope(good + [0]) }
        #expect(throws: EnvelopeError.malformed(.truncated(field: "signature", needed: 64, remaining: 63))) {
            try SignedEnvelope.decodeEnvelope(Array(good.dropLast()))
        }
        // A length prefix that claims more than the limit is refused without reading on.
        var lying = good
        lying[0] = 0x7f
        #expect(throws: EnvelopeError.malformed(.lengthExceedsLimit(field: "payload", length: 0x7f00_0018, limit: Limits.transactionPayloadBytesMax))) {
            try SignedEnvelope.decodeEnvelope(lying)
        }
        #expect(throws: EnvelopeError.payloadTooLarge(bytes: Limits.envelopeBytesMax + 1)) {
            try SignedEnvelope.decodeEnvelope([UInt8](repeating: 0, count: Limits.envelopeBytesMax + 1))
        }
        #expect(throws: EnvelopeError.malformed(.truncated(field: "payload", needed: 4, remaining: 0))) { try SignedEnvelope.decodeEnvelope([]) }
    }

    @Test func jsonFormRoundTrips() throws {
        let envelope = try SignedEnvelope.signing(payload, with: [RFC8032.key1])
        let json = try JSONEncoder().encode(envelope)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains(#""keyId":"e0a75109"#))
        #expect(try JSONDecoder().decode(SignedEnvelope.self, from: json) == envelope)
        let noSignatures = Data(#"{"payload":"e30=","signatures":[]}"#.utf8)
        #expect(throws: EnvelopeError.noSignatures) { try JSONDecoder().decode(SignedEnvelope.self, from: noSignatures) }
        let notBase64 = Data(#"{"payload":"***","signatures":[]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SignedEnvelope.self, from: notBase64) }
    }
}
