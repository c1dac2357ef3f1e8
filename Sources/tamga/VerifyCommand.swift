import ArgumentParser
import Foundation
import TamgaCore
import TamgaLedger
import TamgaNode

/// `tamga verify`: checks an extract offline, knowing only the network's genesis file.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an extract offline against the network's genesis file, and say why a tampered one fails.",
        discussion: """
            The extract is the JSON from GET /v1/properties/{cadastralNumber}/extract. It verifies when more
            than two thirds of the genesis validators' voting power signed its block header, and the proof
            places exactly its passport record in the state that header names. Validator-set changes are not
            followed yet: the block must be signed by the genesis validators.
            """
    )

    @Argument(help: "The extract (JSON).")
    var file: String

    @Option(help: "The network's genesis.json.")
    var genesis: String

    func run() throws {
        let genesisFile = try GenesisFile.load(URL(fileURLWithPath: genesis))
        let extract: Extract
        do {
            extract = try JSONDecoder().decode(Extract.self, from: try Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            throw CommandFailure("\(file) is not an extract: \(error)")
        }
        let header: BlockHeader
        do {
            header = try extract.verify(chain: genesisFile.chainID, validators: try genesisFile.validatorSet())
        } catch {
            throw CommandFailure("NOT VALID: \(error)")
        }
        let passport = extract.passport
        print("VALID: property \(extract.cadastralNumber) as of block \(header.height) of \(header.chainID) (block \(header.hash))")
        print("owners: " + passport.owners.map { "\($0.party) (\(String(decoding: (try? JSONEncoder().encode($0.share)) ?? Data(), as: UTF8.self)))" }.joined(separator: ", "))
        print(passport.restrictions.isEmpty
              ? "encumbrances: none (free of arrests and pledges at this block)"
              : "encumbrances: " + passport.restrictions.map { "\($0.kind.rawValue) by \($0.holder)" }.joined(separator: ", "))
        if let handovers = extract.validatorHandovers, !handovers.isEmpty {
            print("validators: followed from genesis through \(handovers.count) change\(handovers.count == 1 ? "" : "s") of the set")
        }
        print("verification code: \(extract.verificationCode)")
    }
}
