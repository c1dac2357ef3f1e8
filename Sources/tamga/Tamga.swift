import ArgumentParser

/// The `tamga` command: key management and benchmarks today; the node, devnet and client commands
/// arrive with the modules that implement them.
@main
struct Tamga: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tamga",
        abstract: "Tamga: a permissioned blockchain for real-estate registration.",
        subcommands: [KeysCommand.self, SimulateCommand.self, BenchCommand.self]
    )
}

/// An error the CLI reports to its user and exits non-zero on.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
