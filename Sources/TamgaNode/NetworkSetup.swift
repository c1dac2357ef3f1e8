public import Foundation
public import TamgaCore
public import TamgaLedger
import TamgaNetwork

/// Creates a network's folders: one per validator (`node-<i>/`, see `NodeHome`) sharing one
/// genesis, and `parties/<id>.key` with the keys of the parties created with it.
///
/// Every validator's organization gets an operator party (`operator-<i>`, role
/// validator_operator) that votes on governance. With `demo`, genesis also enrolls two
/// registrars, a notary, a bank, a court, a bailiff, the token issuer and `citizens` citizens,
/// each with a key in `parties/` and an opening balance, which is what `tamga devnet` runs.
public struct NetworkSetup: Sendable {
    public struct Ports: Sendable {
        public var peer: [Int]
        public var api: [Int]

        public init(peer: [Int], api: [Int]) {
            self.peer = peer
            self.api = api
        }

        /// Consecutive ports from the given bases.
        public static func consecutive(validators: Int, peerBase: Int, apiBase: Int) -> Ports {
            Ports(peer: (0..<validators).map { peerBase + $0 }, api: (0..<validators).map { apiBase + $0 })
        }
    }

    public var chainID: ChainID
    public var validators: Int
    public var host: String
    public var ports: Ports
    public var demo: Bool
    public var citizens: Int
    public var genesisTime: Timestamp
    public var parameters: Parameters
    /// Non-voting nodes (`follower-<j>/`, peer index validators + j) that every validator feeds;
    /// `ports` then lists the validators' ports first and the followers' after them.
    public var followers: Int

    public init(chainID: ChainID, validators: Int, host: String = "127.0.0.1", ports: Ports, demo: Bool, citizens: Int = 20,
                genesisTime: Timestamp, parameters: Parameters = Parameters(), followers: Int = 0) {
        self.chainID = chainID
        self.validators = validators
        self.host = host
        self.ports = ports
        self.demo = demo
        self.citizens = citizens
        self.genesisTime = genesisTime
        self.parameters = parameters
        self.followers = followers
    }

    /// The demo authorities: id, role, opening balance in tiyn.
    public static let demoAuthorities: [(id: String, role: Role, balance: UInt64)] = [
        ("registrar-1", .registrar, 100_000_000), ("registrar-2", .registrar, 100_000_000), ("notary-1", .notary, 100_000_000),
        ("bank-1", .bank, 10_000_000_000), ("court-1", .court, 100_000_000), ("bailiff-1", .enforcement, 100_000_000),
        ("issuer-1", .tokenIssuer, 100_000_000),
    ]

    /// Writes the folders under `directory`, which must not hold a network already.
    /// Returns the genesis written.
    @discardableResult
    public func write(to directory: URL) throws -> GenesisFile {
        precondition(validators >= 1 && followers >= 0 && ports.peer.count == validators + followers && ports.api.count == validators + followers)
        let manager = FileManager.default
        guard !manager.fileExists(atPath: directory.appendingPathComponent("genesis.json").path) else {
            throw NodeFileError.malformed(file: directory.path, reason: "a network already exists here; choose another folder or remove it")
        }
        let partiesURL = directory.appendingPathComponent("parties")
        try manager.createDirectory(at: partiesURL, withIntermediateDirectories: true)

        var parties: [Genesis.Party] = []
        func addParty(_ id: String, name: String, role: Role, balance: UInt64) throws {
            let key = SigningKey()
            let url = partiesURL.appendingPathComponent("\(id).key")
            try Data(KeyFile.encode(key)).write(to: url, options: .atomic)
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
            parties.append(Genesis.Party(id: try PartyID(id), name: name, roles: [role], keys: [key.publicKey],
                                                  identityCommitment: .sha256(Array("demo identity \(id)".utf8)), openingBalance: Tiyn(balance)))
        }
        for index in 0..<validators {
            try addParty("operator-\(index)", name: "Operator of validator \(index)", role: .validatorOperator, balance: 100_000_000)
        }
        if demo {
            for authority in Self.demoAuthorities {
                try addParty(authority.id, name: authority.id, role: authority.role, balance: authority.balance)
            }
            for index in 1...max(1, citizens) {
                try addParty("citizen-\(index)", name: "Citizen \(index)", role: .citizen, balance: 1_000_000_000)
            }
        }

        let keys = (0..<validators).map { _ in SigningKey() }
        let followerKeys = (0..<followers).map { _ in SigningKey() }
        let followerPeers = followerKeys.enumerated().map { offset, key in
            NodeConfig.Peer(validator: UInt16(validators + offset), host: host, port: ports.peer[validators + offset], publicKey: key.publicKey)
        }
        let genesis = GenesisFile(
            chainID: chainID, genesisTime: genesisTime,
            validators: keys.enumerated().map { GenesisFile.ValidatorEntry(name: "validator-\($0.offset)", publicKey: $0.element.publicKey, votingPower: 1) },
            parties: parties, parameters: parameters)
        try writeJSON(genesis, to: directory.appendingPathComponent("genesis.json"))
        for (index, key) in keys.enumerated() {
            let peers = (0..<validators).filter { $0 != index }.map { NodeConfig.Peer(validator: UInt16($0), host: host, port: ports.peer[$0]) }
            var config = NodeConfig(validator: UInt16(index), peerHost: host, peerPort: ports.peer[index], apiHost: host, apiPort: ports.api[index],
                                    peers: peers + followerPeers)
            if demo {
                config.demoParties = "../parties"
                // A demo network's webhooks go to receivers on this machine, and its SMS and
                // e-mail to files in each node's folder (docs/integrations.md).
                config.delivery = NodeConfig.Delivery(webhookPrivateAddresses: true, sms: .init(provider: "file", file: "sms.jsonl"),
                                                      email: .init(provider: "file", file: "email.jsonl"))
            }
            let certificate = try PeerIdentity.makeCertificatePEM(for: key, name: "validator-\(index).\(chainID)")
            try NodeHome(directory.appendingPathComponent("node-\(index)")).write(genesis: genesis, config: config, key: key, certificatePEM: certificate)
        }
        for (offset, key) in followerKeys.enumerated() {
            let index = validators + offset
            let peers = (0..<validators).map { NodeConfig.Peer(validator: UInt16($0), host: host, port: ports.peer[$0]) }
            var config = NodeConfig(validator: UInt16(index), peerHost: host, peerPort: ports.peer[index], apiHost: host, apiPort: ports.api[index], peers: peers)
            config.follower = true
            if demo { config.demoParties = "../parties" }
            let certificate = try PeerIdentity.makeCertificatePEM(for: key, name: "follower-\(offset).\(chainID)")
            try NodeHome(directory.appendingPathComponent("follower-\(offset)")).write(genesis: genesis, config: config, key: key, certificatePEM: certificate)
        }
        return genesis
    }

    /// The node folders of a network written by `write(to:)`, in validator order.
    public static func nodeHomes(in directory: URL) throws -> [NodeHome] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("node-") }
        return names.compactMap { name in Int(name.dropFirst(5)).map { ($0, name) } }.sorted { $0.0 < $1.0 }
            .map { NodeHome(directory.appendingPathComponent($0.1)) }
    }
}
