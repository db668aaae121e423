/// At most `limit` PAM transactions at once; later ones wait in line, each no longer than its timeout. A
/// flood of slow logins then queues instead of starting a helper process each.
public actor TransactionSlots {
    private let limit: Int
    private var running = 0
    private var waiting: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextID: UInt64 = 0

    public init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// True once a slot is held (give it back with `release`); false when none came free within `timeout`.
    public func acquire(timeout: Duration) async -> Bool {
        if running < limit {
            running += 1
            return true
        }
        nextID += 1
        let id = nextID
        let expiry = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(id)
        }
        defer { expiry.cancel() }
        return await withCheckedContinuation { waiting.append((id, $0)) }
    }

    public var hasWaiters: Bool { !waiting.isEmpty }

    /// Hands the slot to the first in line, or frees it.
    public func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().continuation.resume(returning: true)
        }
    }

    private func expire(_ id: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(returning: false)
    }
}
