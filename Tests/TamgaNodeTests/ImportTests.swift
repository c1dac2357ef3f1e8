import Foundation
import TamgaCore
import TamgaLedger
import TamgaNode
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("tamga import: an existing register onto the chain", .serialized)
struct ImportTests {
    private func row(_ index: Int, owners: String = "citizen-1:1", area: String = "54.5", arrest: String = "") -> String {
        "10-010-010-\(index),apartment,\"Astana, import street \(index), apt \"\"\(index)\"\"\",\(area),\(owners),\(Hash.sha256(Array("title \(index)".utf8)).hex),\(arrest)"
    }

    private let header = "cadastralNumber,kind,address,areaM2,owners,titleDocumentSha256,arrestOrderSha256"

    private func importArguments(_ cluster: ProcessNetwork, file: URL, journal: URL, report: URL, batch: Int) -> [String] {
        let parties = cluster.network.directory.appendingPathComponent("parties")
        return ["import", "--file", file.path, "--journal", journal.path, "--report", report.path, "--node", cluster.urls[0],
                "--key", parties.appendingPathComponent("registrar-1.key").path, "--party", "registrar-1",
                "--court-key", parties.appendingPathComponent("court-1.key").path, "--court", "court-1", "--batch", String(batch)]
    }

    @Test("good rows are registered and proven, bad ones reported without stopping: a malformed row, an unknown owner, a property already registered; arrests imposed by the court")
    func importsAndReports() async throws {
        let cluster = try ProcessNetwork(validators: 1)
        defer { cluster.network.remove() }
        defer { Task { _ = try? await cluster.shutdown() } }
        try await cluster.waitUntilServing(0)
        let registrar = try TestSigner("registrar-1", in: cluster.network)
        _ = try #require(try await cluster.commit(try registrar.sign(.registerProperty(RegisterProperty(
            cadastralNumber: try CadastralNumber("10-010-010-9"), kind: "house", address: "Astana", area: AreaHundredths(10_000), location: nil,
            owners: [Ownership(party: try PartyID("citizen-2"), share: .whole)], titleDocumentHash: .sha256(Array("earlier".utf8))))), at: 0))

        let folder = cluster.network.directory
        let file = folder.appendingPathComponent("register.csv")
        let order = Hash.sha256(Array("court order 7".utf8)).hex
        let lines = [header, row(1), row(2, owners: "citizen-1:1/2;citizen-2:1/2"), row(3, area: "12.555"), row(4, owners: "nobody-at-all:1"),
                     row(5), row(6, owners: "citizen-3:1/3;citizen-4:2/3"), row(7, arrest: order), row(8), row(9)]
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let journal = folder.appendingPathComponent("import.journal"), report = folder.appendingPathComponent("report.json")
        let result = try await runTamga(importArguments(cluster, file: file, journal: journal, report: report, batch: 3))
        #expect(result.status == 0, "\(result.output)")

        let reportJSON = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])
        #expect(reportJSON["imported"] as? Int == 6 && reportJSON["verified"] as? Int == 6, "\(reportJSON)")
        #expect(reportJSON["refused"] as? Int == 2 && reportJSON["invalid"] as? Int == 1, "\(reportJSON)")
        let rows = try #require(reportJSON["rows"] as? [[String: Any]])
        func entry(_ number: String) -> [String: Any] { rows.first { $0["cadastralNumber"] as? String == number } ?? [:] }
        #expect(entry("10-010-010-3")["status"] as? String == "invalid" && (entry("10-010-010-3")["message"] as? String ?? "").contains("areaM2"))
        #expect(entry("10-010-010-4")["status"] as? String == "rejected", "\(entry("10-010-010-4"))")
        #expect(entry("10-010-010-9")["code"] as? String == "property.exists")
        #expect(entry("10-010-010-7")["arrest"] as? String == "committed")
        let proof = try #require(entry("10-010-010-2")["proof"] as? [String: Any])
        #expect(proof["verified"] as? Bool == true && proof["matchesRow"] as? Bool == true)

        // The chain says the same: the arrest is there, the shares are the row's, and the quoted address survived.
        let encumbrances = try await cluster.request(0, "/v1/properties/10-010-010-7/encumbrances")
        #expect(encumbrances.json["isFree"] as? Bool == false)
        let again = try await runTamga(importArguments(cluster, file: file, journal: journal, report: report, batch: 3))
        #expect(again.status == 0 && again.output.contains("imported 6"), "a second run with the same journal changes nothing: \(again.output)")
    }

    @Test("killed with -9 part way, the import resumes from its journal and imports every row exactly once")
    func resumesAfterKill() async throws {
        let cluster = try ProcessNetwork(validators: 1)
        defer { cluster.network.remove() }
        defer { Task { _ = try? await cluster.shutdown() } }
        try await cluster.waitUntilServing(0)
        let folder = cluster.network.directory
        let file = folder.appendingPathComponent("register.csv")
        try (([header] + (100..<160).map { row($0, owners: "citizen-\($0 % 10 + 1):1") }).joined(separator: "\n")).write(to: file, atomically: true, encoding: .utf8)
        let journal = folder.appendingPathComponent("import.journal"), report = folder.appendingPathComponent("report.json")

        let process = Process()
        process.executableURL = try tamgaExecutable()
        process.arguments = importArguments(cluster, file: file, journal: journal, report: report, batch: 10)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Killed once some rows are final and others in flight.
        let deadline = ContinuousClock.now + .seconds(60)
        func committedLines() -> Int {
            ((try? String(contentsOf: journal, encoding: .utf8)) ?? "").split(separator: "\n").count { $0.contains("\"outcome\":\"committed\"") }
        }
        while committedLines() < 15, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        kill(process.processIdentifier, SIGKILL)
        try await offThePool { process.waitUntilExit() }
        let before = committedLines()
        #expect(before >= 15 && before < 60, "killed part way: \(before) rows committed")

        let resumed = try await runTamga(importArguments(cluster, file: file, journal: journal, report: report, batch: 10))
        #expect(resumed.status == 0, "\(resumed.output)")
        let reportJSON = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])
        #expect(reportJSON["imported"] as? Int == 60 && reportJSON["refused"] as? Int == 0 && reportJSON["verified"] as? Int == 60, "\(reportJSON)")
        // Every row's registration committed exactly once: never a second transaction for a row.
        #expect(committedLines() == 60)
    }
}
