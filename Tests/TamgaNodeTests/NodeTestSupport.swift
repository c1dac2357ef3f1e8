import Foundation
import Logging
import Synchronization
import TamgaCore
import TamgaLedger
import TamgaNode
#if canImport(Glibc)
import Glibc
#endif

/// Ports the kernel says are free now (bound to port 0 and released).
func freePorts(_ count: Int) -> [Int] {
    var sockets: [Int32] = []
    var ports: [Int] = []
    for _ in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        ports.append(Int(UInt16(bigEndian: address.sin_port)))
        sockets.append(fd)
    }
    for fd in sockets { close(fd) }
    return ports
}

/// A network written to a new temporary folder, with free ports and demo parties.
struct TestNetwork {
    let directory: URL
    let genesis: GenesisFile
    let homes: [NodeHome]

    /// Followers (non-voting nodes), `follower-<j>/`, after the validators.
    let followerHomes: [NodeHome]

    init(validators: Int, citizens: Int = 10, votingPowers: [UInt64]? = nil, followers: Int = 0) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tamga-test-\(UUID().uuidString)")
        let nodes = validators + followers
        let ports = freePorts(nodes * 2)
        let setup = NetworkSetup(
            chainID: try ChainID("tamga-test"), validators: validators,
            ports: NetworkSetup.Ports(peer: Array(ports[..<nodes]), api: Array(ports[nodes...])),
            demo: true, citizens: citizens, genesisTime: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000)),
            // A short key-recovery time lock, so that a test can wait it out.
            parameters: Parameters(recoveryTimeLockMillis: 2_000), followers: followers)
        var genesis = try setup.write(to: directory)
        homes = try NetworkSetup.nodeHomes(in: directory)
        let folder = directory
        followerHomes = (0..<followers).map { NodeHome(folder.appendingPathComponent("follower-\($0)")) }
        if let votingPowers {
            for index in genesis.validators.indices { genesis.validators[index].votingPower = votingPowers[index] }
            for home in homes + followerHomes { try writeJSON(genesis, to: home.genesisURL) }
        }
        for home in homes + followerHomes {
            var config = try home.loadConfig()
            config.blockIntervalMillis = 50
            config.emptyBlockIntervalMillis = 500
            try writeJSON(config, to: home.configURL)
        }
        self.genesis = genesis
    }

    /// Sets follower `index` to join by state sync (`stateSync` in its config) when it starts.
    func joinByStateSync(follower index: Int) throws {
        var config = try followerHomes[index].loadConfig()
        config.stateSync = true
        try writeJSON(config, to: followerHomes[index].configURL)
    }

    func key(of party: String) throws -> SigningKey {
        try KeyFile.decode(Array(Data(contentsOf: directory.appendingPathComponent("parties/\(party).key"))))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Signs transactions for one party, counting its nonce.
final class TestSigner: @unchecked Sendable {
    let party: PartyID
    let key: SigningKey
    let chain: ChainID
    private(set) var nonce: UInt64 = 0

    /// - Parameter nonce: the party's last nonce on chain, for a party that signed before.
    init(_ party: String, in network: TestNetwork, after nonce: UInt64 = 0) throws {
        self.party = try PartyID(party)
        key = try network.key(of: party)
        chain = network.genesis.chainID
        self.nonce = nonce
    }

    /// Signs with the next nonce, or with `nonce` (leaving the count alone).
    /// - Parameter cosigners: keys whose signatures the envelope also carries (a new key proving itself).
    func sign(_ action: Action, fee: Tiyn = Tiyn(100), nonce explicit: UInt64? = nil, expiresInMillis: UInt64 = 3_600_000,
              cosigners: [SigningKey] = []) throws -> SignedEnvelope {
        if explicit == nil { nonce += 1 }
        let payload = TransactionPayload(chainID: chain, signer: party, nonce: explicit ?? nonce, fee: fee,
                                         expiresAt: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000) + expiresInMillis), action: action)
        return try SignedEnvelope.signing(payload.encoded(), with: [key] + cosigners)
    }
}

/// How long a test waits for a transaction's block. Generous: the full suite runs node processes
/// and CPU-bound tests beside each other on two cores, and a lone node can wait its turn.
let commitTimeout = Duration.seconds(60)

let quietLogger: Logger = {
    var logger = Logger(label: "tamga.test")
    logger.logLevel = .critical
    return logger
}()

/// A flag one task sets and another reads.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// A count one task adds to and another reads.
final class Tally: Sendable {
    private let value = Mutex(0)
    var count: Int { value.withLock { $0 } }
    func add() { value.withLock { $0 += 1 } }
}
