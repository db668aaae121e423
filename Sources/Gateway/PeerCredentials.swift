import CProcessSupport
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

extension consolegate_ucred: @retroactive @unchecked Sendable {}

/// Who is on the other end of a Unix socket, as the kernel says (SO_PEERCRED): never what the client claims.
enum PeerCredentials {
    static func uid(of channel: any Channel) async -> UInt32? {
        guard let provider = channel as? SocketOptionProvider else { return nil }
        let credentials: consolegate_ucred? = try? await provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(consolegate_so_peercred())
        ).get()
        return credentials?.uid
    }
}
