import Foundation
import Testing
import TestSupport

/// `listen.tls_certificate`/`tls_key`: the API and the page over HTTPS, with HSTS and a Secure CSRF cookie.
@Suite(.pamWrapperTurn) struct TLSTests {
    @discardableResult
    static func run(_ command: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func servesHTTPSWithHSTS() async throws {
        let standIns = try StandIns.load()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("tls.crt").path, key = directory.appendingPathComponent("tls.key").path
        let made = try Self.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                                              "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate])
        try #require(made.status == 0, "openssl could not make a certificate")
        let daemon = try await DaemonFixture(standIns: standIns, users: [.init(name: "alice", password: "alice-pw", uid: 2001, groups: [])],
                                             access: "access: []", listenExtra: "  tls_certificate: \(certificate)\n  tls_key: \(key)")
        defer { daemon.stop() }
        let https = daemon.httpURL.absoluteString.replacingOccurrences(of: "http://", with: "https://")
        // curl checks the certificate against the one we made; the headers are what matter here.
        let answer = try Self.run("/usr/bin/curl", ["-s", "--cacert", certificate, "-D", "-", "-o", "/dev/null", "\(https)/"])
        #expect(answer.status == 0)
        let headers = answer.output.lowercased()
        #expect(headers.hasPrefix("http/1.1 200"))
        #expect(headers.contains("strict-transport-security: max-age=31536000"))
        #expect(headers.contains("set-cookie: consolegate_csrf="))
        #expect(headers.contains("; secure"))
        // Plain HTTP on the TLS port gets no page.
        let plain = try Self.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(daemon.httpURL.absoluteString)/"])
        #expect(plain.output != "200")
    }
}
