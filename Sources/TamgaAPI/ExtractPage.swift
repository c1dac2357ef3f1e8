import Foundation
import TamgaCore
import TamgaLedger

/// The printable view of an extract: the passport as a person reads it, with the verification
/// code and how to check the document offline.
enum ExtractPage {
    static func html(_ extract: Extract, blockTime: Timestamp, verifyAddress: String) -> String {
        let passport = extract.passport
        let owners = passport.owners.map { "<li>\(escape($0.party.rawValue)): share \(escape(describe($0.share)))</li>" }.joined()
        let restrictions = passport.restrictions.isEmpty
            ? "<p class=\"free\">No arrests or pledges: the property is free of encumbrances at block \(extract.height).</p>"
            : "<ul>" + passport.restrictions.map { "<li>\(escape($0.kind.rawValue)) held by \(escape($0.holder.rawValue)) since \(date($0.since.rawValue))</li>" }.joined() + "</ul>"
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Extract \(escape(extract.cadastralNumber))</title>
            <style>body{font-family:serif;max-width:42em;margin:2em auto}code{word-break:break-all}.free{font-weight:bold}</style></head>
            <body>
            <h1>Extract from the real-estate register</h1>
            <p>Chain <code>\(escape(extract.chainId))</code>, block \(extract.height) of \(date(blockTime.rawValue)).</p>
            <h2>Property \(escape(extract.cadastralNumber))</h2>
            <p>\(escape(passport.kind)), \(escape(passport.address)), area \(passport.area.rawValue / 100).\(String(format: "%02d", passport.area.rawValue % 100)) m²,
            registered \(date(passport.registeredAt.rawValue)).</p>
            <h3>Owners</h3><ul>\(owners)</ul>
            <h3>Encumbrances</h3>\(restrictions)
            <h3>Verification</h3>
            <p>Check code: <code>\(extract.verificationCode)</code></p>
            <p>Verify at <code>\(escape(verifyAddress))</code>. The machine-readable extract (the same URL without
            <code>?format=html</code>) carries the proof, the block header and the validators' signatures; check it offline with
            <code>tamga verify extract.json --genesis genesis.json</code>.</p>
            </body></html>
            """
    }

    /// The pledge registration certificate: the pledge's terms and review, and the property as
    /// the extract proves it at the certificate's block (with the pledge among its encumbrances),
    /// under the extract's check code and the address where anyone verifies it.
    static func pledgeCertificate(_ pledge: Pledge, extract: Extract, blockTime: Timestamp, verifyAddress: String) -> String {
        let passport = extract.passport
        let owners = passport.owners.map { "<li>\(escape($0.party.rawValue)): share \(escape(describe($0.share)))</li>" }.joined()
        let documents = pledge.documents.map { "<li><code>\($0.hex)</code></li>" }.joined()
        let amount = "\(pledge.loanAmount.rawValue / 100).\(String(format: "%02d", pledge.loanAmount.rawValue % 100)) ₸"
        let registered = passport.restrictions.first { $0.id == pledge.id }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Pledge registration \(pledge.id.description.prefix(12))</title>
            <style>body{font-family:serif;max-width:42em;margin:2em auto}code{word-break:break-all}dt{font-weight:bold}</style></head>
            <body>
            <h1>Certificate of pledge registration</h1>
            <p>Chain <code>\(escape(extract.chainId))</code>, block \(extract.height) of \(date(blockTime.rawValue)).</p>
            <dl>
            <dt>Pledge</dt><dd><code>\(pledge.id)</code></dd>
            <dt>Status</dt><dd>\(escape(pledge.status.rawValue))\(registered.map { " since \(date($0.since.rawValue))" } ?? "")</dd>
            <dt>Property</dt><dd>\(escape(passport.cadastralNumber.rawValue)), \(escape(passport.kind)), \(escape(passport.address))</dd>
            <dt>Pledge holder (bank)</dt><dd>\(escape(pledge.bank.rawValue))</dd>
            <dt>Loan amount</dt><dd>\(amount)</dd>
            <dt>Signed by the owners</dt><dd>\(escape(pledge.signedBy.map(\.rawValue).joined(separator: ", ")))</dd>
            <dt>Reviewed by</dt><dd>\(escape(pledge.reviewedBy?.rawValue ?? "not yet reviewed"))</dd>
            </dl>
            <h3>Owners</h3><ul>\(owners)</ul>
            <h3>Source documents (SHA-256)</h3><ul>\(documents)</ul>
            <h3>Verification</h3>
            <p>Check code: <code>\(extract.verificationCode)</code></p>
            <p>Verify at <code>\(escape(verifyAddress))</code>, or offline: the property's extract under this code carries
            the proof, the block header and the validators' signatures (<code>tamga verify extract.json --genesis genesis.json</code>).</p>
            </body></html>
            """
    }

    private static func describe(_ share: Share) -> String {
        (try? String(data: JSONEncoder().encode(share), encoding: .utf8))?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) ?? "?"
    }

    private static func date(_ millis: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1_000))
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
