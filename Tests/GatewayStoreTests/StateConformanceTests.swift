import Foundation
import GatewayConfig
@testable import GatewayStore
import Testing

/// What every backend of `GatewayState` must do alike, run against the memory backend and against
/// PostgreSQL (a fresh database per test, two "replicas" where it matters: two pools on one database).
@Suite struct StateConformanceTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case memory
        case postgres
        var testDescription: String { rawValue }
    }

    static let limits = LockoutSettings(perUser: 3, perAddress: 5, perUserInFlight: 2, perAddressInFlight: 100, window: .seconds(600), duration: .seconds(600))

    /// `replicas` views of one state: the same actor for memory, separate pools on one database for PostgreSQL.
    /// `timeout`: each call's `state.postgres.timeout` (a test of atomicity, not of latency, may give more).
    static func withState<T: Sendable>(_ backend: Backend, replicas: Int = 1, limits: LockoutSettings = limits, slotLifetime: Duration = .seconds(60),
                                       timeout: Duration = .seconds(2), _ body: @escaping @Sendable ([any GatewayState]) async throws -> T) async throws -> T {
        switch backend {
        case .memory:
            let state = MemoryState(limits: limits)
            return try await body(Array(repeating: state, count: replicas))
        case .postgres:
            let database = try await TestDatabase.create(timeout: timeout)
            let stores = try (0..<replicas).map { _ in try database.store() }
            return try await withRunning(stores) {
                try await body(stores.map { PostgresState(store: $0, limits: limits, slotLifetime: slotLifetime) })
            }
        }
    }

    /// Admits and finishes one attempt; false when it was not admitted.
    static func attempt(_ state: any GatewayState, _ user: String, from address: String = "192.0.2.1", device: String? = nil,
                        succeeding: Bool = false) async throws -> Bool {
        guard case .admitted(let ticket) = try await state.admit(user: user, address: address, device: device) else { return false }
        try await state.finish(ticket, succeeded: succeeding)
        return true
    }

    @Test(arguments: Backend.allCases) func locksAfterPerUserFailures(_ backend: Backend) async throws {
        try await Self.withState(backend) { (states: [any GatewayState]) async throws in
            let state = states[0]
            for index in 1...3 { #expect(try await Self.attempt(state, "alice", from: "192.0.2.\(index)")) }
            #expect(try await state.admit(user: "alice", address: "192.0.2.9", device: nil) == .locked)
            #expect(try await Self.attempt(state, "bob"), "another name is not locked")
        }
    }

    @Test(arguments: Backend.allCases) func aSuccessClearsTheNamesFailures(_ backend: Backend) async throws {
        try await Self.withState(backend) { (states: [any GatewayState]) async throws in
            let state = states[0]
            for _ in 1...2 { #expect(try await Self.attempt(state, "alice")) }
            #expect(try await Self.attempt(state, "alice", succeeding: true))
            for _ in 1...2 { #expect(try await Self.attempt(state, "alice")) }
            #expect(try await Self.attempt(state, "alice", succeeding: true), "two failures after the success: not locked")
        }
    }

    /// The budget is taken when an attempt starts, on whichever replica: attempts still running count, so
    /// concurrent guesses cannot overshoot it, and only `per_user_in_flight` run at once.
    @Test(arguments: Backend.allCases) func runningAttemptsHoldTheBudgetAcrossReplicas(_ backend: Backend) async throws {
        try await Self.withState(backend, replicas: 2) { (states: [any GatewayState]) async throws in
            let (a, b) = (states[0], states[1])
            guard case .admitted(let first) = try await a.admit(user: "alice", address: "192.0.2.1", device: nil),
                  case .admitted(let second) = try await b.admit(user: "alice", address: "192.0.2.2", device: nil) else {
                Issue.record("the first two attempts must be admitted")
                return
            }
            #expect(try await a.admit(user: "alice", address: "192.0.2.3", device: nil) == .busy, "two in flight is the cap")
            try await a.finish(first, succeeded: false)
            guard case .admitted(let third) = try await b.admit(user: "alice", address: "192.0.2.4", device: nil) else {
                Issue.record("a slot was free again")
                return
            }
            #expect(try await a.admit(user: "alice", address: "192.0.2.5", device: nil) == .busy, "one failure and two running: the budget of 3 is spoken for")
            try await b.finish(second, succeeded: false)
            try await a.finish(third, succeeded: false)
            #expect(try await b.admit(user: "alice", address: "192.0.2.6", device: nil) == .locked)
        }
    }

    /// The acceptance's brute force, at the state: 200 guesses at once through three replicas, each failing;
    /// no more than `per_user` are ever admitted.
    @Test(arguments: Backend.allCases) func twoHundredConcurrentGuessesOverThreeReplicasAdmitAtMostTheBudget(_ backend: Backend) async throws {
        let limits = LockoutSettings(perUser: 5, perAddress: 1000, perUserInFlight: 3, perAddressInFlight: 1000, window: .seconds(600), duration: .seconds(600))
        // 200 calls queue for 3 × 8 connections: on a machine busy with other suites a call can wait for its
        // connection longer than the 2 s default, which would be an outage here, not an answer.
        let admitted = try await Self.withState(backend, replicas: 3, limits: limits, timeout: .seconds(30)) { (states: [any GatewayState]) async throws in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for guess in 0..<200 {
                    group.addTask {
                        let state = states[guess % 3]
                        guard case .admitted(let ticket) = try await state.admit(user: "victim", address: "198.51.100.\(guess % 50)", device: nil) else { return 0 }
                        try await state.finish(ticket, succeeded: false)
                        return 1
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(admitted >= 1 && admitted <= 5, "\(admitted) guesses admitted")
    }

    @Test(arguments: Backend.allCases) func addressesHaveTheirOwnThreshold(_ backend: Backend) async throws {
        try await Self.withState(backend) { (states: [any GatewayState]) async throws in
            let state = states[0]
            for user in ["u1", "u2", "u3", "u4", "u5"] { #expect(try await Self.attempt(state, user, from: "203.0.113.5")) }
            #expect(try await state.admit(user: "bob", address: "203.0.113.5", device: nil) == .locked)
            #expect(try await Self.attempt(state, "u1", from: "203.0.113.6"), "the names themselves are not locked")
        }
    }

    /// A lock on the name imposed from elsewhere does not shut out the user's trusted device; the device's
    /// own failures lock the device only, after which it shares the name's (locked) budget.
    @Test(arguments: Backend.allCases) func aTrustedDeviceHasItsOwnBudget(_ backend: Backend) async throws {
        try await Self.withState(backend) { (states: [any GatewayState]) async throws in
            let state = states[0]
            for index in 1...3 { #expect(try await Self.attempt(state, "alice", from: "198.51.100.\(index)")) }
            #expect(try await !Self.attempt(state, "alice", from: "192.0.2.50"))
            #expect(try await Self.attempt(state, "alice", from: "192.0.2.50", device: "laptop", succeeding: true))
            for _ in 1...3 { #expect(try await Self.attempt(state, "alice", from: "192.0.2.50", device: "laptop")) }
            #expect(try await !Self.attempt(state, "alice", from: "192.0.2.50", device: "laptop"))
        }
    }

    @Test(arguments: Backend.allCases) func withdrawnAttemptsCountNothing(_ backend: Backend) async throws {
        try await Self.withState(backend) { (states: [any GatewayState]) async throws in
            let state = states[0]
            for _ in 1...10 {
                guard case .admitted(let ticket) = try await state.admit(user: "alice", address: "192.0.2.1", device: nil) else {
                    Issue.record("a withdrawn attempt must give its slots back")
                    return
                }
                try await state.withdraw(ticket)
            }
        }
    }

    @Test(arguments: Backend.allCases) func unlockEndsALockOnEveryReplica(_ backend: Backend) async throws {
        try await Self.withState(backend, replicas: 2) { (states: [any GatewayState]) async throws in
            for _ in 1...3 { #expect(try await Self.attempt(states[0], "alice")) }
            #expect(try await states[1].admit(user: "alice", address: "192.0.2.7", device: nil) == .locked)
            #expect(try await states[1].unlock(.user("alice")))
            #expect(try await Self.attempt(states[0], "alice", succeeding: true))
            #expect(try await !states[0].unlock(.user("nobody")))
        }
    }

    @Test(arguments: Backend.allCases) func aRoleChoiceIsTakenOnceOnAnyReplica(_ backend: Backend) async throws {
        try await Self.withState(backend, replicas: 3) { (states: [any GatewayState]) async throws in
            let choice = RoleChoice(tokenDigest: "d1", user: "bob", csrfDigest: "c1", client: "192.0.2.1")
            try await states[0].holdRoleChoice(choice, for: .seconds(120))
            #expect(try await states[1].takeRoleChoice(tokenDigest: "d1") == choice)
            #expect(try await states[2].takeRoleChoice(tokenDigest: "d1") == nil, "a replay on a third replica")
            #expect(try await states[0].takeRoleChoice(tokenDigest: "unknown") == nil)
        }
    }

    @Test(arguments: Backend.allCases) func anExpiredRoleChoiceIsRefused(_ backend: Backend) async throws {
        try await Self.withState(backend) { (states: [any GatewayState]) async throws in
            try await states[0].holdRoleChoice(RoleChoice(tokenDigest: "d2", user: "bob", csrfDigest: "c", client: "a"), for: .zero)
            #expect(try await states[0].takeRoleChoice(tokenDigest: "d2") == nil)
        }
    }

    @Test(arguments: Backend.allCases) func aOneTimeCodeIsClaimedOnceOnAnyReplica(_ backend: Backend) async throws {
        try await Self.withState(backend, replicas: 2) { (states: [any GatewayState]) async throws in
            let claims = try await withThrowingTaskGroup(of: Bool.self) { group in
                for replica in 0..<10 { group.addTask { try await states[replica % 2].claimOneTimeCode(digest: "code-a", validity: .seconds(300)) } }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(claims.filter { $0 }.count == 1, "10 concurrent claims of one code: exactly one succeeds")
            #expect(try await states[1].claimOneTimeCode(digest: "code-b", validity: .seconds(300)))
            // A code whose validity has passed may be claimed again (its window is over; the OTP module refuses it anyway).
            #expect(try await states[0].claimOneTimeCode(digest: "code-c", validity: .zero))
            #expect(try await states[1].claimOneTimeCode(digest: "code-c", validity: .seconds(300)))
        }
    }

    @Test(arguments: Backend.allCases) func healthIsOKWhenTheStateAnswers(_ backend: Backend) async throws {
        try await Self.withState(backend) { (states: [any GatewayState]) async throws in
            _ = try await states[0].admit(user: "alice", address: "192.0.2.1", device: nil)
            #expect(await states[0].health() == .ok)
        }
    }
}
