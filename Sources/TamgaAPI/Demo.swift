import Foundation
import TamgaCore
import TamgaLedger
public import TamgaNode

/// A demo party of a devnet, with its key file, for the portal's picker. Only a devnet's nodes
/// serving on loopback offer these (`NodeConfig.demoParties`): the private keys are in them.
public struct DemoParty: Encodable, Sendable {
    public let party: String
    public let name: String
    public let roles: [String]
    /// The key file as `tamga keys new` writes it (`KeyFile`).
    public let keyFile: String

    /// The demo parties of the devnet whose key folder `config.demoParties` names, or none when
    /// it names none, or when the API listens anywhere but on loopback.
    public static func load(config: NodeConfig, home: NodeHome, genesis: GenesisFile) -> [DemoParty] {
        guard let folder = config.demoParties, loopbackNames.contains(config.apiHost.lowercased()) else { return [] }
        let directory = home.url.appendingPathComponent(folder)
        return genesis.parties.compactMap { party in
            let url = directory.appendingPathComponent("\(party.id.rawValue).key")
            guard let data = try? Data(contentsOf: url), (try? KeyFile.decode(Array(data))) != nil else { return nil }
            return DemoParty(party: party.id.rawValue, name: party.name, roles: party.roles.map(\.rawValue).sorted(),
                             keyFile: String(decoding: data, as: UTF8.self))
        }
    }
}

extension DemoParty {
    static let loopbackNames: Set<String> = ["127.0.0.1", "localhost", "::1"]

    /// Whether a request's `Host` names this machine's loopback, with or without a port.
    static func isLoopback(host: String) -> Bool {
        let name = host.hasPrefix("[") ? String(host.dropFirst().prefix { $0 != "]" }) : String(host.prefix { $0 != ":" })
        return loopbackNames.contains(name.lowercased())
    }
}
