import Foundation
import Testing
import TestSupport

@testable import AWSSigV4

/// Randomized requests signed by ours and by botocore's SigV4Auth must carry the same Authorization header.
@Suite struct SigV4DifferentialTests {
    struct Case: Encodable {
        var method: String
        var url: String
        var params: [String: String]
        var headers: [[String]]
        var body: String
        var service: String
        var region: String
        var access_key: String
        var secret_key: String
        var token: String?
        var timestamp: String
    }

    /// A small deterministic generator, so a failure can be reproduced from its seed.
    static func randomText(_ rng: inout SplitMix64, alphabet: [Character], length: ClosedRange<Int>) -> String {
        String((0..<Int.random(in: length, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    static func makeCases(count: Int, seed: UInt64) -> [(Case, SigningRequest, AWSCredentials, Date)] {
        var rng = SplitMix64(state: seed)
        let plain = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let awkward = plain + Array("-_.~ !$'()*+,;:@/=&?é☃%")
        let services = ["sts", "cognito-identity", "iam", "execute-api"]
        let regions = ["us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1"]
        return (0..<count).map { _ in
            let path = (0..<Int.random(in: 0...3, using: &rng)).map { _ in randomText(&rng, alphabet: plain + ["-", "_", "~"], length: 1...8) }.joined(separator: "/")
            var params: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                params[randomText(&rng, alphabet: plain, length: 1...6)] = randomText(&rng, alphabet: awkward, length: 0...10)
            }
            var headers: [[String]] = [["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]]
            for index in 0..<Int.random(in: 0...3, using: &rng) {
                headers.append(["X-Custom-\(index)-\(randomText(&rng, alphabet: plain, length: 1...5))", "  value  \(randomText(&rng, alphabet: plain + [" "], length: 0...12)) "])
            }
            let method = ["GET", "POST"].randomElement(using: &rng)!
            let body = method == "POST" ? randomText(&rng, alphabet: awkward, length: 0...40) : ""
            let token = Bool.random(using: &rng) ? randomText(&rng, alphabet: plain + ["/", "+", "="], length: 20...60) : nil
            let date = Date(timeIntervalSince1970: Double(Int.random(in: 1_400_000_000...1_900_000_000, using: &rng)))
            let port = Bool.random(using: &rng) ? ":\(Int.random(in: 1024...65535, using: &rng))" : ""
            var components = URLComponents()
            components.queryItems = params.isEmpty ? nil : params.map { URLQueryItem(name: $0.key, value: $0.value) }
            let query = components.percentEncodedQuery.map { "?" + $0.replacingOccurrences(of: "+", with: "%2B") } ?? ""
            let base = "https://service.example.amazonaws.com\(port)/\(path)"
            let credentials = AWSCredentials(accessKeyId: "AKID" + randomText(&rng, alphabet: plain, length: 8...16),
                                             secretAccessKey: randomText(&rng, alphabet: plain + ["/", "+"], length: 40...40),
                                             sessionToken: token)
            let testCase = Case(method: method, url: base, params: params, headers: headers, body: body,
                                service: services.randomElement(using: &rng)!, region: regions.randomElement(using: &rng)!,
                                access_key: credentials.accessKeyId, secret_key: credentials.secretAccessKey, token: token,
                                timestamp: SigV4Signer.timestamp(date))
            let request = SigningRequest(method: method, url: URL(string: base + query)!,
                                         headers: headers.map { ($0[0], $0[1]) }, body: Array(body.utf8))
            return (testCase, request, credentials, date)
        }
    }

    @Test func matchesBotocoreOnRandomizedRequests() throws {
        let cases = Self.makeCases(count: 300, seed: 0xC0FFEE)
        let encoder = JSONEncoder()
        let input = try cases.map { String(decoding: try encoder.encode($0.0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("botocore_sign.py").path
        let output = try runPython(script: script, input: input)
        let lines = output.split(separator: "\n")
        try #require(lines.count == cases.count, "botocore produced \(lines.count) signatures for \(cases.count) requests")
        for (index, line) in lines.enumerated() {
            let expected = try JSONDecoder().decode([String: String].self, from: Data(line.utf8))["authorization"]
            let (testCase, request, credentials, date) = cases[index]
            let signer = SigV4Signer(region: testCase.region, service: testCase.service, keyCache: SigningKeyCache())
            let ours = signer.signingHeaders(for: request, credentials: credentials, date: date).last?.value
            #expect(ours == expected, "case \(index): \(testCase.method) \(request.url)")
        }
    }

    private func runPython(script: String, input: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 with botocore must be installed (scripts/test.sh installs it)")
        return String(decoding: data, as: UTF8.self)
    }
}
