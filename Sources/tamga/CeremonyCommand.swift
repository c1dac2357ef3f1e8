import ArgumentParser
import Foundation
import TamgaCore
import TamgaLedger
import TamgaNetwork
import TamgaNode

/// `tamga ceremony`: a real network's genesis, made without any private key leaving its owner's
/// machine. Each organization makes its validator and operator keys and a public candidacy file;
/// each authority of genesis a party file; a coordinator assembles genesis and the peers' list
/// from those public files; each organization then writes its node's folder from them with its
/// own key. Everyone compares the printed genesis hash out of band before starting.
struct CeremonyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceremony",
        abstract: "Assemble a network's genesis from keys each organization makes on its own machine (docs/operations.md).",
        subcommands: [Validator.self, Party.self, Genesis.self, Node.self, Follower.self])

    /// What an organization publishes to run a validator: its validator key, where its peers
    /// reach it, and the validator-operator party that votes on governance for it.
    struct Candidate: Codable, Equatable {
        static let format = "tamga-validator-candidate-v1"
        var format: String
        var name: String
        var publicKey: PublicKey
        var peerHost: String
        var peerPort: Int
        var `operator`: PartyEntry
    }

    /// A party of genesis as its owner publishes it: public key and identity commitment only.
    struct PartyEntry: Codable, Equatable {
        static let format = "tamga-genesis-party-v1"
        var format: String
        var party: PartyID
        var name: String
        var roles: [Role]
        var publicKey: PublicKey
        var identityCommitment: Hash
        var openingBalance: Tiyn

        var genesisParty: TamgaLedger.Genesis.Party {
            .init(id: party, name: name, roles: roles, keys: [publicKey], identityCommitment: identityCommitment, openingBalance: openingBalance)
        }
    }

    /// Where each validator listens for its peers, in genesis's validator order.
    struct Peers: Codable, Equatable {
        static let format = "tamga-peers-v1"
        var format: String
        var chainId: ChainID
        var genesisHash: Hash
        var peers: [NodeConfig.Peer]

        /// The genesis file and the peers' list the coordinator sent, refused unless the list is of
        /// that genesis and names every validator, in order.
        static func load(_ path: String, genesis genesisPath: String) throws -> (GenesisFile, Peers) {
            let genesis = try GenesisFile.load(URL(fileURLWithPath: genesisPath))
            let peers: Peers = try readJSON(URL(fileURLWithPath: path))
            guard peers.format == Peers.format, peers.chainId == genesis.chainID, peers.genesisHash == genesis.hash,
                  peers.peers.map(\.validator) == (0..<genesis.validators.count).map(UInt16.init) else {
                throw ValidationError("\(path) is not the peers' list of this genesis (\(genesis.hash))")
            }
            return (genesis, peers)
        }
    }

    /// Options that describe a party of genesis.
    struct PartyOptions: ParsableArguments {
        @Option(help: "The party id (lower-case letters, digits and dashes).") var party: String
        @Option(help: "The name shown to those allowed to see the party.") var name: String
        @Option(help: "The organization's identification number (BIN); only a salted SHA-256 of it goes into genesis.") var identity: String
        @Option(help: "Tiyn the party starts with, so that it can pay fees (created in the supply).") var openingBalance: UInt64 = 0

        /// The entry, and the salt of its identity commitment (kept by the organization, never published).
        func entry(roles: [Role], key: PublicKey) throws -> (PartyEntry, salt: [UInt8]) {
            var salt = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for index in salt.indices { salt[index] = UInt8.random(in: .min ... .max, using: &generator) }
            let commitment = Hash.sha256(salt + Array(identity.utf8))
            let entry = PartyEntry(format: PartyEntry.format, party: try PartyID(party), name: name, roles: roles, publicKey: key,
                                   identityCommitment: commitment, openingBalance: Tiyn(openingBalance))
            return (entry, salt)
        }
    }

    struct Validator: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "On the organization's own machine: make its validator key and its operator's key, and write the public candidacy file.")
        @OptionGroup var operatorParty: PartyOptions
        @Option(help: "The validator's name in genesis.") var validatorName: String
        @Option(help: "The host name or address its peers reach it at.") var peerHost: String
        @Option(help: "The port its peers reach it at.") var peerPort: Int = 26_600
        @Option(help: "A new folder for validator.key, operator.key, operator.salt (keep private) and candidate.json (publish).") var out: String

        func run() throws {
            let folder = try newFolder(out)
            let validatorKey = SigningKey(), operatorKey = SigningKey()
            let (entry, salt) = try operatorParty.entry(roles: [.validatorOperator], key: operatorKey.publicKey)
            try writePrivate(Data(KeyFile.encode(validatorKey)), to: folder.appendingPathComponent("validator.key"))
            try writePrivate(Data(KeyFile.encode(operatorKey)), to: folder.appendingPathComponent("operator.key"))
            try writePrivate(Data(Hex.encode(salt).utf8), to: folder.appendingPathComponent("operator.salt"))
            let candidate = Candidate(format: Candidate.format, name: validatorName, publicKey: validatorKey.publicKey, peerHost: peerHost,
                                      peerPort: peerPort, operator: entry)
            try writeJSON(candidate, to: folder.appendingPathComponent("candidate.json"))
            print("wrote \(out)/candidate.json: send it to the coordinator; validator.key, operator.key and operator.salt stay here")
            print("validator key \(validatorKey.publicKey.keyID), operator \(entry.party)")
        }
    }

    struct Party: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "For an authority of genesis (a registrar, a bank, the token issuer...): the public party file from its key (made with `tamga keys new`).")
        @OptionGroup var party: PartyOptions
        @Option(help: "Its role; repeat for more (registrar, notary, bank, court, enforcement, token_issuer, citizen).") var role: [String]
        @Option(help: "Its key file (only the public key is read into the party file).") var key: String
        @Option(help: "Where to write the party file (publish it); the identity salt goes beside it as <file>.salt (keep it).") var out: String

        func run() throws {
            let roles = try role.map { name -> Role in
                guard let role = Role(rawValue: name), role != .validatorOperator else {
                    throw ValidationError("unknown role \(name) (validator operators come with `ceremony validator`)")
                }
                return role
            }
            guard !roles.isEmpty else { throw ValidationError("give at least one --role") }
            let signingKey = try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: key))))
            let (entry, salt) = try party.entry(roles: roles, key: signingKey.publicKey)
            let url = URL(fileURLWithPath: out)
            guard !FileManager.default.fileExists(atPath: url.path) else { throw ValidationError("\(out) exists already") }
            try writeJSON(entry, to: url)
            try writePrivate(Data(Hex.encode(salt).utf8), to: url.appendingPathExtension("salt"))
            print("wrote \(out) for \(entry.party): send it to the coordinator; keep \(out).salt with the identity records")
        }
    }

    struct Genesis: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The coordinator: assemble genesis.json and peers.json from the candidacy and party files; prints the genesis hash to compare.")
        @Option(help: "The chain id.") var chainId: String
        @Option(help: "A validator's candidate.json; repeat for each, in validator order.") var validator: [String]
        @Option(help: "A party file; repeat for each.") var party: [String] = []
        @Option(help: "Block time of height 1, milliseconds since the epoch (default: now).") var genesisTime: UInt64?
        @Option(help: "A new folder for genesis.json and peers.json.") var out: String

        func run() throws {
            guard (1...Int(Limits.validatorsMax)).contains(validator.count) else {
                throw ValidationError("a network has 1 to \(Limits.validatorsMax) validators")
            }
            let candidates: [Candidate] = try validator.map { path in
                let candidate: Candidate = try readJSON(URL(fileURLWithPath: path))
                guard candidate.format == Candidate.format else { throw ValidationError("\(path) is not a validator candidacy (\(Candidate.format))") }
                return candidate
            }
            let entries: [PartyEntry] = try party.map { path in
                let entry: PartyEntry = try readJSON(URL(fileURLWithPath: path))
                guard entry.format == PartyEntry.format else { throw ValidationError("\(path) is not a party file (\(PartyEntry.format))") }
                return entry
            }
            // The files are not signed: roles are checked here again, so that no file smuggles in a
            // governance vote or an authority its maker's command would not have written.
            for candidate in candidates where candidate.operator.format != PartyEntry.format || candidate.operator.roles != [.validatorOperator] {
                throw ValidationError("the operator of \(candidate.name) must have the validator_operator role and nothing else")
            }
            for entry in entries where entry.roles.isEmpty || entry.roles.contains(.validatorOperator) {
                throw ValidationError("party \(entry.party) claims no role or the validator_operator role, which only a validator's candidacy gives")
            }
            let parties = candidates.map(\.operator) + entries
            try Self.refuseRepeats(candidates.map(\.name), "validator name")
            try Self.refuseRepeats(candidates.map { $0.publicKey.keyID.description }, "validator key")
            try Self.refuseRepeats(candidates.map { "\($0.peerHost):\($0.peerPort)" }, "peer address")
            try Self.refuseRepeats(parties.map(\.party.rawValue), "party id")
            try Self.refuseRepeats(parties.map { $0.publicKey.keyID.description } + candidates.map { $0.publicKey.keyID.description }, "key")
            let chain = try ChainID(chainId)
            let genesis = GenesisFile(
                chainID: chain, genesisTime: Timestamp(millisecondsSinceEpoch: genesisTime ?? UInt64(Date().timeIntervalSince1970 * 1_000)),
                validators: candidates.map { GenesisFile.ValidatorEntry(name: $0.name, publicKey: $0.publicKey, votingPower: 1) },
                parties: parties.map(\.genesisParty), parameters: Parameters())
            _ = try genesis.validatorSet()
            if let problem = genesis.ledgerGenesis.problem { throw ValidationError(problem) }
            let folder = try newFolder(out)
            try writeJSON(genesis, to: folder.appendingPathComponent("genesis.json"))
            let peers = Peers(format: Peers.format, chainId: chain, genesisHash: genesis.hash, peers: candidates.enumerated().map {
                NodeConfig.Peer(validator: UInt16($0.offset), host: $0.element.peerHost, port: $0.element.peerPort)
            })
            try writeJSON(peers, to: folder.appendingPathComponent("peers.json"))
            print("wrote \(out)/genesis.json and \(out)/peers.json: \(candidates.count) validators, \(parties.count) parties")
            for (index, candidate) in candidates.enumerated() {
                print("  validator \(index) \(candidate.name): key \(candidate.publicKey.keyID), peers at \(candidate.peerHost):\(candidate.peerPort)")
            }
            for party in parties {
                print("  party \(party.party): \(party.roles.map(\.rawValue).joined(separator: ", ")), opening balance \(party.openingBalance.rawValue) tiyn, key \(party.publicKey.keyID)")
            }
            print("genesis hash \(genesis.hash): every organization compares it before starting its node")
        }

        static func refuseRepeats(_ values: [String], _ what: String) throws {
            var seen = Set<String>()
            for value in values where !seen.insert(value).inserted { throw ValidationError("the \(what) \(value) appears twice") }
        }
    }

    struct Node: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "On the organization's machine: write its node's folder from genesis.json, peers.json and its own validator key.")
        @Option(help: "The genesis.json the coordinator sent.") var genesis: String
        @Option(help: "The peers.json the coordinator sent.") var peers: String
        @Option(help: "This organization's validator.key.") var key: String
        @Option(help: "The address to listen for peers on (default: the host in peers.json; behind NAT, 0.0.0.0 or the private address).") var listenHost: String?
        @Option(help: "The address the HTTP API listens on.") var apiHost = "127.0.0.1"
        @Option(help: "The port the HTTP API listens on.") var apiPort = 8_080
        @Option(help: "A new folder for the node.") var out: String

        func run() throws {
            let (genesis, peers) = try Peers.load(self.peers, genesis: self.genesis)
            let signingKey = try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: key))))
            guard let index = genesis.validators.firstIndex(where: { $0.publicKey == signingKey.publicKey }) else {
                throw ValidationError("\(key) is not the key of any validator in this genesis")
            }
            let own = peers.peers[index]
            let config = NodeConfig(validator: UInt16(index), peerHost: listenHost ?? own.host, peerPort: own.port, apiHost: apiHost, apiPort: apiPort,
                                    peers: peers.peers.filter { $0.validator != UInt16(index) })
            let certificate = try PeerIdentity.makeCertificatePEM(for: signingKey, name: "\(genesis.validators[index].name).\(genesis.chainID)")
            let folder = try newFolder(out)
            try NodeHome(folder).write(genesis: genesis, config: config, key: signingKey, certificatePEM: certificate)
            print("wrote \(out) for validator \(index) (\(genesis.validators[index].name)) of \(genesis.chainID), genesis \(genesis.hash)")
            print("start it with: tamga node --home \(out)")
        }
    }
}

extension CeremonyCommand {
    struct Follower: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "For an organization that runs a node without voting (a bank, a ministry): make its node key and folder, and print the peer entry the validators add.",
            discussion: """
                The follower's index is agreed with the validators' operators: a number past the genesis validators that no other \
                follower uses. Each validator that should feed the follower adds the printed entry to the `peers` of its config.json \
                and restarts; the follower checks every block and commit, executes them, and serves the API, and never votes.
                """)
        @Option(help: "The genesis.json the coordinator sent.") var genesis: String
        @Option(help: "The peers.json the coordinator sent (the validators to connect to).") var peers: String
        @Option(help: "The follower's peer index, agreed with the validators (past the genesis validators).") var index: UInt16
        @Option(help: "The host name or address the validators reach it at.") var peerHost: String
        @Option(help: "The port the validators reach it at.") var peerPort = 26_600
        @Option(help: "The address to listen for peers on (default: --peer-host).") var listenHost: String?
        @Option(help: "The address the HTTP API listens on.") var apiHost = "127.0.0.1"
        @Option(help: "The port the HTTP API listens on.") var apiPort = 8_080
        @Option(help: "A new folder for the node.") var out: String

        func run() throws {
            let (genesis, peers) = try Peers.load(self.peers, genesis: self.genesis)
            guard Int(index) >= genesis.validators.count else {
                throw ValidationError("index \(index) is a genesis validator's; a follower's index is \(genesis.validators.count) or more")
            }
            let key = SigningKey()
            var config = NodeConfig(validator: index, peerHost: listenHost ?? peerHost, peerPort: peerPort, apiHost: apiHost, apiPort: apiPort,
                                    peers: peers.peers)
            config.follower = true
            let certificate = try PeerIdentity.makeCertificatePEM(for: key, name: "follower-\(index).\(genesis.chainID)")
            let folder = try newFolder(out)
            try NodeHome(folder).write(genesis: genesis, config: config, key: key, certificatePEM: certificate)
            let entry = NodeConfig.Peer(validator: index, host: peerHost, port: peerPort, publicKey: key.publicKey)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print("wrote \(out) for follower \(index) of \(genesis.chainID), genesis \(genesis.hash)")
            print("each validator that feeds it adds this to the peers of its config.json, then restarts:")
            print(String(decoding: try encoder.encode(entry), as: UTF8.self))
            print("start it with: tamga node --home \(out)")
        }
    }
}

/// A folder that must not exist yet, created.
private func newFolder(_ path: String) throws -> URL {
    let url = URL(fileURLWithPath: path)
    guard !FileManager.default.fileExists(atPath: url.path) else { throw ValidationError("\(path) exists already; choose a new folder") }
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A file only its owner may read (keys, salts).
private func writePrivate(_ data: Data, to url: URL) throws {
    guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
        throw CommandFailure("cannot write \(url.path)")
    }
}
