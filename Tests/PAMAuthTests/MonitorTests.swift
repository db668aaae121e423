import Foundation
@testable import PAMAuth
import Testing
import TestSupport

/// A compromised daemon, simulated: raw frames written to the monitor's sockets. Whatever the monitor refuses
/// runs no PAM — the stack's first module (pam_exec) would leave a marker file if it ran.
@Suite(.serialized, .pamWrapperTurn) final class MonitorTests {
    let fixture: PAMFixture
    let marker: URL

    init() throws {
        fixture = try PAMFixture()
        marker = fixture.directory.appendingPathComponent("pam-ran")
        try fixture.service("cgtest", """
        auth    required \(PAMFixture.modules)/pam_exec.so /usr/bin/touch \(marker.path)
        auth    required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        account required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        """)
        try fixture.service("cgtest-stepup", """
        auth    required \(PAMFixture.modules)/pam_exec.so /usr/bin/touch \(marker.path)
        auth    required \(PAMFixture.modules)/pam_permit.so
        account required \(PAMFixture.modules)/pam_permit.so
        """)
    }

    deinit {
        fixture.remove()
    }

    func monitor(maxConcurrent: Int = 4) throws -> PAMMonitor {
        try PAMMonitor(executable: PAMFixture.monitor, services: ["cgtest", "cgtest-stepup"], timeout: .seconds(10), maxConcurrent: maxConcurrent,
                       environment: PAMAuthenticator.helperEnvironment(from: fixture.callerEnvironment))
    }

    /// Sends `frames` on a fresh transaction and reads until the worker closes: the frames it sent back.
    func transaction(_ monitor: PAMMonitor, _ frames: [(Frame, [UInt8])]) throws -> [Frame] {
        let socket = try #require(monitor.openTransaction())
        defer { close(socket) }
        let channel = FrameChannel(readFD: socket, writeFD: socket)
        for (type, payload) in frames { try channel.send(type, payload) }
        var received: [Frame] = []
        while let (type, _) = try? channel.receive(deadline: .now + .seconds(10)) { received.append(type) }
        return received
    }

    var pamRan: Bool { FileManager.default.fileExists(atPath: marker.path) }

    @Test func theRightServiceRunsPAM() throws {
        let frames = try transaction(try monitor(), [(.start, PAMRequest(service: "cgtest", user: "alice").encoded), (.answer, Array("alice-secret".utf8))])
        #expect(frames == [.prompt, .result])
        #expect(pamRan)
    }

    /// An access rule's step-up service is one the monitor was started for: it runs.
    @Test func aStepUpServiceItWasStartedForRuns() throws {
        let frames = try transaction(try monitor(), [(.start, PAMRequest(service: "cgtest-stepup", user: "alice").encoded)])
        #expect(frames == [.result])
        #expect(pamRan)
    }

    @Test func anotherServiceIsRefused() throws {
        let frames = try transaction(try monitor(), [(.start, PAMRequest(service: "other", user: "alice").encoded)])
        #expect(frames.isEmpty)
        #expect(!pamRan)
    }

    @Test func anOversizedUserIsRefused() throws {
        let user = String(repeating: "a", count: 600)
        let frames = try transaction(try monitor(), [(.start, PAMRequest(service: "cgtest", user: user).encoded)])
        #expect(frames.isEmpty)
        #expect(!pamRan)
    }

    @Test func aFrameOutOfOrderIsRefused() throws {
        let monitor = try monitor()
        #expect(try transaction(monitor, [(.answer, Array("alice-secret".utf8))]).isEmpty)
        #expect(try transaction(monitor, [(.result, WorkerResult(status: 0, stage: .account, detail: "", failDelayMicroseconds: 0, userChanged: false).encoded)]).isEmpty)
        #expect(try transaction(monitor, [(.start, Array("cgtest\0alice".utf8))]).isEmpty, "a start frame with two fields")
        #expect(!pamRan)
    }

    /// 1,000 transactions at once against a cap of 4, on a stack that keeps each worker 2 s: no more than 4
    /// workers ever exist; the rest are answered `busy` and run no PAM.
    @Test func aThousandAtOnceStayWithinTheCap() async throws {
        try fixture.service("cgtest", """
        auth    required \(PAMFixture.modules)/pam_exec.so /bin/sleep 2
        auth    required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        account required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        """)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, 4096))
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let monitor = try monitor(maxConcurrent: 4)
        let start = PAMRequest(service: "cgtest", user: "alice").encoded
        var sockets: [Int32] = []
        for _ in 0..<1000 {
            let socket = try #require(monitor.openTransaction())
            // The monitor may have answered `busy` and closed already: then the send fails, the answer is there.
            try? FrameChannel(readFD: socket, writeFD: socket).send(.start, start)
            sockets.append(socket)
        }
        var mostWorkers = 0
        var busy = 0
        var prompted = 0
        for socket in sockets {
            mostWorkers = max(mostWorkers, ProcessTable.children(of: monitor.pid).count)
            let first = try? FrameChannel(readFD: socket, writeFD: socket).receive(deadline: .now + .seconds(10))
            if first?.0 == .busy { busy += 1 }
            if first?.0 == .prompt { prompted += 1 }
            close(socket)
        }
        #expect(mostWorkers <= 4)
        #expect(prompted >= 4)
        #expect(busy + prompted == 1000)
        #expect(busy >= 1000 - 4 * 3, "a few more than the cap may start as the first ones end")
    }
}
