import Foundation
import Logging
import Synchronization
import TamgaCore
import TamgaLedger
import TamgaNode
#if canImport(Glibc)
import Glibc
#endif

/// Ports free on loopback now, each handed out once per test process.
///
/// They come from below the kernel's ephemeral range: a port the kernel picks for `bind(0)` is
/// one it may also give, a moment later, to any outgoing connection another test opens, and a
/// node launched after that could not bind it.
func freePorts(_ count: Int) -> [Int] {
    (0..<count).map { _ in
        for _ in testPorts.range {
            let port = testPorts.next()
            if portIsFree(port) { return port }
        }
        preconditionFailure("no free port on loopback in \(testPorts.range)")
    }
}

/// A round over the ports below the ephemeral range, started at a place of this process's own.
private final class TestPorts: Sendable {
    let range: Range<Int>
    let counter: Mutex<Int>

    init() {
        let ephemeral = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        range = 10_000..<max(ephemeral, 12_000)
        // Spread apart, so that test processes of nearby ids do not walk the same ports.
        counter = Mutex(Int(getpid()) &* 7_919 % range.count)
    }

    func next() -> Int {
        counter.withLock { offset in
            defer { offset = (offset + 1) % range.count }
            return range.lowerBound + offset
        }
    }
}

private let testPorts = TestPorts()

private func portIsFree(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var reuse: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return bound == 0
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
