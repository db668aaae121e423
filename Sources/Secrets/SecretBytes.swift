/// A secret (password, one-time code) kept as bytes outside Swift's copy-on-write storage, so it can be
/// wiped: the memory is zeroed when the last reference goes.
public final class SecretBytes: @unchecked Sendable {
    /// PAM_MAX_RESP_SIZE: longer answers are refused, not truncated as pam_unix would.
    public static let maximumLength = 512

    private let storage: UnsafeMutableBufferPointer<UInt8>

    public init<Bytes: Collection<UInt8>>(copying bytes: Bytes) {
        storage = .allocate(capacity: max(bytes.count, 1))
        _ = storage.initialize(from: bytes)
        count = bytes.count
    }

    /// Takes the bytes out of `buffer` and zeroes it.
    public convenience init(consuming buffer: inout [UInt8]) {
        self.init(copying: buffer)
        wipe(&buffer)
    }

    public let count: Int

    public var isTooLong: Bool { count > Self.maximumLength }

    public func withUnsafeBytes<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        try body(UnsafeBufferPointer(rebasing: storage[0..<count]))
    }

    deinit {
        wipe(UnsafeMutableRawBufferPointer(storage))
        storage.deallocate()
    }
}
