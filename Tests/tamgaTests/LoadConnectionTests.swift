import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import TamgaCore
import Testing
@testable import tamga

/// The network bench's submissions over its own HTTP/1.1 connections, against a local server
/// that answers as a node would: a full mempool is asked again, a refusal is counted by its code,
/// a dropped connection counts its transaction as refused and opens a new one for the next, and
/// an answer that announces the connection's close sends the next request over a new one.
@Suite struct LoadConnectionTests {
    /// Answers each request by what its body says; records every body it received.
    final class ScriptedNode: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let received = NIOLockedValueBox<[String]>([])
        private let body = NIOLockedValueBox("")

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head: body.withLockedValue { $0 = "" }
            case let .body(bytes): body.withLockedValue { $0 += String(buffer: bytes) }
            case .end:
                let text = body.withLockedValue { $0 }
                let seen = received.withLockedValue { list in
                    list.append(text)
                    return list.count(where: { $0 == text })
                }
                switch text {
                case "full-once" where seen == 1: answer(503, #"{"code":"mempool.full","detail":"the mempool is full"}"#, context)
                case "refuse": answer(422, #"{"code":"tx.bad_nonce","detail":"nonce 9 is not 2"}"#, context)
                case "drop": context.close(promise: nil)
                case "last":
                    answer(202, #"{"id":"x","status":"pending"}"#, context, closing: true)
                    context.close(promise: nil)
                default: answer(202, #"{"id":"x","status":"pending"}"#, context)
                }
            }
        }

        private func answer(_ status: Int, _ json: String, _ context: ChannelHandlerContext, closing: Bool = false) {
            var head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status))
            head.headers.add(name: "Content-Length", value: String(json.utf8.count))
            if closing { head.headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: json)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    @Test func submissionsRetryAFullMempoolCountRefusalsAndSurviveADroppedConnection() async throws {
        let node = ScriptedNode()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(node)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let wallet = Wallet(id: try PartyID("citizen-1"), key: SigningKey(), lastNonce: 0)
        let run = LoadRun(clients: [])
        let scripts = ["ok-1", "full-once", "refuse", "drop", "last", "ok-2"]
        _ = await run.reserve([(ObjectIdentifier(wallet), scripts.count)], total: scripts.count)
        let (queue, queueEnd) = AsyncStream<Planned>.makeStream()
        for (index, script) in scripts.enumerated() {
            queueEnd.yield(Planned(wallet: wallet, id: "t\(index)", node: 0, body: ByteBuffer(string: script)))
        }
        queueEnd.finish()

        await run.submitAll(queue, to: NodeEndpoint(host: "127.0.0.1", port: port))
        try await server.close()

        // The full mempool was asked again, with the same bytes; every transaction reached the node.
        #expect(node.received.withLockedValue { $0 } == ["ok-1", "full-once", "full-once", "refuse", "drop", "last", "ok-2"])
        let refused = await run.refusedCodes
        #expect(refused["tx.bad_nonce"] == 1)
        #expect(refused.keys.filter { $0.hasPrefix("connection failed") }.count == 1)
        #expect(refused.values.reduce(0, +) == 2)
        // The refused ones no longer count against the sender; the four accepted still wait.
        #expect(await run.reserve([(ObjectIdentifier(wallet), 1_000)], total: 1_000) == [LoadRun.waitingPerSenderMax - 4])
    }
}
