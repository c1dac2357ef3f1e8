public import Logging
import NIOCore
import NIOPosix
import NIOSSL
public import TamgaCore
import Synchronization

/// Where a peer listens.
public struct PeerEndpoint: Hashable, Sendable {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// What the node makes of a peer's message: keep listening, or close the connection.
public enum PeerVerdict: Sendable, Equatable {
    case accepted
    /// The peer sent something no honest peer sends; the connection is closed and logged.
    case misbehaving(String)
}

/// The validators' mesh: every validator listens for its peers and dials each of them.
///
/// A connection carries messages one way: each validator sends on the connections it dialed
/// and reads from the ones it accepted. Both ends authenticate with TLS 1.3 and the genesis
/// keys (`PeerIdentity`); the first frame on a connection is a `hello`, which must name the
/// validator whose key the certificate carries, this chain and this genesis. Frames are
/// length-prefixed and limited to `Limits.peerMessageBytesMax`. A peer whose frame does not
/// decode, or whose message the node finds dishonest, is disconnected, and its connections are
/// refused for a while (`Backoff`). What waits for a peer is bounded in bytes (`OutboundQueue`).
public final class PeerNetwork: Sendable {
    public typealias Handler = @Sendable (ValidatorIndex, PeerMessage) async -> PeerVerdict

    private let identity: PeerIdentity
    private let chainID: ChainID
    private let genesisHash: Hash
    private let me: ValidatorIndex
    /// The key of every peer this node accepts, by index: the genesis validators, and the
    /// non-voting followers its configuration names.
    private let peerKeys: [ValidatorIndex: PublicKey]
    private let peers: [ValidatorIndex: PeerEndpoint]
    private let listen: PeerEndpoint
    private let logger: Logger
    private let queues: [ValidatorIndex: OutboundQueue]
    private let connected = Mutex<Set<ValidatorIndex>>([])
    private let bound = Mutex<Int?>(nil)
    private let strikes = Mutex<[ValidatorIndex: Strike]>([:])
    private let backoff: Backoff

    /// Bytes waiting per peer while its connection is down or slow (three of the largest frames);
    /// past it the oldest frames go.
    public static let queuedBytesMax = 3 * Limits.peerMessageBytesMax
    /// How long a connection may take to complete its TLS handshake (and, inbound, to send its hello).
    static let handshakeTimeout = TimeAmount.seconds(5)

    /// How long a peer that misbehaved is refused: `base` after its first offence, doubling with
    /// each further one within `forgiveAfter`, at most `max`.
    public struct Backoff: Sendable {
        public var baseMillis: UInt64
        public var maxMillis: UInt64
        public var forgiveAfterMillis: UInt64

        public init(baseMillis: UInt64 = 1_000, maxMillis: UInt64 = 300_000, forgiveAfterMillis: UInt64 = 600_000) {
            self.baseMillis = baseMillis
            self.maxMillis = maxMillis
            self.forgiveAfterMillis = forgiveAfterMillis
        }
    }

    private struct Strike {
        var count: Int
        var at: ContinuousClock.Instant
        var until: ContinuousClock.Instant
    }

    public init(identity: PeerIdentity, chainID: ChainID, genesisHash: Hash, me: ValidatorIndex, peerKeys: [ValidatorIndex: PublicKey],
                listen: PeerEndpoint, peers: [ValidatorIndex: PeerEndpoint], backoff: Backoff = Backoff(), logger: Logger) {
        self.identity = identity
        self.chainID = chainID
        self.genesisHash = genesisHash
        self.me = me
        self.peerKeys = peerKeys
        self.listen = listen
        self.peers = peers
        self.logger = logger
        self.backoff = backoff
        self.queues = peers.mapValues { _ in OutboundQueue(bytesMax: PeerNetwork.queuedBytesMax) }
    }

    /// Bytes waiting for `peer` now.
    public func queuedBytes(to peer: ValidatorIndex) -> Int { queues[peer]?.queuedBytes ?? 0 }

    /// Whether `peer`'s connections are refused now, after it misbehaved.
    public func isBackedOff(_ peer: ValidatorIndex) -> Bool {
        strikes.withLock { ($0[peer]?.until ?? .now) > .now }
    }

    /// Records an offence: the peer's connections are refused for a while, longer each time.
    private func strike(_ peer: ValidatorIndex) {
        let now = ContinuousClock.now
        strikes.withLock { strikes in
            var count = 1
            if let last = strikes[peer], last.at.duration(to: now) < .milliseconds(backoff.forgiveAfterMillis) { count = last.count + 1 }
            let millis = min(backoff.maxMillis, backoff.baseMillis << UInt64(min(count - 1, 30)))
            strikes[peer] = Strike(count: count, at: now, until: now + .milliseconds(millis))
        }
    }

    /// The peers with a live outbound connection.
    public var connectedPeers: Set<ValidatorIndex> { connected.withLock { $0 } }

    /// The port it listens on, once listening (useful when the configured port is 0).
    public var boundPort: Int? { bound.withLock { $0 } }

    /// Queues `message` for `peer`. Never blocks; if the peer's queue is full the oldest frames go.
    public func send(_ message: PeerMessage, to peer: ValidatorIndex) {
        queues[peer]?.push(message.encoded())
    }

    /// Queues `message` for every peer, encoding it once.
    public func broadcast(_ message: PeerMessage) {
        let frame = message.encoded()
        for queue in queues.values { queue.push(frame) }
    }

    /// Listens and dials until cancelled, handing every decoded message to `handler`.
    /// `height` tells the current decided height for `hello`.
    public func run(height: @escaping @Sendable () async -> Height, handler: @escaping Handler) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let serverContext = try NIOSSLContext(configuration: identity.tlsConfiguration(server: true))
        let clientContext = try NIOSSLContext(configuration: identity.tlsConfiguration(server: false))
        let keys = Set(peerKeys.values)
        let limit = Limits.peerMessageBytesMax
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: listen.host, port: listen.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = NIOSSLServerHandler(context: serverContext) { certificates, promise in
                        promise.succeed(PeerNetwork.accepts(certificates, from: keys) ? .certificateVerified : .failed)
                    }
                    // `serve` closes a connection whose handshake and hello take longer than `handshakeTimeout`.
                    try channel.pipeline.syncOperations.addHandlers([
                        tls, ByteToMessageHandler(FrameDecoder(limit: limit)), MessageToByteHandler(FrameEncoder()),
                    ])
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        bound.withLock { $0 = server.channel.localAddress?.port }
        logger.info("listening for peers", metadata: ["address": "\(listen.host):\(server.channel.localAddress?.port ?? listen.port)"])
        try await withThrowingDiscardingTaskGroup { group in
            for (peer, endpoint) in peers {
                group.addTask { await self.dial(peer, at: endpoint, context: clientContext, height: height) }
            }
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.serve(connection, handler: handler) }
                }
            }
        }
    }

    static func accepts(_ certificates: [NIOSSLCertificate], from keys: Set<PublicKey>) -> Bool {
        guard let leaf = certificates.first, let key = try? PeerIdentity.publicKey(of: leaf) else { return false }
        return keys.contains(key)
    }

    // MARK: Inbound

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, handler: Handler) async {
        let remote = connection.channel.remoteAddress?.description ?? "unknown"
        do {
            try await connection.executeThenClose { inbound, _ in
                var frames = inbound.makeAsyncIterator()
                // A connection that has not said who it is within the deadline is closed.
                let channel = connection.channel
                let deadline = Task {
                    try await Task.sleep(for: .milliseconds(PeerNetwork.handshakeTimeout.nanoseconds / 1_000_000))
                    channel.close(promise: nil)
                }
                defer { deadline.cancel() }
                guard let first = try await frames.next() else { return }
                let peer = try await authenticate(first, on: connection.channel)
                deadline.cancel()
                logger.info("peer connected", metadata: ["peer": "\(peer)", "remote": "\(remote)"])
                while let frame = try await frames.next() {
                    let message: PeerMessage
                    do throws(CodecError) {
                        message = try PeerMessage.decode(Array(buffer: frame))
                    } catch {
                        strike(peer)
                        logger.warning("disconnecting peer: undecodable message", metadata: ["peer": "\(peer)", "error": "\(error.message)"])
                        return
                    }
                    if case let .misbehaving(reason) = await handler(peer, message) {
                        strike(peer)
                        logger.warning("disconnecting peer: \(reason)", metadata: ["peer": "\(peer)"])
                        return
                    }
                }
            }
        } catch {
            logger.notice("peer connection closed", metadata: ["remote": "\(remote)", "reason": "\(error)"])
        }
    }

    /// Checks the `hello`: this chain and genesis, an index this node knows (a validator or a
    /// configured follower), and the very key that the peer's TLS certificate carries.
    private func authenticate(_ frame: ByteBuffer, on channel: any Channel) async throws -> ValidatorIndex {
        guard case let .hello(hello) = try? PeerMessage.decode(Array(buffer: frame)) else {
            throw NetworkError.handshake("the first message is not a hello")
        }
        guard hello.chainID == chainID, hello.genesisHash == genesisHash else {
            throw NetworkError.handshake("the peer is on chain \(hello.chainID) with another genesis")
        }
        guard let expected = peerKeys[hello.validator], hello.validator != me else {
            throw NetworkError.handshake("peer index \(hello.validator) is out of range")
        }
        guard let certificate = try await channel.nioSSL_peerCertificate().get(),
              try PeerIdentity.publicKey(of: certificate) == expected
        else { throw NetworkError.handshake("the certificate does not carry validator \(hello.validator)'s key") }
        guard !isBackedOff(hello.validator) else {
            throw NetworkError.handshake("validator \(hello.validator) misbehaved and is refused for a while")
        }
        return hello.validator
    }

    // MARK: Outbound

    /// Keeps a connection to `peer` open, reconnecting with exponential backoff, and writes the
    /// peer's queue to it.
    private func dial(_ peer: ValidatorIndex, at endpoint: PeerEndpoint, context: NIOSSLContext, height: @Sendable () async -> Height) async {
        guard let queue = queues[peer], let expected = peerKeys[peer] else { return }
        var backoffMillis: UInt64 = 100
        var wasConnected = false
        while !Task.isCancelled {
            do {
                let (channel, handshake) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(2))
                    .connect(host: endpoint.host, port: endpoint.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let tls = try NIOSSLClientHandler(context: context, serverHostname: nil) { certificates, promise in
                                promise.succeed(PeerNetwork.accepts(certificates, from: [expected]) ? .certificateVerified : .failed)
                            }
                            let handshake = channel.eventLoop.makePromise(of: Void.self)
                            do {
                                try channel.pipeline.syncOperations.addHandlers([
                                    tls, HandshakeDeadline(timeout: PeerNetwork.handshakeTimeout, completed: handshake),
                                    ByteToMessageHandler(FrameDecoder(limit: Limits.peerMessageBytesMax)), MessageToByteHandler(FrameEncoder()),
                                ])
                            } catch {
                                handshake.fail(error)
                                throw error
                            }
                            return (try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel), handshake.futureResult)
                        }
                    }
                let hello = PeerMessage.hello(.init(chainID: chainID, genesisHash: genesisHash, validator: me, height: await height()))
                try await channel.executeThenClose { _, outbound in
                    // Nothing is written before the handshake completes (or the deadline closes the connection).
                    try await handshake.get()
                    try await outbound.write(ByteBuffer(bytes: hello.encoded()))
                    connected.withLock { _ = $0.insert(peer) }
                    wasConnected = true
                    backoffMillis = 100
                    while let frame = await queue.next() {
                        try await outbound.write(ByteBuffer(bytes: frame))
                    }
                }
            } catch {
                if wasConnected { logger.notice("lost peer", metadata: ["peer": "\(peer)", "reason": "\(error)"]) }
                wasConnected = false
            }
            connected.withLock { _ = $0.remove(peer) }
            try? await Task.sleep(for: .milliseconds(backoffMillis))
            backoffMillis = min(backoffMillis * 2, 5_000)
        }
    }
}
