#if canImport(Glibc)
import Glibc
#endif

// Every wipe in ConsoleGate goes through these: explicit_bzero, which the optimiser may not remove.

/// Zeroes the bytes.
public func wipe(_ bytes: UnsafeMutableRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    explicit_bzero(base, bytes.count)
}

/// Zeroes the storage the array's bytes live in, even while other copies share it: a copy-on-write copy
/// would leave the secret where it was. Every copy sharing that storage reads zeroes after.
public func wipe(storageOf bytes: [UInt8]) {
    bytes.withUnsafeBytes { wipe(UnsafeMutableRawBufferPointer(mutating: $0)) }
}

/// Zeroes the array's storage in place and empties the array.
public func wipe(_ bytes: inout [UInt8]) {
    wipe(storageOf: bytes)
    bytes.removeAll()
}

/// Zeroes a NUL-terminated C string, as PAM hands answers over.
public func wipe(cString text: UnsafeMutablePointer<CChar>) {
    wipe(UnsafeMutableRawBufferPointer(start: text, count: strlen(text)))
}

// The memory behind a `ByteBuffer` that may hold a secret (a request body, the client's login request):
// zeroed whenever it is freed or moved, since NIO frees and reallocates its storage on its own schedule.
// NIO takes these as C functions (see `ByteBufferAllocator.wiping`). Each block starts with its size, which
// `free` would not tell; the header keeps malloc's 16-byte alignment.

private let header = 16

public func wipingAllocate(_ size: Int) -> UnsafeMutableRawPointer? {
    guard let block = malloc(header + size) else { return nil }
    block.storeBytes(of: size, as: Int.self)
    return block + header
}

/// A fresh block and a wiped old one: `realloc` could leave the old bytes behind in freed memory.
public func wipingReallocate(_ old: UnsafeMutableRawPointer?, _ oldSize: Int, _ newSize: Int) -> UnsafeMutableRawPointer? {
    guard let new = wipingAllocate(newSize) else { return nil }
    if let old {
        new.copyMemory(from: old, byteCount: min(oldSize, newSize))
        wipingDeallocate(old)
    }
    return new
}

public func wipingDeallocate(_ pointer: UnsafeMutableRawPointer) {
    let block = pointer - header
    wipe(UnsafeMutableRawBufferPointer(start: pointer, count: block.load(as: Int.self)))
    free(block)
}
