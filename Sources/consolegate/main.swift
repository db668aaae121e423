import Dispatch

// The main thread waits here rather than in dispatch_main, which parks it half-exited where glibc's setuid no
// longer reaches it: `serve` gives up root on every thread, this one included, once its listeners are bound.
let finished = DispatchSemaphore(value: 0)
Task.detached {
    await ConsoleGate.main()
    finished.signal()
}
finished.wait()
