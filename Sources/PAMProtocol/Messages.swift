/// What a worker is asked to do. On the wire: the fields as NUL-separated text (no field can hold a NUL),
/// so that neither side needs a JSON library.
public struct PAMRequest: Sendable, Equatable {
    public enum Mode: String, Sendable {
        /// pam_authenticate, then pam_acct_mgmt.
        case authenticate
        /// pam_acct_mgmt only: the caller is already known to be this user (SO_PEERCRED).
        case account
    }

    public var service: String
    public var user: String
    public var mode: Mode
    /// PAM_RHOST: the client's address.
    public var remoteHost: String?
    /// PAM_TTY: `http`, `ssh` or a real terminal.
    public var tty: String?
    /// PAM_RUSER where it applies (the local user asking on someone's behalf).
    public var remoteUser: String?

    /// PAM's own limit for items and messages; a user name longer than this never reaches PAM.
    public static let maximumField = 512

    public init(service: String, user: String, mode: Mode = .authenticate, remoteHost: String? = nil, tty: String? = nil, remoteUser: String? = nil) {
        self.service = service
        self.user = user
        self.mode = mode
        self.remoteHost = remoteHost
        self.tty = tty
        self.remoteUser = remoteUser
    }

    public var encoded: [UInt8] {
        WireFields.encode([service, user, mode.rawValue, remoteHost ?? "", tty ?? "", remoteUser ?? ""])
    }

    /// Nil for anything but six well-formed fields: a known mode, a non-empty service and user, every field
    /// within PAM's limit and free of control characters.
    public init?(decoding bytes: [UInt8]) {
        guard let fields = WireFields.decode(bytes, count: 6), let mode = Mode(rawValue: fields[2]), !fields[0].isEmpty, !fields[1].isEmpty,
              fields.allSatisfy({ $0.utf8.count <= Self.maximumField && !$0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } })
        else { return nil }
        self.init(service: fields[0], user: fields[1], mode: mode, remoteHost: fields[3].isEmpty ? nil : fields[3],
                  tty: fields[4].isEmpty ? nil : fields[4], remoteUser: fields[5].isEmpty ? nil : fields[5])
    }
}

/// A worker's final word.
public struct WorkerResult: Sendable, Equatable {
    public enum Stage: String, Sendable {
        case start, authenticate, account
    }

    public var status: Int32
    public var stage: Stage
    public var detail: String
    public var failDelayMicroseconds: UInt32
    public var userChanged: Bool

    public init(status: Int32, stage: Stage, detail: String, failDelayMicroseconds: UInt32, userChanged: Bool) {
        self.status = status
        self.stage = stage
        self.detail = detail
        self.failDelayMicroseconds = failDelayMicroseconds
        self.userChanged = userChanged
    }

    public var encoded: [UInt8] {
        WireFields.encode([String(status), stage.rawValue, detail, String(failDelayMicroseconds), userChanged ? "1" : "0"])
    }

    public init?(decoding bytes: [UInt8]) {
        guard let fields = WireFields.decode(bytes, count: 5), let status = Int32(fields[0]), let stage = Stage(rawValue: fields[1]),
              let delay = UInt32(fields[3]), fields[4] == "0" || fields[4] == "1" else { return nil }
        self.init(status: status, stage: stage, detail: fields[2], failDelayMicroseconds: delay, userChanged: fields[4] == "1")
    }
}

/// How PAM phrased a conversation message (PAM_PROMPT_ECHO_OFF and friends).
public enum PAMMessageStyle: UInt8, Sendable {
    case promptEchoOff = 1
    case promptEchoOn = 2
    case errorMessage = 3
    case textInfo = 4
}

public struct PAMMessage: Sendable, Equatable {
    public var style: PAMMessageStyle
    public var text: String

    public init(style: PAMMessageStyle, text: String) {
        self.style = style
        self.text = text
    }
}

/// Text fields separated by NUL bytes, exactly `count` of them, each valid UTF-8.
enum WireFields {
    static func encode(_ fields: [String]) -> [UInt8] {
        Array(fields.map { Array($0.utf8.filter { $0 != 0 }) }.joined(separator: [0]))
    }

    static func decode(_ bytes: [UInt8], count: Int) -> [String]? {
        let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == count else { return nil }
        var fields: [String] = []
        for part in parts {
            guard let text = String(validating: part, as: UTF8.self) else { return nil }
            fields.append(text)
        }
        return fields
    }
}
