public import ServiceLifecycle

/// The node as a service of the process's `ServiceGroup`: it runs until the group shuts down
/// (SIGTERM or SIGINT), then stops consensus and closes its peer connections. Every write is a
/// complete SQLite transaction, so stopping at any moment leaves a consistent database.
public struct NodeService: Service {
    public let node: Node

    public init(node: Node) { self.node = node }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await node.run()
        }
    }
}
