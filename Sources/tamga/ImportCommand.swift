import ArgumentParser
import Foundation
import NIOHTTP1
import TamgaCore
import TamgaLedger
import TamgaNode

/// `tamga import`: moves an existing register onto the chain through a registrar's signed
/// transactions, resumable, with a report that proves every imported record.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Register an existing register's properties on the chain from CSV or JSON, in batches, resumable after a crash, with a verified report.",
        discussion: """
            Each row is a property: cadastralNumber, kind, address, areaM2 (up to two decimals), owners ("party:share;party:share", \
            shares like 1/2; the owners must be enrolled), titleDocumentSha256, and optionally titleDocumentFile (a PDF, PNG or JPEG \
            uploaded first, whose SHA-256 must match) and arrestOrderSha256 (an arrest the court of --court-key imposes after the \
            registration). A CSV has these names in its first line; JSON is an array of objects or one object per line.
            A row that does not parse, or that the ledger refuses, is reported and skipped; the import goes on. Every transaction is \
            written to the journal before it is sent, so a rerun with the same journal resumes where a crash left off: it waits for \
            what was in flight, and registers nothing twice. The report proves each imported property with its extract, verified \
            against the genesis validators, and compares the proven passport with the row.
            """
    )

    @OptionGroup var signer: SignerOptions
    @Option(help: "The register to import: .csv, .json or .jsonl.") var file: String
    @Option(help: "The journal that makes the import resumable (created if absent; keep it until the import is done).") var journal: String
    @Option(help: "Where to write the report (JSON).") var report: String
    @Option(help: "A court's key file, to impose the arrests the register lists (with --court).") var courtKey: String?
    @Option(help: "The court's party id.") var court: String?
    @Option(help: "Transactions in flight at once.") var batch = 200
    @Option(help: "The network's genesis.json, to verify the report's extracts against (default: the validators the node names).") var genesis: String?

    func validate() throws {
        guard (1...Limits.blockTransactionsMax).contains(batch) else { throw ValidationError("--batch is 1...\(Limits.blockTransactionsMax)") }
        guard (courtKey == nil) == (court == nil) else { throw ValidationError("--court-key and --court go together") }
    }

    func run() async throws {
        let rows = try ImportRow.read(URL(fileURLWithPath: file))
        let registrarKeys = try signer.key.map { try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: $0)))) }
        let courtSigner = try courtKey.map { (party: try PartyID(court ?? ""), key: try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: $0))))) }
        try await NodeClient.with(signer.node) { client in
            var importer = try await Importer(client: client, journalURL: URL(fileURLWithPath: journal), registrar: (try PartyID(signer.party), registrarKeys),
                                              court: courtSigner, fee: Tiyn(signer.fee), batch: batch)
            try await importer.run(rows)
            let trusted = try genesis.map { try GenesisFile.load(URL(fileURLWithPath: $0)) }
            let outcome = try await importer.report(rows, genesis: trusted)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(outcome).write(to: URL(fileURLWithPath: report), options: .atomic)
            print("imported \(outcome.imported), refused \(outcome.refused), invalid \(outcome.invalid), of \(rows.count) rows; \(outcome.verified) imported records verified against the chain")
            print("report: \(report)")
        }
    }
}

/// One row of the register, as read; `problem` says why it cannot be imported.
struct ImportRow {
    let line: Int
    let fields: [String: String]
    var cadastralNumber: String { fields["cadastralNumber"] ?? "" }

    /// The registration (and arrest order) the row asks for, or why it cannot be built.
    func registration() throws -> (RegisterProperty, arrestOrder: Hash?) {
        func field(_ name: String) throws -> String {
            guard let value = fields[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { throw ImportProblem("\(name) is missing") }
            return value
        }
        let number: CadastralNumber
        do { number = try CadastralNumber(try field("cadastralNumber")) } catch let problem as ImportProblem { throw problem } catch { throw ImportProblem("cadastralNumber: \(error)") }
        let area = try field("areaM2")
        let parts = area.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = UInt64(parts[0]), parts.count == 1 || (1...2).contains(parts[1].count),
              let fraction = parts.count == 2 ? UInt64(parts[1].count == 1 ? parts[1] + "0" : parts[1]) : 0,
              whole <= UInt64.max / 100 - 1 else { throw ImportProblem("areaM2 \(area) is not square metres with up to two decimals") }
        var owners: [Ownership] = []
        for entry in try field("owners").split(separator: ";") {
            let pair = entry.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { throw ImportProblem("owners: \(entry) is not party:share") }
            do {
                owners.append(Ownership(party: try PartyID(pair[0]), share: try Share(parsing: pair[1])))
            } catch {
                throw ImportProblem("owners: \(entry): \(error)")
            }
        }
        guard let title = Hash(hex: try field("titleDocumentSha256")) else { throw ImportProblem("titleDocumentSha256 is not 64 hex characters") }
        let arrest = try fields["arrestOrderSha256"].flatMap { $0.isEmpty ? nil : $0 }.map { text in
            guard let hash = Hash(hex: text) else { throw ImportProblem("arrestOrderSha256 is not 64 hex characters") }
            return hash
        }
        return (RegisterProperty(cadastralNumber: number, kind: try field("kind"), address: try field("address"),
                                 area: AreaHundredths(whole * 100 + fraction), location: nil, owners: owners, titleDocumentHash: title), arrest)
    }

    /// Reads CSV (a header line, then rows; fields may be quoted, with "" for a quote) or JSON.
    static func read(_ url: URL) throws -> [ImportRow] {
        let data = try Data(contentsOf: url)
        switch url.pathExtension.lowercased() {
        case "csv":
            let records = parseCSV(String(decoding: data, as: UTF8.self))
            guard let header = records.first else { return [] }
            return records.dropFirst().enumerated().compactMap { offset, values in
                values == [""] ? nil : ImportRow(line: offset + 2, fields: Dictionary(zip(header, values), uniquingKeysWith: { first, _ in first }))
            }
        case "json", "jsonl":
            let objects: [Any]
            if let array = try? JSONSerialization.jsonObject(with: data) as? [Any] {
                objects = array
            } else {
                objects = try String(decoding: data, as: UTF8.self).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) }
            }
            return objects.enumerated().map { offset, object in
                let fields = (object as? [String: Any] ?? [:]).mapValues { value in
                    if let owners = value as? [[String: Any]] {
                        return owners.map { "\($0["party"] ?? ""):\($0["share"] ?? "")" }.joined(separator: ";")
                    }
                    return "\(value)"
                }
                return ImportRow(line: offset + 1, fields: fields)
            }
        default:
            throw ValidationError("the register is a .csv, .json or .jsonl file")
        }
    }

    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = ""
        var quoted = false, characters = Array(text), index = 0
        while index < characters.count {
            let character = characters[index]
            if quoted {
                if character == "\"" {
                    if index + 1 < characters.count, characters[index + 1] == "\"" { field.append("\""); index += 1 } else { quoted = false }
                } else {
                    field.append(character)
                }
            } else {
                switch character {
                case "\"": quoted = true
                case ",": record.append(field); field = ""
                case "\n", "\r\n":
                    record.append(field)
                    records.append(record)
                    (record, field) = ([], "")
                case "\r": break
                default: field.append(character)
                }
            }
            index += 1
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        characters = []
        return records
    }
}

/// Any answer at all: the property exists.
private struct Registered: Decodable {}

struct ImportProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What the journal records: a transaction signed for a row (before it is sent), and a row's outcome.
struct JournalEntry: Codable {
    var line: Int
    var cadastralNumber: String
    /// "registration" or "arrest".
    var step: String
    var transaction: String?
    var envelope: SignedEnvelope?
    var expiresAt: UInt64?
    /// Once final: "committed", "rejected" (with the ledger's code), or "expired" (never committed; signed again).
    var outcome: String?
    var code: String?
    var message: String?
    var height: UInt64?
}

/// The import's state: the journal read back, and the transactions in flight.
struct Importer {
    let client: NodeClient
    let journalURL: URL
    let registrar: (party: PartyID, keys: [SigningKey])
    let court: (party: PartyID, key: SigningKey)?
    let fee: Tiyn
    let batch: Int
    let chain: ChainID
    /// The final entry of each (line, step), from the journal.
    private(set) var finals: [String: JournalEntry] = [:]
    private var journal: FileHandle
    /// A session of the registrar: the node shows a transaction's receipt to its signer or an authority.
    private let session: [(String, String)]

    init(client: NodeClient, journalURL: URL, registrar: (PartyID, [SigningKey]), court: (party: PartyID, key: SigningKey)?, fee: Tiyn, batch: Int) async throws {
        self.client = client
        self.journalURL = journalURL
        self.registrar = registrar
        self.court = court
        self.fee = fee
        self.batch = batch
        guard let status = try await client.get("/v1/status", as: NodeClient.StatusReply.self) else { throw CommandFailure("the node answered no status") }
        chain = try ChainID(status.chainId)
        session = [("Authorization", "Bearer \(try await client.openSession(party: registrar.0.rawValue, key: registrar.1[0]))")]
        if !FileManager.default.fileExists(atPath: journalURL.path) { FileManager.default.createFile(atPath: journalURL.path, contents: nil) }
        let existing = try Data(contentsOf: journalURL)
        var pending: [JournalEntry] = []
        // A line cut short by a crash is the last one, and was never acted on: it is dropped.
        for line in existing.split(separator: UInt8(ascii: "\n")) {
            guard let entry = try? JSONDecoder().decode(JournalEntry.self, from: Data(line)) else { continue }
            if entry.outcome == nil {
                pending.append(entry)
            } else {
                pending.removeAll { $0.transaction == entry.transaction }
                // An expired transaction's row is imported again.
                if entry.outcome != "expired" { finals[Self.key(entry.line, entry.step)] = entry }
            }
        }
        journal = try FileHandle(forWritingTo: journalURL)
        try journal.seekToEnd()
        // What was in flight when the last run stopped: final on chain, still coming, or expired.
        if !pending.isEmpty {
            print("resuming: \(finals.count) rows final, \(pending.count) transactions in flight")
            try await settle(pending)
        }
    }

    private static func key(_ line: Int, _ step: String) -> String { "\(line)/\(step)" }

    private mutating func record(_ entry: JournalEntry) throws {
        try journal.write(contentsOf: try JSONEncoder().encode(entry) + Data("\n".utf8))
        try journal.synchronize()
        if entry.outcome != nil { finals[Self.key(entry.line, entry.step)] = entry }
    }

    /// Imports every row not yet final: registrations in batches, then the arrests of rows registered.
    mutating func run(_ rows: [ImportRow]) async throws {
        for row in rows {
            for step in ["registration", "arrest"] {
                if let entry = finals[Self.key(row.line, step)], entry.cadastralNumber != row.cadastralNumber {
                    throw CommandFailure("line \(row.line) holds \(row.cadastralNumber), but the journal has \(entry.cadastralNumber) there: the register file changed since the journal was started; use a new journal")
                }
            }
        }
        var waiting: [(row: ImportRow, action: Action)] = []
        for row in rows where finals[Self.key(row.line, "registration")] == nil {
            do {
                let (registration, _) = try row.registration()
                // On the chain already: imported by an earlier run (whose journal lost the outcome)
                // if it holds what the row says, else registered by someone else; never registered twice.
                if let passport = try await onChain(row.cadastralNumber) {
                    let imported = Self.holds(passport, registration)
                    try record(JournalEntry(line: row.line, cadastralNumber: row.cadastralNumber, step: "registration",
                                            outcome: imported ? "committed" : "rejected", code: imported ? nil : "property.exists",
                                            message: imported ? "found on the chain as the row says" : "registered on the chain already, otherwise than the row says"))
                    continue
                }
                if let file = row.fields["titleDocumentFile"], !file.isEmpty { try await upload(file, expected: registration.titleDocumentHash) }
                waiting.append((row, .registerProperty(registration)))
            } catch let problem as ImportProblem {
                try record(JournalEntry(line: row.line, cadastralNumber: row.cadastralNumber, step: "registration", outcome: "invalid", message: problem.description))
            }
            if waiting.count == batch {
                try await submit(waiting, step: "registration", signer: registrar)
                waiting = []
            }
        }
        if !waiting.isEmpty { try await submit(waiting, step: "registration", signer: registrar) }

        var arrests: [(row: ImportRow, action: Action)] = []
        for row in rows where finals[Self.key(row.line, "registration")]?.outcome == "committed" && finals[Self.key(row.line, "arrest")] == nil {
            guard let (registration, order) = try? row.registration(), let order else { continue }
            guard court != nil else {
                try record(JournalEntry(line: row.line, cadastralNumber: row.cadastralNumber, step: "arrest", outcome: "invalid",
                                        message: "the row lists an arrest; give --court-key and --court to impose it"))
                continue
            }
            // An arrest by this order on the property already (an earlier run's) is not imposed again.
            if let passport = try await onChain(row.cadastralNumber), passport.restrictions.contains(where: { $0.kind == .arrest && $0.documentHash == order }) {
                try record(JournalEntry(line: row.line, cadastralNumber: row.cadastralNumber, step: "arrest", outcome: "committed",
                                        message: "found on the chain"))
                continue
            }
            arrests.append((row, .imposeArrest(ImposeArrest(cadastralNumber: registration.cadastralNumber, orderHash: order))))
        }
        if let court {
            for start in stride(from: 0, to: arrests.count, by: batch) {
                try await submit(Array(arrests[start..<min(start + batch, arrests.count)]), step: "arrest", signer: (court.party, [court.key]))
            }
        }
    }

    /// Signs the rows' transactions with consecutive nonces, journals each before sending it, sends
    /// them all, and waits until each is final.
    private mutating func submit(_ rows: [(row: ImportRow, action: Action)], step: String, signer: (party: PartyID, keys: [SigningKey])) async throws {
        guard let party = try await client.get("/v1/parties/\(signer.party)", as: NodeClient.PartyReply.self) else {
            throw CommandFailure("\(signer.party) is not enrolled on this chain")
        }
        // Ten minutes: long enough to be committed, short enough that a resumed run need not wait long for one that never will be.
        let expiresAt = UInt64(Date().timeIntervalSince1970 * 1_000) + 600_000
        var entries: [JournalEntry] = []
        for (offset, item) in rows.enumerated() {
            let payload = TransactionPayload(chainID: chain, signer: signer.party, nonce: party.nonce + 1 + UInt64(offset), fee: fee,
                                             expiresAt: Timestamp(millisecondsSinceEpoch: expiresAt), action: item.action)
            let envelope = try SignedEnvelope.signing(payload.encoded(), with: signer.keys)
            let entry = JournalEntry(line: item.row.line, cadastralNumber: item.row.cadastralNumber, step: step,
                                     transaction: envelope.transactionID.description, envelope: envelope, expiresAt: expiresAt)
            try record(entry)
            entries.append(entry)
        }
        try await settle(entries)
    }

    /// Sends each entry's envelope (again, if need be; the same transaction is never committed
    /// twice) and waits until each is committed, rejected, or past its expiry.
    private mutating func settle(_ entries: [JournalEntry]) async throws {
        var open = entries
        var sent = Set<String>()
        while !open.isEmpty {
            // A transaction can be committed until a block's time passes its expiry; the node's
            // last block time says when that has happened, whatever this machine's clock says.
            let chainTime = (try? await client.get("/v1/status", as: NodeClient.StatusReply.self))?.latestBlockTime ?? 0
            var still: [JournalEntry] = []
            for var entry in open {
                guard let id = entry.transaction, let envelope = entry.envelope else { continue }
                let reply = try? JSONDecoder().decode(NodeClient.TransactionReply.self,
                                                      from: try await client.request("/v1/transactions/\(id)", headers: session))
                if let reply, reply.status == "committed" || reply.status == "rejected" {
                    entry.outcome = reply.status
                    entry.code = reply.receipt?.rejectionCode
                    entry.message = reply.receipt?.rejectionMessage
                    entry.height = reply.height
                    (entry.envelope, entry.expiresAt) = (nil, nil)
                    try record(entry)
                } else if chainTime > (entry.expiresAt ?? 0) {
                    // The chain is past its expiry: it will never be committed, and its row is
                    // imported again by the next run.
                    entry.outcome = "expired"
                    (entry.envelope, entry.expiresAt) = (nil, nil)
                    try record(entry)
                    finals[Self.key(entry.line, entry.step)] = nil
                } else {
                    // Unknown to the node, or dropped from its mempool (another node may still hold
                    // it): sent again, the same transaction, which is committed once at most.
                    if reply == nil || reply?.status == "unknown" || reply?.status == "dropped" || !sent.contains(id) {
                        _ = try? await client.submit(envelope, waitForCommit: false)
                        sent.insert(id)
                    }
                    still.append(entry)
                }
            }
            open = still
            if !open.isEmpty { try await Task.sleep(for: .milliseconds(300)) }
        }
    }

    /// The property's passport on the chain (read with the registrar's session), or nil if it is not registered.
    private func onChain(_ number: String) async throws -> Passport? {
        guard try await client.get("/v1/properties/\(number)/encumbrances", as: Registered.self) != nil else { return nil }
        return try JSONDecoder().decode(Passport.self, from: try await client.request("/v1/properties/\(number)", headers: session))
    }

    /// Whether a passport holds what a row registers: owners and shares, area, address, kind, title document.
    static func holds(_ passport: Passport, _ registration: RegisterProperty) -> Bool {
        passport.area == registration.area && passport.address == registration.address && passport.kind == registration.kind
            && passport.documents.contains(registration.titleDocumentHash) && Set(passport.owners) == Set(registration.owners)
    }

    /// A property's extract; one registered in the last block is proven once the next block names its state.
    private func extract(_ number: String) async throws -> Data {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await client.request("/v1/properties/\(number)/extract", headers: session)
            } catch let failure as NodeClient.Failure where failure.description.contains("extract.no_block_yet") && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func upload(_ file: String, expected: Hash) async throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        guard Hash.sha256(Array(bytes)) == expected else { throw ImportProblem("titleDocumentFile \(file) does not hash to titleDocumentSha256") }
        let type = switch URL(fileURLWithPath: file).pathExtension.lowercased() {
        case "pdf": "application/pdf"
        case "png": "image/png"
        default: "image/jpeg"
        }
        do {
            _ = try await client.request("/v1/documents", method: .POST, headers: session + [("Content-Type", type)], body: bytes)
        } catch {
            throw ImportProblem("titleDocumentFile \(file) was not taken: \(error)")
        }
    }

    /// The report: every row's outcome, and for each imported property its extract verified
    /// against the genesis validators and compared with the row.
    func report(_ rows: [ImportRow], genesis: GenesisFile?) async throws -> ImportReport {
        struct PublicGenesis: Decodable {
            let chainId: ChainID
            let validators: [GenesisFile.ValidatorEntry]
        }
        let named = try JSONDecoder().decode(PublicGenesis.self, from: try await client.request("/v1/genesis"))
        let chain = genesis?.chainID ?? named.chainId
        let validators = try genesis?.validatorSet() ?? ValidatorSet(named.validators.map { Validator(publicKey: $0.publicKey, votingPower: $0.votingPower) })
        var entries: [ImportReport.Row] = []
        for row in rows {
            let registration = finals[Self.key(row.line, "registration")]
            var entry = ImportReport.Row(line: row.line, cadastralNumber: row.cadastralNumber, status: registration?.outcome ?? "not imported",
                                         code: registration?.code, message: registration?.message, transaction: registration?.transaction,
                                         height: registration?.height, arrest: finals[Self.key(row.line, "arrest")]?.outcome)
            if registration?.outcome == "committed", let (expected, _) = try? row.registration() {
                let data = try await extract(row.cadastralNumber)
                let extract = try JSONDecoder().decode(Extract.self, from: data)
                do {
                    let header = try extract.verify(chain: chain, validators: validators)
                    let matches = Self.holds(extract.passport, expected)
                    entry.proof = ImportReport.Proof(verified: true, matchesRow: matches, height: header.height.rawValue,
                                                     stateRoot: header.stateRoot.hex, verificationCode: extract.verificationCode)
                } catch {
                    entry.proof = ImportReport.Proof(verified: false, matchesRow: false, height: extract.height, stateRoot: "", verificationCode: "\(error)")
                }
            }
            entries.append(entry)
        }
        return ImportReport(rows: entries)
    }
}

/// `tamga import`'s report.
struct ImportReport: Encodable {
    struct Proof: Encodable {
        /// The extract's commit and proof check against the genesis validators.
        let verified: Bool
        /// The proven passport holds what the row says (owners and shares, area, address, kind, title document).
        let matchesRow: Bool
        let height: UInt64
        let stateRoot: String
        let verificationCode: String
    }

    struct Row: Encodable {
        let line: Int
        let cadastralNumber: String
        /// committed, rejected (by the ledger, with its code), invalid (the row does not parse), expired, or not imported.
        let status: String
        let code: String?
        let message: String?
        let transaction: String?
        let height: UInt64?
        let arrest: String?
        var proof: Proof?
    }

    let rows: [Row]
    var imported: Int { rows.count(where: { $0.status == "committed" }) }
    var refused: Int { rows.count(where: { $0.status == "rejected" }) }
    var invalid: Int { rows.count(where: { $0.status == "invalid" }) }
    var verified: Int { rows.count(where: { $0.proof?.verified == true && $0.proof?.matchesRow == true }) }

    enum CodingKeys: String, CodingKey { case rows, imported, refused, invalid, verified }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rows, forKey: .rows)
        try container.encode(imported, forKey: .imported)
        try container.encode(refused, forKey: .refused)
        try container.encode(invalid, forKey: .invalid)
        try container.encode(verified, forKey: .verified)
    }
}
