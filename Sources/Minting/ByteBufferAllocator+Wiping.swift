@_spi(CustomByteBufferAllocator) import NIOCore
import Secrets

extension ByteBufferAllocator {
    /// Buffers whose memory is zeroed when NIO frees or moves it, for bytes that may carry a secret: the
    /// gateway's connections (request bodies with passwords) and the transport's request bodies (passwords,
    /// session credentials). NIO keeps, slices and reallocates buffers on its own schedule, so wiping one
    /// `ByteBuffer` value could only ever zero a copy.
    public static let wiping = ByteBufferAllocator(
        allocate: { wipingAllocate($0) },
        reallocate: { wipingReallocate($0, $1, $2) },
        deallocate: { wipingDeallocate($0) },
        copy: { $0.copyMemory(from: $1, byteCount: $2) }
    )
}
