import ArgumentParser
import Foundation
import TamgaCore
import Testing
@testable import tamga

@Suite struct KeysCommandTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "tamga-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    @Test func newWritesAKeyFileReadableOnlyByItsOwner() throws {
        let path = directory + "/validator.key"
        var command = try Tamga.parseAsRoot(["keys", "new", "--out", path])
        try command.run()
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let (key, mode) = try KeyFileIO.read(from: path)
        #expect(mode & 0o777 == 0o600)
        #expect(try KeyFile.decode(Array(FileManager.default.contents(atPath: path) ?? Data())).publicKey == key.publicKey)
    }

    @Test func newRefusesToReplaceAFileUnlessForced() throws {
        let path = directory + "/k.key"
        try KeyFileIO.write(SigningKey(), to: path, replacing: false)
        let first = try KeyFileIO.read(from: path).0.publicKey
        let error = #expect(throws: CommandFailure.self) { try KeyFileIO.write(SigningKey(), to: path, replacing: false) }
        #expect(error?.description.contains("already exists; pass --force") == true)
        #expect(try KeyFileIO.read(from: path).0.publicKey == first)
        var forced = try Tamga.parseAsRoot(["keys", "new", "--out", path, "--force"])
        try forced.run()
        #expect(try KeyFileIO.read(from: path).0.publicKey != first)
    }

    @Test func showGivesClearErrors() throws {
        let missing = #expect(throws: CommandFailure.self) { try KeyFileIO.read(from: directory + "/none.key") }
        #expect(missing?.description == "no key file at \(directory)/none.key")

        let malformed = directory + "/bad.key"
        _ = FileManager.default.createFile(atPath: malformed, contents: Data("{\"format\":1}".utf8))
        let error = #expect(throws: CommandFailure.self) { try KeyFileIO.read(from: malformed) }
        #expect(error?.description.contains("[key_file.malformed]") == true)

        let huge = directory + "/huge.key"
        _ = FileManager.default.createFile(atPath: huge, contents: Data(count: 10_000))
        let tooLarge = #expect(throws: CommandFailure.self) { try KeyFileIO.read(from: huge) }
        #expect(tooLarge?.description.contains("too large") == true)

        #expect(throws: (any Error).self) { try Tamga.parseAsRoot(["keys", "new"]) }
    }

    @Test func summaryNamesThePublicPartsOnly() throws {
        let key = try SigningKey(seed: [UInt8](repeating: 7, count: 32))
        let summary = KeyFileIO.summary(of: key)
        #expect(summary.contains(key.publicKey.description))
        #expect(summary.contains(key.publicKey.keyID.description))
        #expect(!summary.contains(Hex.encode(key.seed)))
    }
}
