import Foundation
import TamgaCore
import TamgaLedger

/// The printable view of an extract: the passport as a person reads it, with the verification
/// code and how to check the document offline.
enum ExtractPage {
    static func html(_ extract: Extract) -> String {
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
            <p>Chain <code>\(escape(extract.chainId))</code>, block \(extract.height).</p>
            <h2>Property \(escape(extract.cadastralNumber))</h2>
            <p>\(escape(passport.kind)), \(escape(passport.address)), area \(passport.area.rawValue / 100).\(String(format: "%02d", passport.area.rawValue % 100)) m²,
            registered \(date(passport.registeredAt.rawValue)).</p>
            <h3>Owners</h3><ul>\(owners)</ul>
            <h3>Encumbrances</h3>\(restrictions)
            <h3>Verification</h3>
            <p>Verification code: <code>\(extract.verificationCode)</code></p>
            <p>The machine-readable extract (the same URL without <code>?format=html</code>) carries the proof, the block
            header and the validators' signatures. Check it offline with <code>tamga verify extract.json --genesis genesis.json</code>.</p>
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
