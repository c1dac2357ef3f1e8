import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection of the load generator to one node: one request at a time,
/// its head and body leaving in a single write. The benchmark shares the machine with the nodes
/// it measures, so its submissions go through this rather than the general `HTTPClient`, whose
/// connection pool, tracing and separate writes of head and body cost it several times the CPU
/// per request.
struct LoadConnection {
    typealias Channel = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    private let host: String
    private var responses: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let requests: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    /// False once the node has said it closes the connection after its last answer: the next
    /// request goes over a new connection, so it is never sent into a closing one.
    private(set) var isReusable = true

    struct Closed: Error, CustomStringConvertible {
        var description: String { "the node closed the connection" }
    }

    /// Connects to `host:port`, runs `body` with the connection, and closes it after `body`.
    static func with<T: Sendable>(host: String, port: Int, _ body: (inout LoadConnection) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = LoadConnection(host: host, responses: inbound.makeAsyncIterator(), requests: outbound, isReusable: true)
            return try await body(&connection)
        }
    }

    /// Posts a JSON body to `path` and returns the answer's status and body.
    mutating func post(_ path: String, json: ByteBuffer) async throws -> (status: Int, body: ByteBuffer) {
        try await request(.POST, path, body: json)
    }

    /// Sends one request (with a JSON body, if any) and returns the answer's status and body.
    mutating func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body json: ByteBuffer? = nil) async throws -> (status: Int, body: ByteBuffer) {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: host)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let json {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(json.readableBytes))
            try await requests.write(contentsOf: [.head(head), .body(.byteBuffer(json)), .end(nil)])
        } else {
            try await requests.write(contentsOf: [.head(head), .end(nil)])
        }
        var status: Int?
        var body = ByteBuffer()
        while let part = try await responses.next() {
            switch part {
            case let .head(response):
                status = Int(response.status.code)
                isReusable = response.isKeepAlive
            case var .body(bytes): body.writeBuffer(&bytes)
            case .end:
                guard let status else { throw Closed() }
                return (status, body)
            }
        }
        throw Closed()
    }
}
