import PAMAuth
import Testing

/// The cap on PAM transactions at once: a slot handed on in arrival order, a wait that ends at its timeout.
@Suite struct TransactionSlotsTests {
    @Test func aFreedSlotGoesToTheFirstInLine() async {
        let slots = TransactionSlots(limit: 1)
        #expect(await slots.acquire(timeout: .seconds(1)))
        async let waiter = slots.acquire(timeout: .seconds(30))
        // Handed over, not freed: a newcomer after the release still has to wait.
        while await !slots.hasWaiters { await Task.yield() }
        await slots.release()
        #expect(await waiter)
        #expect(await !slots.acquire(timeout: .milliseconds(50)))
    }

    @Test func aWaitEndsAtItsTimeoutWithoutASlot() async {
        let slots = TransactionSlots(limit: 2)
        #expect(await slots.acquire(timeout: .seconds(1)))
        #expect(await slots.acquire(timeout: .seconds(1)))
        let started = ContinuousClock.now
        #expect(await !slots.acquire(timeout: .milliseconds(100)))
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        await slots.release()
        #expect(await slots.acquire(timeout: .milliseconds(100)))
    }
}
