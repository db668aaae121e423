import Foundation
import CProcessSupport
import GatewayConfig
#if canImport(Glibc)
import Glibc
#endif

/// One line of the audit trail. Never a password, one-time code, SigninToken, secret key or session token.
public struct AuditRecord: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case success
        case authenticationFailed = "authentication_failed"
        /// PAM's account phase refused: expired, locked, or a password that must be changed.
        case accountRefused = "account_refused"
        case lockedOut = "locked_out"
        case noRole = "no_role"
        case roleNotAllowed = "role_not_allowed"
        case awsRefused = "aws_refused"
        case upstreamUnavailable = "upstream_unavailable"
        case invalidRequest = "invalid_request"
        /// Refused before PAM: guesses for this name or address were still running, holding the budget.
        case throttled
        /// The client hung up before the answer; the detail says whether anything was minted.
        case clientGone = "client_gone"
        /// Refused before PAM: `pam.max_concurrent` transactions were running and none ended in time.
        case busy
        /// The PAM monitor was gone, or went during the transaction.
        case pamUnavailable = "pam_unavailable"
        /// `consolegate unlock` by an operator, and a refused try at it.
        case unlocked
        case unlockRefused = "unlock_refused"
        /// Written before AWS is asked (request id, user, role); the attempt's outcome follows with the same
        /// request id. An AWS session without a gateway record cannot exist.
        case minting
        /// The shared state (PostgreSQL) could not decide in time; nothing ran past that point.
        case stateUnavailable = "state_unavailable"
        /// PAM accepted a one-time code that had already been used within `pam.otp_validity` (on any replica).
        case codeReused = "code_reused"
        /// A role that needs a step-up was asked for without its secrets, where they cannot be given (the socket).
        case stepUpRequired = "step_up_required"
        /// `consolegate revoke`: an operator ended a person's sessions (or everyone's) on one role; the
        /// record's time is the moment before which they end. And a refused try at it over the socket.
        case revoked
        case revokeRefused = "revoke_refused"
    }

    public var time: String
    public var requestId: String
    public var frontEnd: String
    public var user: String
    public var client: String
    public var outcome: Outcome
    public var role: String?
    public var sessionName: String?
    public var accessKeyId: String?
    /// When what was minted stops working: the console session of a URL, or the credentials.
    public var expires: String?
    /// For operators: PAM's or AWS's words about a failure.
    public var detail: String?

    public init(time: String, requestId: String, frontEnd: String, user: String, client: String, outcome: Outcome, role: String? = nil,
                sessionName: String? = nil, accessKeyId: String? = nil, expires: String? = nil, detail: String? = nil) {
        self.time = time
        self.requestId = requestId
        self.frontEnd = frontEnd
        self.user = user
        self.client = client
        self.outcome = outcome
        self.role = role
        self.sessionName = sessionName
        self.accessKeyId = accessKeyId
        self.expires = expires
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case time, user, client, outcome, role, expires, detail
        case requestId = "request_id"
        case frontEnd = "front_end"
        case sessionName = "session_name"
        case accessKeyId = "access_key_id"
    }
}

public struct AuditUnavailable: Error, CustomStringConvertible {
    public var description: String
}

/// Appends audit records to a file, each written and flushed to disk before `record` returns.
public actor AuditLog: AuditSink {
    private let path: String
    /// The service user `serve` becomes: it owns the audit directory and the file, and reopens after rotation.
    private let owner: ServiceAccount?
    private var descriptor: Int32 = -1
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public init(path: String, owner: ServiceAccount? = nil) {
        self.path = path
        self.owner = owner
    }

    /// Opens (creating it 0600 if needed) so that a bad path is found at start, not at the first login. The
    /// directory must be trustworthy and the file must not be a symlink: otherwise whoever can write there
    /// could point the daemon's appends (with user names they chose) at any file. Both are checked on the
    /// opened descriptors (`fstat`), so nothing can be swapped in between the check and the use. Root opens it
    /// as the service user (the file-system ids of this thread only), as that user will after rotation: the
    /// directory is theirs, and root needs no `CAP_DAC_OVERRIDE` to enter it.
    public func open() throws {
        guard descriptor < 0 else { return }
        if let owner, geteuid() == 0 {
            // No suspension point below, so this thread runs the whole open.
            guard consolegate_set_filesystem_ids(owner.uid, owner.gid) == 0 else {
                throw AuditUnavailable(description: "cannot open the audit log \(path) as \(owner.name): setfsuid failed")
            }
            defer { _ = consolegate_set_filesystem_ids(0, 0) }
            try openAsThisThread()
        } else {
            try openAsThisThread()
        }
    }

    private func openAsThisThread() throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let directoryFD = Glibc.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directoryFD >= 0 else {
            throw AuditUnavailable(description: "cannot open the audit directory \(directory)\(asOwner): \(String(cString: strerror(errno)))")
        }
        defer { close(directoryFD) }
        if let problem = FileSafety.problem(descriptor: directoryFD, path: directory, kind: .directory, alsoOwnedBy: owner?.uid) {
            throw AuditUnavailable(description: problem.description)
        }
        let opened = openat(directoryFD, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard opened >= 0 else {
            let error = errno
            let reason = switch (error, owner) {
            case (ELOOP, _): "it is a symlink; refusing to follow it (remove it, and let consolegate create the file)"
            case (EACCES, let owner?): "\(String(cString: strerror(error))) for \(owner.name) (chown \(owner.name): \(path))"
            default: String(cString: strerror(error))
            }
            throw AuditUnavailable(description: "cannot open the audit log \(path): \(reason)")
        }
        if let problem = FileSafety.problem(descriptor: opened, path: path, kind: .appendOnlyFile, alsoOwnedBy: owner?.uid) {
            close(opened)
            throw AuditUnavailable(description: problem.description)
        }
        descriptor = opened
    }

    private var asOwner: String { owner.map { " as \($0.name)" } ?? "" }

    /// Whether the path still leads to the open file: run as the service user after the drop, so a path it
    /// cannot reach stops the daemon at start rather than failing every login.
    public func checkPathReachable() throws {
        var open = stat()
        var current = stat()
        guard fstat(descriptor, &open) == 0, lstat(path, &current) == 0 else {
            throw AuditUnavailable(description: "\(path): cannot be reached as uid \(geteuid()) (\(String(cString: strerror(errno)))); every directory above it must be searchable by the service user")
        }
        guard open.st_ino == current.st_ino, open.st_dev == current.st_dev else {
            throw AuditUnavailable(description: "\(path) changed during start-up")
        }
    }

    /// After logrotate (or anyone) moved the file away, write to a new file at the path, not the old one.
    private func reopenIfRotated() {
        guard descriptor >= 0 else { return }
        var open = stat()
        var current = stat()
        if fstat(descriptor, &open) != 0 || lstat(path, &current) != 0 || open.st_ino != current.st_ino || open.st_dev != current.st_dev {
            close(descriptor)
            descriptor = -1
        }
    }

    public func record(_ record: AuditRecord) throws {
        var line = JSONLine.escapingLineBreakers(try encoder.encode(record))
        line.append(UInt8(ascii: "\n"))
        do {
            try write(line)
        } catch {
            // The file may have been rotated or its descriptor gone bad: reopen once, then give up.
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
            try write(line)
        }
    }

    private func write(_ line: [UInt8]) throws {
        reopenIfRotated()
        try open()
        let written = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw AuditUnavailable(description: "cannot write the audit log \(path): \(written < 0 ? String(cString: strerror(errno)) : "short write")")
        }
        guard fdatasync(descriptor) == 0 else {
            throw AuditUnavailable(description: "cannot flush the audit log \(path): \(String(cString: strerror(errno)))")
        }
    }
}
