public import AsyncHTTPClient
import Foundation
public import Logging
public import TamgaNode

extension DeliveryService {
    /// The delivery service a node's config asks for (`delivery` in config.json; docs/integrations.md).
    public static func configured(node: Node, home: NodeHome, store: IntegrationStore, http: HTTPClient,
                                  labels: [String: [String: String]], logger: Logger) throws -> DeliveryService {
        let config = node.config.delivery ?? NodeConfig.Delivery()
        var settings = Settings()
        settings.allowPrivateAddresses = config.webhookPrivateAddresses ?? false
        if let millis = config.retryBaseMillis { settings.retryBase = .milliseconds(max(1, millis)) }
        return DeliveryService(node: node, store: store, http: http, sms: try config.sms.map { try smsSender($0, home: home, http: http) },
                               email: try config.email.map { try emailSender($0, home: home) }, catalog: MessageCatalog(labels: labels),
                               settings: settings, logger: logger)
    }

    static func smsSender(_ config: NodeConfig.Delivery.SMS, home: NodeHome, http: HTTPClient) throws -> any MessageSender {
        switch config.provider {
        case "http":
            guard let url = config.url else { throw NodeFileError.malformed(file: home.configURL.path, reason: "delivery.sms: the http provider needs url") }
            let token = try config.tokenFile.map { try secret(home.path($0)) }
            return HTTPSMSSender(client: http, url: url, sender: config.sender ?? "Tamga", token: token)
        case "file":
            return FileSink(path: home.path(config.file ?? "sms.jsonl"), channel: "sms")
        default:
            throw NodeFileError.malformed(file: home.configURL.path, reason: "delivery.sms.provider is http or file, not \(config.provider)")
        }
    }

    static func emailSender(_ config: NodeConfig.Delivery.Email, home: NodeHome) throws -> any MessageSender {
        switch config.provider {
        case "smtp":
            guard let host = config.host, let from = config.from else {
                throw NodeFileError.malformed(file: home.configURL.path, reason: "delivery.email: the smtp provider needs host and from")
            }
            let credentials = try config.username.map { user -> (username: String, password: String) in
                guard let file = config.passwordFile else {
                    throw NodeFileError.malformed(file: home.configURL.path, reason: "delivery.email: username needs passwordFile")
                }
                return (user, try secret(home.path(file)))
            }
            return SMTPMailer(host: host, port: config.port ?? 25, from: from, credentials: credentials)
        case "file":
            return FileSink(path: home.path(config.file ?? "email.jsonl"), channel: "email")
        default:
            throw NodeFileError.malformed(file: home.configURL.path, reason: "delivery.email.provider is smtp or file, not \(config.provider)")
        }
    }

    /// A credential kept in a file of its own (not in config.json), without its trailing newline.
    static func secret(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw NodeFileError.malformed(file: path, reason: "cannot read the credential")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
