import AWSSigV4
import Foundation

/// Turns a login name into an STS name (RoleSessionName, SourceIdentity, federated user Name):
/// `[\w+=,.@-]`, within length limits. Ordinary names pass unchanged; any other name keeps a readable
/// form and gains a short hash of the original, so two different users never share a session name.
public enum SessionName {
    public static let roleSessionLimit = 64
    public static let federatedUserLimit = 32
    static let hashLength = 8

    public static func encode(_ user: String, maxLength: Int = roleSessionLimit) -> String {
        if user.count >= 2, user.count <= maxLength, user.unicodeScalars.allSatisfy(isAllowed) {
            return user
        }
        let folded = user.folding(options: [.diacriticInsensitive, .widthInsensitive], locale: Locale(identifier: "en_US_POSIX"))
        var readable = ""
        for scalar in folded.unicodeScalars {
            let next: Character = isAllowed(scalar) ? Character(scalar) : "-"
            if next == "-", readable.last == "-" { continue }
            readable.append(next)
        }
        let suffix = Digest.sha256(user).hexString.prefix(hashLength)
        let room = maxLength - hashLength - 1
        let trimmed = readable.prefix(room).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return trimmed.isEmpty ? "u-\(suffix)" : "\(trimmed)-\(suffix)"
    }

    static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "+", "=", ",", ".", "@", "-": return true
        default: return false
        }
    }
}
