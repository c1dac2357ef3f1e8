import ArgumentParser
import Foundation
import TamgaCore

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create and inspect Ed25519 key files.",
        subcommands: [New.self, Show.self]
    )

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a new key and write it to a file readable only by its owner (mode 0600).")

        @Option(name: .long, help: "Where to write the key file.")
        var out: String

        @Flag(name: .long, help: "Replace an existing file.")
        var force = false

        func run() throws {
            let key = SigningKey()
            try KeyFileIO.write(key, to: out, replacing: force)
            print("wrote \(out)")
            print(KeyFileIO.summary(of: key))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a key file's public key and key id (never the private key).")

        @Argument(help: "The key file.")
        var file: String

        @Flag(name: .long, help: "Print JSON for scripts.")
        var json = false

        func run() throws {
            let (key, mode) = try KeyFileIO.read(from: file)
            if json {
                print(#"{"algorithm":"ed25519","keyId":"\#(key.publicKey.keyID)","publicKey":"\#(key.publicKey)"}"#)
            } else {
                print(KeyFileIO.summary(of: key))
            }
            if mode & 0o077 != 0 {
                FileHandle.standardError.write(Data("warning: \(file) is readable by others (mode \(String(mode & 0o777, radix: 8))); run chmod 600 \(file)\n".utf8))
            }
        }
    }
}

/// Reading and writing key files on disk.
enum KeyFileIO {
    static func summary(of key: SigningKey) -> String {
        """
        algorithm:  ed25519
        public key: \(key.publicKey)
        key id:     \(key.publicKey.keyID)
        """
    }

    /// Writes the key file with mode 0600, refusing to replace an existing file unless asked.
    static func write(_ key: SigningKey, to path: String, replacing: Bool) throws {
        if replacing { unlink(path) }
        // O_EXCL: never follow a symlink or clobber a file that appeared in the meantime.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw CommandFailure("\(path) already exists; pass --force to replace it") }
            throw CommandFailure("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // The mode given to open is reduced by the umask; set it exactly.
        fchmod(descriptor, 0o600)
        let bytes = KeyFile.encode(key)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw CommandFailure("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads and checks a key file; returns the key and the file's permission bits.
    static func read(from path: String) throws -> (SigningKey, Int) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw CommandFailure("no key file at \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("cannot read \(path)")
        }
        guard data.count <= 4096 else { throw CommandFailure("\(path) is \(data.count) bytes, too large to be a key file") }
        do {
            let key = try KeyFile.decode(Array(data))
            return (key, (attributes[.posixPermissions] as? Int) ?? 0)
        } catch {
            throw CommandFailure("\(path): \(error.message) [\(error.code)]")
        }
    }
}
