#if canImport(Glibc)
import Glibc
#endif

/// The address a login comes from: the TCP peer, or, when the peer is a trusted reverse proxy, the nearest
/// address in X-Forwarded-For that is not one of the trusted proxies.
struct ClientAddress {
    let trustedProxies: Set<String>

    func resolve(peer: String?, forwardedFor: String?) -> String {
        let peer = peer ?? "unknown"
        guard trustedProxies.contains(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return hops.last { !trustedProxies.contains($0) } ?? hops.first ?? peer
    }
}

extension ClientAddress {
    /// An IPv4 or IPv6 address in text form (what `consolegate unlock` treats as an address, not a name).
    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
