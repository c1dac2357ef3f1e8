import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TamgaCore

/// The web portal's files (HTML, CSS, JavaScript modules and message catalogs under
/// `Sources/TamgaAPI/Portal`), read once from the module's resources. Only the files found there
/// are served, by exact name, so no request path reaches the file system.
public struct PortalFiles: Sendable {
    struct File: Sendable {
        let bytes: ByteBuffer
        let contentType: String
    }

    let files: [String: File]

    /// The portal page may run only its own scripts and talk only to its own node; it cannot be
    /// framed, and forms post nowhere else.
    static let headers: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        .cacheControl: "no-cache",
    ]

    static let contentTypes = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
        "json": "application/json", "svg": "image/svg+xml",
    ]

    /// The portal's names of event kinds (`event.<kind>` in each catalog), by language: the words
    /// SMS and e-mail use too.
    public static func eventLabels() -> [String: [String: String]] {
        guard let root = Bundle.module.resourceURL?.appendingPathComponent("Portal/i18n") else { return [:] }
        var labels: [String: [String: String]] = [:]
        for language in ["en", "ru", "kk"] {
            guard let data = try? Data(contentsOf: root.appendingPathComponent("\(language).json")),
                  let catalog = try? JSONDecoder().decode([String: String].self, from: data) else { continue }
            labels[language] = Dictionary(uniqueKeysWithValues: catalog.compactMap { key, value in
                key.hasPrefix("event.") ? (String(key.dropFirst(6)), value) : nil
            })
        }
        return labels
    }

    static func load() -> PortalFiles {
        guard let root = Bundle.module.resourceURL?.appendingPathComponent("Portal") else { return PortalFiles(files: [:]) }
        var files: [String: File] = [:]
        let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = walker?.nextObject() as? URL {
            guard let type = contentTypes[url.pathExtension], let data = try? Data(contentsOf: url) else { continue }
            let name = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))
            files[name] = File(bytes: ByteBuffer(bytes: data), contentType: type)
        }
        return PortalFiles(files: files)
    }

    func response(_ name: String) throws -> Response {
        guard let file = files[name] else {
            throw Problem(status: .notFound, code: "request.not_found", detail: "the portal has no file \(name.prefix(80))")
        }
        var headers = Self.headers
        headers[.contentType] = file.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: file.bytes))
    }

    func add(to router: Router<APIRequestContext>) {
        router.get("/") { _, _ in try response("index.html") }
        router.get("/portal/**") { _, context in
            try response(context.parameters.getCatchAll().joined(separator: "/"))
        }
    }
}
