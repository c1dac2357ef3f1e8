import Foundation
import PostgresNIO
import TamgaConsensus
import TamgaCore
import TamgaLedger

/// The register's tables (docs/integrations.md). Amounts are tiyn as NUMERIC(20), so that no
/// 64-bit amount is cut; times are the chain's block times.
enum RegisterSchema {
    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS tamga_checkpoint (
            id INT PRIMARY KEY CHECK (id = 1), chain_id TEXT NOT NULL, height BIGINT NOT NULL, block_hash TEXT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS tamga_block (
            height BIGINT PRIMARY KEY, block_hash TEXT NOT NULL UNIQUE, block_time TIMESTAMPTZ NOT NULL, transactions INT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS la_party (
            party_id TEXT PRIMARY KEY, name TEXT NOT NULL, roles TEXT[] NOT NULL, balance_tiyn NUMERIC(20) NOT NULL,
            held_tiyn NUMERIC(20) NOT NULL, updated_height BIGINT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS la_baunit (
            cadastral_number TEXT PRIMARY KEY, region TEXT NOT NULL, kind TEXT NOT NULL, address TEXT NOT NULL,
            area_m2 NUMERIC(22, 2) NOT NULL, latitude DOUBLE PRECISION, longitude DOUBLE PRECISION,
            registered_at TIMESTAMPTZ NOT NULL, arrested BOOLEAN NOT NULL, updated_height BIGINT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS la_right (
            cadastral_number TEXT NOT NULL REFERENCES la_baunit, party_id TEXT NOT NULL,
            share_numerator NUMERIC(20) NOT NULL, share_denominator NUMERIC(20) NOT NULL,
            PRIMARY KEY (cadastral_number, party_id))
        """,
        "CREATE INDEX IF NOT EXISTS la_right_party ON la_right (party_id)",
        """
        CREATE TABLE IF NOT EXISTS la_restriction (
            restriction_id TEXT PRIMARY KEY, cadastral_number TEXT NOT NULL REFERENCES la_baunit, kind TEXT NOT NULL,
            holder TEXT NOT NULL, source_document TEXT NOT NULL, since TIMESTAMPTZ NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS la_restriction_property ON la_restriction (cadastral_number)",
        """
        CREATE TABLE IF NOT EXISTS la_mortgage (
            pledge_id TEXT PRIMARY KEY, cadastral_number TEXT NOT NULL, bank TEXT NOT NULL, loan_amount_tiyn NUMERIC(20) NOT NULL,
            status TEXT NOT NULL, documents TEXT[] NOT NULL, signed_by TEXT[] NOT NULL, reviewed_by TEXT, rejection_reason TEXT,
            created_at TIMESTAMPTZ NOT NULL, updated_height BIGINT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS la_administrative_source (
            document_hash TEXT NOT NULL, record TEXT NOT NULL, transaction_id TEXT NOT NULL, signer TEXT NOT NULL, height BIGINT NOT NULL,
            PRIMARY KEY (document_hash, transaction_id, record))
        """,
        """
        CREATE TABLE IF NOT EXISTS tamga_deed (
            deed_id TEXT PRIMARY KEY, cadastral_number TEXT NOT NULL, price_tiyn NUMERIC(20) NOT NULL, status TEXT NOT NULL,
            parties TEXT[] NOT NULL, signed_by TEXT[] NOT NULL, created_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL,
            updated_height BIGINT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS tamga_history (
            height BIGINT NOT NULL, position INT NOT NULL, seq INT NOT NULL, block_time TIMESTAMPTZ NOT NULL,
            transaction_id TEXT NOT NULL, kind TEXT NOT NULL, parties TEXT[] NOT NULL, properties TEXT[] NOT NULL,
            deed_id TEXT, amount_tiyn NUMERIC(20), PRIMARY KEY (height, position, seq))
        """,
        // Deeds paid outside the token name the bank that confirmed the payment (added after the first release).
        "ALTER TABLE tamga_deed ADD COLUMN IF NOT EXISTS payment_bank TEXT",
        "ALTER TABLE tamga_deed ADD COLUMN IF NOT EXISTS payment_order TEXT",
        // The block time a pledge came into force (registered by a registrar or with a settled deed).
        "ALTER TABLE la_mortgage ADD COLUMN IF NOT EXISTS registered_at TIMESTAMPTZ",
        "CREATE INDEX IF NOT EXISTS tamga_history_properties ON tamga_history USING GIN (properties)",
        "CREATE INDEX IF NOT EXISTS tamga_history_kind_time ON tamga_history (kind, block_time)",
    ]
}

/// What one block changes in the register, as SQL statements, read from the state after it.
///
/// Which records changed is read from the block's state updates, not from its events: fees, the
/// validators' share of them and the expiry of deeds at the end of a block change accounts and
/// deeds without an event naming them, and the register must hold what the state holds.
struct RegisterRows {
    private(set) var statements: [PostgresQuery] = []
    /// Rows inserted or updated.
    private(set) var rowCount = 0

    private mutating func add(_ statement: PostgresQuery, rows: Int = 1) {
        statements.append(statement)
        rowCount += rows
    }

    /// - Parameter updates: every record the block changed (for block 1, with the genesis state's).
    init(block: Block, receipts: [Receipt], updates: [StateUpdate], queries: LedgerQueries<some LedgerStateReading>) throws {
        let height = Int64(block.header.height.rawValue)
        let time = Self.date(block.header.time)
        add("""
            INSERT INTO tamga_block (height, block_hash, block_time, transactions) VALUES (\(height), \(block.hash.hex), \(time), \(block.transactions.count))
            """)
        var properties = Set<CadastralNumber>()
        var parties = Set<PartyID>()
        var deeds = Set<TransactionID>()
        var pledges = Set<TransactionID>()
        for update in updates {
            let key = String(decoding: update.key, as: UTF8.self)
            guard let slash = key.firstIndex(of: "/") else { continue }
            let name = key[key.index(after: slash)...]
            switch key[..<slash] {
            case "party", "account": if let party = try? PartyID(String(name)) { parties.insert(party) }
            case "property": if let number = try? CadastralNumber(String(name)) { properties.insert(number) }
            case "deed": if let hash = Hash(hex: name) { deeds.insert(TransactionID(hash: hash)) }
            case "pledge": if let hash = Hash(hex: name) { pledges.insert(TransactionID(hash: hash)) }
            default: break
            }
        }
        var history = MultiRowInsert(
            into: "tamga_history (height, position, seq, block_time, transaction_id, kind, parties, properties, deed_id, amount_tiyn)",
            casts: ["", "", "", "", "", "", "", "", "", "::numeric"], then: "")
        for (position, (envelope, receipt)) in zip(block.transactions, receipts).enumerated() {
            for (seq, event) in receipt.events.enumerated() {
                history.row { binds in
                    binds.append(height)
                    binds.append(Int32(position))
                    binds.append(Int32(seq))
                    binds.append(time)
                    binds.append(receipt.transaction.description)
                    binds.append(event.kind)
                    binds.append(event.parties.map(\.rawValue))
                    binds.append(event.properties.map(\.rawValue))
                    binds.append(event.deed?.description)
                    binds.append(event.amount.map { String($0.rawValue) })
                }
            }
            guard receipt.isCommitted, case let .success(payload) = PreparedTransaction(envelope).payload else { continue }
            for cited in payload.action.citedDocuments {
                add("""
                    INSERT INTO la_administrative_source (document_hash, record, transaction_id, signer, height)
                    VALUES (\(cited.document.hex), \(cited.record), \(receipt.transaction.description), \(payload.signer.rawValue), \(height))
                    ON CONFLICT DO NOTHING
                    """)
            }
        }
        statements += history.allStatements
        rowCount += history.total
        var partyRows = MultiRowInsert(
            into: "la_party (party_id, name, roles, balance_tiyn, held_tiyn, updated_height)", casts: ["", "", "", "::numeric", "::numeric", ""],
            then: """
                ON CONFLICT (party_id) DO UPDATE SET name = EXCLUDED.name, roles = EXCLUDED.roles, balance_tiyn = EXCLUDED.balance_tiyn,
                    held_tiyn = EXCLUDED.held_tiyn, updated_height = EXCLUDED.updated_height
                """)
        for party in parties.sorted() {
            guard let record = try queries.party(party) else { continue }
            let account = try queries.account(party)
            partyRows.row { binds in
                binds.append(party.rawValue)
                binds.append(record.name)
                binds.append(record.roles.map(\.rawValue))
                binds.append(String(account.balance.rawValue))
                binds.append(String(account.held.rawValue))
                binds.append(height)
            }
        }
        statements += partyRows.allStatements
        rowCount += partyRows.total
        for number in properties.sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let passport = try queries.passport(number) else { continue }
            let region = String(number.rawValue.prefix { $0 != "-" })
            let area = String(format: "%llu.%02llu", passport.area.rawValue / 100, passport.area.rawValue % 100)
            let latitude = passport.location.map { Double($0.latitudeMicrodegrees) / 1_000_000 }
            let longitude = passport.location.map { Double($0.longitudeMicrodegrees) / 1_000_000 }
            add("""
                INSERT INTO la_baunit (cadastral_number, region, kind, address, area_m2, latitude, longitude, registered_at, arrested, updated_height)
                VALUES (\(number.rawValue), \(region), \(passport.kind), \(passport.address), \(area)::numeric, \(latitude), \(longitude),
                        \(Self.date(passport.registeredAt)), \(passport.isArrested), \(height))
                ON CONFLICT (cadastral_number) DO UPDATE SET kind = EXCLUDED.kind, address = EXCLUDED.address, area_m2 = EXCLUDED.area_m2,
                    latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, arrested = EXCLUDED.arrested, updated_height = EXCLUDED.updated_height
                """)
            add("DELETE FROM la_right WHERE cadastral_number = \(number.rawValue)", rows: 0)
            for owner in passport.owners {
                add("""
                    INSERT INTO la_right (cadastral_number, party_id, share_numerator, share_denominator)
                    VALUES (\(number.rawValue), \(owner.party.rawValue), \(String(owner.share.numerator))::numeric, \(String(owner.share.denominator))::numeric)
                    """)
            }
            add("DELETE FROM la_restriction WHERE cadastral_number = \(number.rawValue)", rows: 0)
            for restriction in passport.restrictions {
                add("""
                    INSERT INTO la_restriction (restriction_id, cadastral_number, kind, holder, source_document, since)
                    VALUES (\(restriction.id.description), \(number.rawValue), \(restriction.kind.rawValue), \(restriction.holder.rawValue),
                            \(restriction.documentHash.hex), \(Self.date(restriction.since)))
                    """)
            }
        }
        for id in pledges.sorted() {
            guard let pledge = try queries.pledge(id) else { continue }
            add("""
                INSERT INTO la_mortgage (pledge_id, cadastral_number, bank, loan_amount_tiyn, status, documents, signed_by, reviewed_by,
                                         rejection_reason, created_at, registered_at, updated_height)
                VALUES (\(id.description), \(pledge.cadastralNumber.rawValue), \(pledge.bank.rawValue), \(String(pledge.loanAmount.rawValue))::numeric,
                        \(pledge.status.rawValue), \(pledge.documents.map(\.hex)), \(pledge.signedBy.map(\.rawValue)), \(pledge.reviewedBy?.rawValue),
                        \(pledge.rejectionReason), \(Self.date(pledge.createdAt)), \(pledge.status == .registered ? time : nil), \(height))
                ON CONFLICT (pledge_id) DO UPDATE SET status = EXCLUDED.status, signed_by = EXCLUDED.signed_by, reviewed_by = EXCLUDED.reviewed_by,
                    rejection_reason = EXCLUDED.rejection_reason, registered_at = COALESCE(la_mortgage.registered_at, EXCLUDED.registered_at),
                    updated_height = EXCLUDED.updated_height
                """)
        }
        for id in deeds.sorted() {
            guard let deed = try queries.deed(id) else { continue }
            add("""
                INSERT INTO tamga_deed (deed_id, cadastral_number, price_tiyn, status, parties, signed_by, created_at, expires_at, payment_bank,
                                        payment_order, updated_height)
                VALUES (\(id.description), \(deed.cadastralNumber.rawValue), \(String(deed.price.rawValue))::numeric, \(deed.status.rawValue),
                        \(deed.parties.map(\.rawValue)), \(deed.signedBy.map(\.rawValue)), \(Self.date(deed.createdAt)), \(Self.date(deed.expiresAt)),
                        \(deed.paymentBank?.rawValue), \(deed.paymentOrderHash?.hex), \(height))
                ON CONFLICT (deed_id) DO UPDATE SET status = EXCLUDED.status, signed_by = EXCLUDED.signed_by, payment_order = EXCLUDED.payment_order,
                    updated_height = EXCLUDED.updated_height
                """)
        }
    }

    static func date(_ time: Timestamp) -> Date { Date(timeIntervalSince1970: Double(time.rawValue) / 1_000) }
}

/// One `INSERT … VALUES (…), (…), …` per `rowsPerStatement` rows: a block of thousands of
/// transactions is a few round trips to the server, not one per row.
struct MultiRowInsert {
    static let rowsPerStatement = 500

    let into: String
    /// A cast after each column's placeholder (`::numeric`), or "".
    let casts: [String]
    /// What follows the values (an `ON CONFLICT` clause), or "".
    let then: String
    private var rows = 0
    private(set) var total = 0
    private var binds = PostgresBindings()
    private(set) var statements: [PostgresQuery] = []

    init(into: String, casts: [String], then: String) {
        self.into = into
        self.casts = casts
        self.then = then
    }

    /// Adds a row; `fill` appends exactly one bind per column.
    mutating func row(_ fill: (inout PostgresBindings) -> Void) {
        fill(&binds)
        rows += 1
        total += 1
        if rows == Self.rowsPerStatement { flush() }
    }

    private mutating func flush() {
        guard rows > 0 else { return }
        let columns = casts.count
        let tuples = (0..<rows).map { row in
            "(" + casts.enumerated().map { column, cast in "$\(row * columns + column + 1)\(cast)" }.joined(separator: ", ") + ")"
        }
        statements.append(PostgresQuery(unsafeSQL: "INSERT INTO \(into) VALUES \(tuples.joined(separator: ", ")) \(then)", binds: binds))
        rows = 0
        binds = PostgresBindings()
    }

    var allStatements: [PostgresQuery] {
        var copy = self
        copy.flush()
        return copy.statements
    }
}
