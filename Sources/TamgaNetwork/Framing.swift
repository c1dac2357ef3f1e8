import NIOCore
import NIOTLS

/// Splits the byte stream into frames: `u32 length ‖ length bytes`. A frame longer than the
/// limit is an error that closes the connection before its body is read.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let limit: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= limit else { throw NetworkError.frameTooLarge(bytes: Int(length), limit: limit) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// Prefixes each outgoing frame with its length.
struct FrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = ByteBuffer

    func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(data.readableBytes))
        out.writeImmutableBuffer(data)
    }
}

/// Closes a connection whose TLS handshake has not completed within `timeout`, and completes
/// `completed` when it has (or fails it when the connection closes first). A node writes nothing
/// to a peer before the handshake completes: until then TLS would buffer every write, without
/// bound, for an address that accepted the connection and never answered.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private let completed: EventLoopPromise<Void>
    private var timer: Scheduled<Void>?
    private var done = false

    init(timeout: TimeAmount, completed: EventLoopPromise<Void>) {
        self.timeout = timeout
        self.completed = completed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent, !done {
            done = true
            timer?.cancel()
            completed.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        giveUp()
        context.fireChannelInactive()
    }

    /// Also when the connection never became active (refused): the promise is always completed.
    func handlerRemoved(context: ChannelHandlerContext) {
        giveUp()
    }

    private func giveUp() {
        timer?.cancel()
        if !done {
            done = true
            completed.fail(NetworkError.handshake("the connection closed before its TLS handshake completed"))
        }
    }
}
