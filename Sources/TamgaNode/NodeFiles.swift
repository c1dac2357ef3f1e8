public import Foundation
public import TamgaConsensus
public import TamgaCore
public import TamgaLedger
public import TamgaNetwork

/// Why a node's files cannot be used.
public enum NodeFileError: CodedError, Equatable {
    case missing(String)
    case malformed(file: String, reason: String)

    public var code: String {
        switch self {
        case .missing: "node.file_missing"
        case .malformed: "node.file_malformed"
        }
    }

    public var message: String {
        switch self {
        case let .missing(path): "\(path) does not exist; create the node's folder with `tamga network init`"
        case let .malformed(file, reason): "\(file) is malformed: \(reason)"
        }
    }
}

/// The genesis file every node of a network shares: the chain, the validators, the initial
/// parties with their roles and keys, and the parameters. Its hash (SHA-256 of its canonical
/// JSON) names the network: peers and databases of another genesis are refused.
public struct GenesisFile: Codable, Sendable, Equatable {
    public static let format = "tamga-genesis-v1"

    public struct ValidatorEntry: Codable, Sendable, Equatable {
        public var name: String
        public var publicKey: PublicKey
        public var votingPower: UInt64

        public init(name: String, publicKey: PublicKey, votingPower: UInt64) {
            self.name = name
            self.publicKey = publicKey
            self.votingPower = votingPower
        }
    }

    public var format: String
    public var chainID: ChainID
    /// Block time of height 1, in milliseconds since the epoch.
    public var genesisTime: Timestamp
    public var validators: [ValidatorEntry]
    public var parties: [Genesis.Party]
    public var parameters: Parameters

    enum CodingKeys: String, CodingKey {
        case format, chainID = "chainId", genesisTime, validators, parties, parameters
    }

    public init(chainID: ChainID, genesisTime: Timestamp, validators: [ValidatorEntry], parties: [Genesis.Party], parameters: Parameters) {
        self.format = GenesisFile.format
        self.chainID = chainID
        self.genesisTime = genesisTime
        self.validators = validators
        self.parties = parties
        self.parameters = parameters
    }

    public static func load(_ url: URL) throws -> GenesisFile {
        let genesis: GenesisFile = try readJSON(url)
        guard genesis.format == GenesisFile.format else {
            throw NodeFileError.malformed(file: url.path, reason: "format is \(genesis.format), expected \(GenesisFile.format)")
        }
        do { _ = try genesis.validatorSet() } catch { throw NodeFileError.malformed(file: url.path, reason: "\(error)") }
        if let problem = genesis.ledgerGenesis.problem { throw NodeFileError.malformed(file: url.path, reason: problem) }
        return genesis
    }

    public func validatorSet() throws -> ValidatorSet {
        try ValidatorSet(validators.map { Validator(publicKey: $0.publicKey, votingPower: $0.votingPower) })
    }

    /// The ledger's genesis state.
    public var ledgerGenesis: Genesis {
        Genesis(parties: parties, parameters: parameters)
    }

    /// SHA-256 of the canonical JSON (sorted keys, no whitespace).
    public var hash: Hash {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain values cannot fail.
        return .sha256(Array((try? encoder.encode(self)) ?? Data()))
    }
}

/// One node's settings, in `config.json` in its folder.
public struct NodeConfig: Codable, Sendable, Equatable {
    public struct Peer: Codable, Sendable, Equatable {
        /// The peer's index: its place in the genesis validator list, or, for a follower, an
        /// index past the list that every node naming it agrees on.
        public var validator: UInt16
        public var host: String
        public var port: Int
        /// A follower's node key (`tamga ceremony follower` prints it); absent for a validator,
        /// whose key genesis names.
        public var publicKey: PublicKey?

        public init(validator: UInt16, host: String, port: Int, publicKey: PublicKey? = nil) {
            self.validator = validator
            self.host = host
            self.port = port
            self.publicKey = publicKey
        }
    }

    /// This node's index: its place in the genesis validator list, or, for a follower, its index past it.
    public var validator: UInt16
    /// A follower (a bank's or a ministry's own node): it checks every block and commit, executes
    /// them and serves the API, and never votes or proposes. Its key is not in genesis; the
    /// validators that feed it list it in their `peers` with its `publicKey`.
    public var follower: Bool?
    /// On an empty database, fetch the state of a recent block from the peers, each piece checked
    /// against the block's signed state root, instead of executing the chain from genesis.
    public var stateSync: Bool?
    public var peerHost: String
    public var peerPort: Int
    public var apiHost: String
    public var apiPort: Int
    public var peers: [Peer]
    /// How many recent state versions stay readable (and provable); older ones are pruned.
    public var stateVersionsKept: UInt64
    /// Keep every state version since genesis (an archive node): the passport as of any block
    /// stays readable and provable. `stateVersionsKept` is then ignored.
    public var archive: Bool?
    /// How much memory the cache of state-tree nodes may take, in MiB; 512 when absent.
    public var stateCacheMegabytes: Int?
    /// Transactions a proposed block carries at most.
    public var blockTransactionsMax: Int
    public var proposeTimeoutMillis: UInt64
    public var voteTimeoutMillis: UInt64
    /// The pause after a block is decided before the next height starts, to gather transactions.
    public var blockIntervalMillis: UInt64
    /// With nothing in the mempool, how long the next height waits for a transaction before an
    /// empty block is made anyway (so that the chain and its time keep moving).
    public var emptyBlockIntervalMillis: UInt64
    /// How long a peer that sent something invalid is refused after its first offence (doubling
    /// with each further one, at most five minutes); 1,000 when absent.
    public var peerBackoffMillis: UInt64?
    /// Serve the API over TLS with this certificate chain and key (PEM files, paths relative to the
    /// node's folder); plain HTTP when absent. See docs/operations.md.
    public var apiTLS: TLSFiles?
    /// The API's request budgets per client address and per party; `RateLimits()` when absent.
    public var apiRateLimits: RateLimits?
    /// A devnet's folder of demo party key files (relative to the node's folder), which the
    /// portal's picker signs in with. Served only while `apiHost` is a loopback address; never set
    /// it on a real network.
    public var demoParties: String?
    /// Webhooks, SMS and e-mail (docs/integrations.md); webhooks only, to public addresses, when absent.
    public var delivery: Delivery?
    /// Project the chain into a PostgreSQL "Real Estate Register" from inside the node (docs/integrations.md).
    public var register: Register?

    public struct Delivery: Codable, Sendable, Equatable {
        /// Let webhooks go to loopback and private addresses (a devnet, or an institution's own
        /// network); off by default, so a subscriber cannot aim the node at its own neighbours.
        public var webhookPrivateAddresses: Bool?
        /// The first retry's delay; each next one doubles, up to an hour. 1,000 when absent.
        public var retryBaseMillis: UInt64?
        public var sms: SMS?
        public var email: Email?

        public init(webhookPrivateAddresses: Bool? = nil, retryBaseMillis: UInt64? = nil, sms: SMS? = nil, email: Email? = nil) {
            self.webhookPrivateAddresses = webhookPrivateAddresses
            self.retryBaseMillis = retryBaseMillis
            self.sms = sms
            self.email = email
        }

        /// `http`: POST `{"to", "from", "text"}` to `url` with `Authorization: Bearer <token file's
        /// contents>`; `file`: append each message as a JSON line to `file` (a devnet).
        public struct SMS: Codable, Sendable, Equatable {
            public var provider: String
            public var url: String?
            public var sender: String?
            public var tokenFile: String?
            public var file: String?

            public init(provider: String, url: String? = nil, sender: String? = nil, tokenFile: String? = nil, file: String? = nil) {
                self.provider = provider
                self.url = url
                self.sender = sender
                self.tokenFile = tokenFile
                self.file = file
            }
        }

        /// `smtp`: plain SMTP to a relay at `host:port` (AUTH PLAIN when `username` is set, its
        /// password in `passwordFile`); `file`: append each message as a JSON line to `file`.
        public struct Email: Codable, Sendable, Equatable {
            public var provider: String
            public var host: String?
            public var port: Int?
            public var from: String?
            public var username: String?
            public var passwordFile: String?
            public var file: String?

            public init(provider: String, host: String? = nil, port: Int? = nil, from: String? = nil, username: String? = nil,
                        passwordFile: String? = nil, file: String? = nil) {
                self.provider = provider
                self.host = host
                self.port = port
                self.from = from
                self.username = username
                self.passwordFile = passwordFile
                self.file = file
            }
        }
    }

    public struct Register: Codable, Sendable, Equatable {
        /// `postgres://user[:password]@host[:port]/database`.
        public var postgres: String

        public init(postgres: String) { self.postgres = postgres }
    }

    public struct TLSFiles: Codable, Sendable, Equatable {
        public var certificateChain: String
        public var privateKey: String

        public init(certificateChain: String, privateKey: String) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }
    }

    /// Requests per second (and the burst above it) that one client address, or one party, may
    /// make of each kind before the API answers 429 with `Retry-After`.
    public struct RateLimits: Codable, Sendable, Equatable {
        /// `POST /v1/auth/challenge` and `POST /v1/auth/session`, per address.
        public var authPerSecond: Double
        /// `POST /v1/transactions`, per address.
        public var submissionsPerSecond: Double
        /// `POST /v1/transactions`, per signing party.
        public var submissionsPerPartyPerSecond: Double
        /// Pages of blocks, events and offers, and extracts, per address.
        public var expensiveReadsPerSecond: Double
        /// Every other request, per address.
        public var readsPerSecond: Double
        /// How many seconds' worth of requests a quiet client may send at once.
        public var burstSeconds: Double

        public init(authPerSecond: Double = 5, submissionsPerSecond: Double = 2_000, submissionsPerPartyPerSecond: Double = 50,
                    expensiveReadsPerSecond: Double = 20, readsPerSecond: Double = 500, burstSeconds: Double = 4) {
            self.authPerSecond = authPerSecond
            self.submissionsPerSecond = submissionsPerSecond
            self.submissionsPerPartyPerSecond = submissionsPerPartyPerSecond
            self.expensiveReadsPerSecond = expensiveReadsPerSecond
            self.readsPerSecond = readsPerSecond
            self.burstSeconds = burstSeconds
        }
    }

    public init(validator: UInt16, peerHost: String = "127.0.0.1", peerPort: Int, apiHost: String = "127.0.0.1", apiPort: Int,
                peers: [Peer], stateVersionsKept: UInt64 = 1_000, blockTransactionsMax: Int = 4_000,
                proposeTimeoutMillis: UInt64 = 1_000, voteTimeoutMillis: UInt64 = 500, blockIntervalMillis: UInt64 = 200,
                emptyBlockIntervalMillis: UInt64 = 5_000) {
        self.validator = validator
        self.peerHost = peerHost
        self.peerPort = peerPort
        self.apiHost = apiHost
        self.apiPort = apiPort
        self.peers = peers
        self.stateVersionsKept = stateVersionsKept
        self.blockTransactionsMax = blockTransactionsMax
        self.proposeTimeoutMillis = proposeTimeoutMillis
        self.voteTimeoutMillis = voteTimeoutMillis
        self.blockIntervalMillis = blockIntervalMillis
        self.emptyBlockIntervalMillis = emptyBlockIntervalMillis
    }
}

/// A node's folder: `genesis.json`, `config.json`, `validator.key` (mode 0600), `node.crt` (the
/// TLS certificate carrying the validator key) and `data/` (the SQLite database).
extension NodeConfig {
    public static let stateCacheMegabytesDefault = 512

    /// The cache budget in bytes.
    public var stateCacheBytes: Int { max(0, min(stateCacheMegabytes ?? Self.stateCacheMegabytesDefault, 1 << 20)) << 20 }

    /// The oldest state version to keep once `version` is the latest, or nil to keep them all.
    public func oldestStateVersionKept(latest version: UInt64) -> UInt64? {
        guard archive != true, version > stateVersionsKept else { return nil }
        return version - stateVersionsKept + 1
    }
}

public struct NodeHome: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var genesisURL: URL { url.appendingPathComponent("genesis.json") }
    public var configURL: URL { url.appendingPathComponent("config.json") }
    public var keyURL: URL { url.appendingPathComponent("validator.key") }
    public var certificateURL: URL { url.appendingPathComponent("node.crt") }
    public var databaseURL: URL { url.appendingPathComponent("data").appendingPathComponent("node.sqlite") }
    /// Webhook subscriptions, contact details and the outbox (TamgaIntegrations).
    public var integrationsURL: URL { url.appendingPathComponent("data").appendingPathComponent("integrations.sqlite") }

    /// A path from the config: absolute as written, or relative to the node's folder.
    public func path(_ file: String) -> String { file.hasPrefix("/") ? file : url.appendingPathComponent(file).path }

    public func loadGenesis() throws -> GenesisFile { try GenesisFile.load(genesisURL) }
    public func loadConfig() throws -> NodeConfig { try readJSON(configURL) }

    public func loadIdentity() throws -> PeerIdentity {
        let key = try KeyFile.decode(Array(try readFile(keyURL)))
        let pem = String(decoding: try readFile(certificateURL), as: UTF8.self)
        return try PeerIdentity(key: key, certificatePEM: pem)
    }

    /// Writes a node folder.
    public func write(genesis: GenesisFile, config: NodeConfig, key: SigningKey, certificatePEM: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(at: url.appendingPathComponent("data"), withIntermediateDirectories: true)
        try writeJSON(genesis, to: genesisURL)
        try writeJSON(config, to: configURL)
        try Data(KeyFile.encode(key)).write(to: keyURL, options: .atomic)
        try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyURL.path)
        try Data(certificatePEM.utf8).write(to: certificateURL, options: .atomic)
    }
}

func readFile(_ url: URL) throws -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else { throw NodeFileError.missing(url.path) }
    return try Data(contentsOf: url)
}

/// Reads a JSON file, naming the file and the field in any error.
public func readJSON<T: Decodable>(_ url: URL) throws -> T {
    let data = try readFile(url)
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.keyNotFound(key, _) {
        throw NodeFileError.malformed(file: url.path, reason: "missing field \(key.stringValue)")
    } catch let DecodingError.dataCorrupted(context) {
        throw NodeFileError.malformed(file: url.path, reason: context.debugDescription)
    } catch let DecodingError.typeMismatch(_, context) {
        throw NodeFileError.malformed(file: url.path, reason: "field \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)")
    } catch {
        throw NodeFileError.malformed(file: url.path, reason: "\(error)")
    }
}

/// Writes pretty, key-sorted JSON.
public func writeJSON(_ value: some Encodable, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try encoder.encode(value).write(to: url, options: .atomic)
}
