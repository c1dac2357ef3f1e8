import ArgumentParser

/// The `tamga` command: keys, the network and its nodes, the devnet, the simulator and benchmarks.
@main
struct Tamga: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tamga",
        abstract: "Tamga: a permissioned blockchain for real-estate registration.",
        subcommands: [DevnetCommand.self, NetworkCommand.self, NodeCommand.self, AuditCommand.self, ImportCommand.self, TxCommand.self, QueryCommand.self, DocumentCommand.self, CeremonyCommand.self, VerifyCommand.self, KeysCommand.self, SimulateCommand.self, BenchCommand.self, RegisterCommand.self]
    )
}

/// An error the CLI reports to its user and exits non-zero on.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
