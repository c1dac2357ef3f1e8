public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A way to tell a person: SMS through a provider, e-mail through a relay, or a file.
public protocol MessageSender: Sendable {
    /// Returns once the provider accepted the message; throws when it did not (it is tried again).
    func send(to address: String, subject: String, text: String) async throws
}

public struct DeliveryFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An SMS gateway that takes `POST <url>` with `{"to", "from", "text"}` and a bearer token,
/// answering 2xx when it accepted the message (docs/integrations.md).
public struct HTTPSMSSender: MessageSender {
    let client: HTTPClient
    let url: String
    let sender: String
    let token: String?

    public init(client: HTTPClient, url: String, sender: String, token: String?) {
        self.client = client
        self.url = url
        self.sender = sender
        self.token = token
    }

    public func send(to address: String, subject: String, text: String) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let body = try JSONSerialization.data(withJSONObject: ["to": address, "from": sender, "text": text], options: [.sortedKeys])
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        _ = try? await response.body.collect(upTo: 64 * 1024)
        guard (200..<300).contains(response.status.code) else { throw DeliveryFailure("the SMS provider answered \(response.status.code)") }
    }
}

/// Appends each message as one JSON line to a file: a devnet's or a test's "phone".
public final class FileSink: MessageSender {
    let path: String
    let channel: String
    private let lock = Mutex(())

    public init(path: String, channel: String) {
        self.path = path
        self.channel = channel
    }

    public func send(to address: String, subject: String, text: String) async throws {
        let line = try JSONSerialization.data(withJSONObject: ["channel": channel, "to": address, "subject": subject, "text": text],
                                              options: [.sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8)
        try lock.withLock { _ in
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw DeliveryFailure("cannot create \(path)")
                }
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
            try handle.synchronize()
        }
    }
}

/// Plain SMTP (RFC 5321) to a relay: EHLO, optional AUTH PLAIN, MAIL FROM, RCPT TO, DATA. The
/// relay (on the node's machine or network) carries the mail on with TLS; this client does not
/// speak STARTTLS, so it is not meant for a relay across the internet.
public struct SMTPMailer: MessageSender {
    let host: String
    let port: Int
    let from: String
    let credentials: (username: String, password: String)?

    public init(host: String, port: Int, from: String, credentials: (username: String, password: String)?) {
        self.host = host
        self.port = port
        self.from = from
        self.credentials = credentials
    }

    public func send(to address: String, subject: String, text: String) async throws {
        for field in [address, from] where field.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" }) || !field.contains("@") {
            throw DeliveryFailure("not an e-mail address: \(field.prefix(80))")
        }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    var session = SMTPSession(inbound: inbound.makeAsyncIterator(), outbound: outbound)
                    try await session.expect(220)
                    try await session.command("EHLO tamga", expect: 250)
                    if let credentials {
                        let plain = Data(([0] + Array(credentials.username.utf8) + [0] + Array(credentials.password.utf8))).base64EncodedString()
                        try await session.command("AUTH PLAIN \(plain)", expect: 235)
                    }
                    try await session.command("MAIL FROM:<\(from)>", expect: 250)
                    try await session.command("RCPT TO:<\(address)>", expect: 250)
                    try await session.command("DATA", expect: 354)
                    try await session.command(Self.message(from: from, to: address, subject: subject, text: text), expect: 250)
                    try await session.command("QUIT", expect: 221)
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                throw DeliveryFailure("the mail relay did not finish within 30 seconds")
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The message as DATA sends it: headers, a base64 UTF-8 body, lines dot-stuffed, and the end mark.
    static func message(from: String, to: String, subject: String, text: String) -> String {
        let encodedSubject = "=?UTF-8?B?\(Data(subject.utf8).base64EncodedString())?="
        let body = Data(text.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        let date = DateFormatter()
        date.locale = Locale(identifier: "en_US_POSIX")
        date.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return [
            "From: <\(from)>", "To: <\(to)>", "Subject: \(encodedSubject)", "Date: \(date.string(from: Date()))",
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", body, ".",
        ].joined(separator: "\r\n")
    }
}

/// One SMTP conversation: commands out, replies (possibly multi-line) in.
struct SMTPSession {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var pending = ""

    mutating func command(_ line: String, expect code: Int) async throws {
        try await outbound.write(ByteBuffer(string: line + "\r\n"))
        try await expect(code)
    }

    /// Reads one reply and checks its code: a reply ends at a line whose fourth character is a space.
    mutating func expect(_ code: Int) async throws {
        while true {
            while let end = pending.range(of: "\r\n") {
                let line = String(pending[..<end.lowerBound])
                pending.removeSubrange(..<end.upperBound)
                guard line.count >= 3, let found = Int(line.prefix(3)) else { throw DeliveryFailure("the mail relay said: \(line.prefix(120))") }
                if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
                guard found == code else { throw DeliveryFailure("the mail relay answered \(line.prefix(120)), expected \(code)") }
                return
            }
            guard pending.utf8.count < 64 * 1024, var buffer = try await inbound.next() else { throw DeliveryFailure("the mail relay closed the connection") }
            pending += buffer.readString(length: buffer.readableBytes) ?? ""
        }
    }
}
