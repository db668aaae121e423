import AWSSigV4
import Authorization
import Foundation
import GatewayConfig
import GatewayStore
import Logging
import Metrics
import Minting
import PAMAuth

/// Which front end a login came through (recorded in the audit trail).
public enum FrontEnd: String, Sendable {
    case api
    case web
    case socket
}

/// What a person receives: a console URL, or the role's credentials (for `credential_process`).
public enum Grant: Sendable {
    case url(MintedURL)
    case credentials(RoleSession)
}

/// Why a login produced nothing; each maps to one answer a client can act on.
public enum LoginFailure: Error, Sendable, Equatable {
    /// Any PAM failure (wrong password, unknown user, expired account, helper trouble): all look alike.
    case authenticationFailed
    /// Locked after too many failures, or too many attempts at once for this name or address: the same 429.
    case lockedOut
    /// Authenticated, but no access rule names this user or their groups.
    case noRole
    /// Authenticated, but not for the role asked for; `allowed` are the roles they may take.
    case roleNotAllowed(requested: String, allowed: [String])
    case awsRefused(String)
    case upstreamUnavailable(String)
    /// The audit record could not be written, so no URL was issued (fail closed).
    case auditUnavailable
    case invalidRequest(String)
    /// The client hung up while PAM or AWS was working; nothing was (or will be) delivered.
    case clientGone
    /// `pam.max_concurrent` transactions were running and none ended in time; no PAM ran (503, Retry-After).
    case busy
    /// The PAM monitor is gone (the daemon is stopping); 503.
    case pamUnavailable
    /// The shared state (PostgreSQL) did not answer in time; nothing was decided or minted (503).
    case stateUnavailable
    /// A web role choice whose token is unknown, spent, expired, or from another browser or address.
    case choiceExpired
    /// The role needs more than was given (its step-up secrets); nothing ran. Told only to someone already
    /// authenticated (the web chooser) or vouched for by the kernel (the socket).
    case stepUpRequired(role: String, secrets: [SecretKind])
    /// On the socket, where the kernel named the caller: PAM's account check said no, or the uid has no
    /// name. Nothing to hide there, no password having been asked.
    case accountRefused
}

/// Someone this gateway has just authenticated: PAM said yes to their secrets, or, on the socket, the kernel
/// named the caller and PAM's account check passed. Only `LoginService` makes one (the initializer is
/// private to its file), so nothing can be authorized or minted for a name that merely arrived in a request.
public struct AuthenticatedUser: Sendable {
    public let name: String
    /// The access rules that name them or their groups, looked up before PAM ran (for a web role choice,
    /// again when the role is picked).
    let rules: [AccessRule]
    public var roles: [String] { rules.map(\.role) }

    fileprivate init(name: String, rules: [AccessRule]) {
        self.name = name
        self.rules = rules
    }

    /// Their roles as people see them, each with the secrets choosing it takes beyond the base ones.
    func offers(base: [SecretKind]) -> [RoleOffer] {
        rules.map { RoleOffer(role: $0.role, label: $0.displayName, stepUpSecrets: $0.stepUpSecrets(base: base)) }
    }
}

/// A role someone may take, for the chooser, `/api/v1/roles` and `consolegate login`.
public struct RoleOffer: Sendable, Equatable {
    public var role: String
    public var label: String
    /// What taking it needs beyond the base sign-in (a step-up rule's secrets); empty for most roles.
    public var stepUpSecrets: [SecretKind]
}

/// A login as the front ends hand it over.
public struct LoginAttempt: Sendable {
    public var user: String
    /// What the person gave, by kind; each PAM transaction takes the kinds its service asks for, in order.
    public var secrets: [SecretKind: SecretBytes]
    public var role: String?
    public var destination: URL?
    public var region: String?
    public var wantsCredentials: Bool
    /// End the browser's console session first; the config's `aws.logout_first` when nil.
    public var logoutFirst: Bool?
    public var frontEnd: FrontEnd
    public var client: String
    public var requestId: String
    /// The client's device token (cookie or JSON field), if it sent one; verified by the service.
    public var deviceToken: String?
    /// Whether the client is still there to receive an answer; asked before minting and before answering.
    public var isClientConnected: @Sendable () -> Bool

    public init(user: String, secrets: [SecretKind: SecretBytes], role: String? = nil, destination: URL? = nil, region: String? = nil,
                wantsCredentials: Bool = false, logoutFirst: Bool? = nil, frontEnd: FrontEnd, client: String, requestId: String,
                deviceToken: String? = nil, isClientConnected: @escaping @Sendable () -> Bool = { true }) {
        self.deviceToken = deviceToken
        self.isClientConnected = isClientConnected
        self.user = user
        self.secrets = secrets
        self.role = role
        self.destination = destination
        self.region = region
        self.wantsCredentials = wantsCredentials
        self.logoutFirst = logoutFirst
        self.frontEnd = frontEnd
        self.client = client
        self.requestId = requestId
    }
}

/// front end → authenticate → authorize → mint → audit. Every path writes exactly one audit record, and a
/// grant leaves only after its record is durable.
public struct LoginService: Sendable {
    let configuration: GatewayConfiguration
    let authenticator: any Authenticating
    let policy: AccessPolicy
    let minter: any URLMinting
    let audit: any AuditSink
    /// The lockout, pending role choices and used one-time codes: this process's, or all replicas'.
    let state: any GatewayState
    public let deviceTokens: DeviceTokens
    let logger: Logger

    /// How long a web login waits for its user to pick a role.
    static let roleChoiceLifetime: Duration = .seconds(120)

    public init(configuration: GatewayConfiguration, authenticator: any Authenticating, policy: AccessPolicy, minter: any URLMinting,
                audit: any AuditSink, state: any GatewayState, deviceTokens: DeviceTokens, logger: Logger) {
        self.configuration = configuration
        self.authenticator = authenticator
        self.policy = policy
        self.minter = minter
        self.audit = audit
        self.state = state
        self.deviceTokens = deviceTokens
        self.logger = logger
    }

    public init(configuration: GatewayConfiguration, authenticator: any Authenticating, minter: any URLMinting, audit: any AuditSink,
                state: any GatewayState, deviceTokens: DeviceTokens, logger: Logger) {
        self.init(
            configuration: configuration, authenticator: authenticator, policy: AccessPolicy(configuration: configuration), minter: minter,
            audit: audit, state: state, deviceTokens: deviceTokens, logger: logger
        )
    }

    /// Whether logins can be decided and recorded now (`/healthz`): the shared state and the audit trail.
    public func health() async -> StateHealth {
        if case .degraded(let reason) = await state.health() { return .degraded(reason) }
        return await audit.health()
    }

    /// What a front end accepts as a user name before anything else happens: no control characters (CR, LF,
    /// NUL …), at most 256 bytes. PAM, NSS and the audit trail never see anything else.
    public static func isAcceptableUserName(_ user: String) -> Bool {
        !user.isEmpty && user.utf8.count <= 256 && !user.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    var failureFloor: Duration { configuration.lockout.failureFloor }

    /// A login with secrets (the JSON API).
    public func login(_ attempt: LoginAttempt) async throws(LoginFailure) -> Grant {
        try await audited(attempt) { scope in
            await afterAuthentication(attempt, stepUpFor: .grantRequested(attempt.role), &scope) { user, scope in await grantRole(to: user, attempt, &scope) }
        }.get()
    }

    /// What the web form gets: a grant, or, for a user with several roles who named none, the token that
    /// proves the authentication while they pick one.
    public enum WebStep: Sendable {
        case granted(Grant)
        case chooseRole(token: String, roles: [RoleOffer])
    }

    /// A login through the web form: like `login`, but a user with several roles chooses one first. The
    /// choice is bound to the browser's CSRF token and address, kept in the shared state (any replica can
    /// finish it), usable once, for two minutes. The password is not asked for again (a one-time code could
    /// not be used twice anyway).
    public func webLogin(_ attempt: LoginAttempt, csrf: String) async throws(LoginFailure) -> WebStep {
        try await audited(attempt) { scope in
            await afterAuthentication(attempt, stepUpFor: attempt.role.map { .grantRequested($0) } ?? .none, &scope) { user, scope in
                // A role of its own, or the only one and no step-up: no choice to make.
                guard attempt.role == nil, user.rules.count > 1 || user.rules.first?.pamService != nil else {
                    return await grantRole(to: user, attempt, &scope).map(WebStep.granted)
                }
                let token = RandomToken.make()
                let choice = RoleChoice(tokenDigest: Self.digest(token), user: user.name, csrfDigest: Self.digest(csrf), client: attempt.client)
                do {
                    try await state.holdRoleChoice(choice, for: Self.roleChoiceLifetime)
                } catch {
                    return .failure(scope.fail(.stateUnavailable, detail: "\(error)"))
                }
                scope.record(.success, detail: "authenticated; choosing among \(user.rules.count) roles")
                return .success(.chooseRole(token: token, roles: user.offers(base: configuration.pam.secrets)))
            }
        }.get()
    }

    /// The second step of a web login: the token of a login authenticated moments ago (on this replica or
    /// another), from the same browser and address, and the role picked in `attempt.role`.
    /// A step-up role needs its secrets with the choice; without them the token stays valid (go back, enter).
    public func chosenRole(token: String, csrf: String, _ attempt: LoginAttempt) async throws(LoginFailure) -> (user: String, grant: Grant) {
        if let role = attempt.role {
            // Every rule for the role, whoever's: what is asked does not tell whose rule it is.
            let needed = configuration.access.filter { $0.role == role }.flatMap { $0.stepUpSecrets(base: configuration.pam.secrets) }
            let missing = SecretKind.allCases.filter { needed.contains($0) && attempt.secrets[$0] == nil }
            if !missing.isEmpty { throw .stepUpRequired(role: role, secrets: missing) }
        }
        let choice: RoleChoice?
        do {
            choice = try await state.takeRoleChoice(tokenDigest: Self.digest(token))
        } catch {
            logger.error("cannot take a web role choice", metadata: ["request_id": "\(attempt.requestId)", "error": "\(error)"])
            throw .stateUnavailable
        }
        guard let choice, RandomToken.equal(choice.csrfDigest, Self.digest(csrf)), choice.client == attempt.client else {
            throw .choiceExpired
        }
        var attempt = attempt
        attempt.user = choice.user
        let user = AuthenticatedUser(name: choice.user, rules: policy.rules(for: choice.user))
        let grant = try await audited(attempt) { scope -> Result<Grant, LoginFailure> in
            // The rule the grant will use (the role picked, or else the first), as for every other login.
            if let rule = StepUpChoice.grantRequested(attempt.role).rule(among: user.rules) {
                if let failure = await passStepUp(attempt, rule: rule, &scope) { return .failure(failure) }
            }
            return await grantRole(to: user, attempt, &scope)
        }.get()
        return (choice.user, grant)
    }

    /// The step-up of a role picked after the base sign-in: a guess of its own (admitted, counted, and its
    /// one-time code claimed), before anything is minted.
    private func passStepUp(_ attempt: LoginAttempt, rule: AccessRule, _ scope: inout AuditScope) async -> LoginFailure? {
        let ticket: AttemptTicket
        switch await admit(attempt, &scope) {
        case .failure(let failure): return failure
        case .success(let admitted): ticket = admitted
        }
        if let failure = await stepUp(attempt, rule: rule, ticket: ticket, &scope) { return failure }
        if rule.stepUpSecrets(base: configuration.pam.secrets).contains(.otp), let failure = await refuseReusedCode(attempt, ticket: ticket, &scope) {
            return failure
        }
        return await finish(ticket, succeeded: true, &scope)
    }

    /// Tokens and one-time codes are kept as digests: whoever reads the shared state cannot use them.
    static func digest(_ text: String) -> String {
        Digest.sha256(text).hexString
    }

    /// Authorize among the user's rules (looked up once per login), then mint.
    private func grantRole(to user: AuthenticatedUser, _ attempt: LoginAttempt, _ scope: inout AuditScope) async -> Result<Grant, LoginFailure> {
        switch authorize(attempt, rules: user.rules, &scope) {
        case .failure(let failure): return .failure(failure)
        case .success(let rule): return await grant(attempt, rule: rule, &scope)
        }
    }

    /// The roles a user may take, after the same authentication and lockout as a login.
    public func roles(_ attempt: LoginAttempt) async throws(LoginFailure) -> [RoleOffer] {
        try await audited(attempt) { scope in
            await afterAuthentication(attempt, stepUpFor: .none, &scope) { user, scope in
                scope.record(.success, detail: "listed roles")
                return .success(user.offers(base: configuration.pam.secrets))
            }
        }.get()
    }

    /// A local user on the Unix socket: the kernel vouches for the uid, so PAM checks only the account, and
    /// only for a user whom an access rule names.
    public func socketLogin(uid: UInt32, role: String?, destination: URL?, wantsCredentials: Bool, requestId: String,
                            isClientConnected: @escaping @Sendable () -> Bool = { true }) async throws(LoginFailure) -> Grant {
        guard let user = policy.directory.userName(uid: uid) else {
            logger.warning("socket caller has no user name", metadata: ["uid": "\(uid)"])
            throw .accountRefused
        }
        let attempt = LoginAttempt(user: user, secrets: [:], role: role, destination: destination, wantsCredentials: wantsCredentials,
                                   frontEnd: .socket, client: "uid:\(uid)", requestId: requestId, isClientConnected: isClientConnected)
        return try await audited(attempt) { scope in
            let rules = policy.rules(for: user)
            guard !rules.isEmpty else {
                return .failure(scope.fail(.noRole, detail: "no access rule names this user or their groups; PAM not run"))
            }
            // The socket carries no secrets: a step-up role is for the web page and `consolegate login`.
            if let rule = StepUpChoice.grantRequested(role).rule(among: rules) {
                let secrets = rule.secrets ?? configuration.pam.secrets
                return .failure(scope.fail(.stepUpRequired(role: rule.role, secrets: secrets), role: rule.role,
                                           detail: "\(rule.displayName) needs \(secrets.map(\.rawValue).joined(separator: ", ")); PAM not run"))
            }
            let outcome = await authenticator.checkAccount(PAMRequest(service: configuration.pam.service, user: user, mode: .account, tty: "ssh", remoteUser: user))
            if let unavailable = Self.unavailable(outcome) {
                return .failure(scope.fail(unavailable, detail: outcome.detail))
            }
            guard outcome.succeeded else {
                scope.record(Self.auditOutcome(outcome), detail: outcome.detail)
                return .failure(.accountRefused)
            }
            return await grantRole(to: AuthenticatedUser(name: user, rules: rules), attempt, &scope)
        }.get()
    }

    // MARK: - Steps

    /// Authentication (with lockout), then `next`. Every failure of either answers no sooner than the floor,
    /// so timing does not tell a real name from another.
    private func afterAuthentication<T>(_ attempt: LoginAttempt, stepUpFor role: StepUpChoice, _ scope: inout AuditScope,
                                        _ next: (AuthenticatedUser, inout AuditScope) async -> Result<T, LoginFailure>) async -> Result<T, LoginFailure> {
        let started = ContinuousClock.now
        var result: Result<T, LoginFailure>
        switch await authenticate(attempt, stepUpFor: role, &scope) {
        case .failure(let failure):
            result = .failure(failure)
        case .success(let (user, ticket)):
            // The attempt's end is counted while the login goes on (AWS is asked meanwhile): nothing before
            // the answer depends on it, and the answer waits for it. It is not cancelled with the request.
            async let counted = state.finish(ticket, succeeded: true)
            result = await next(user, &scope)
            do {
                _ = try await counted
            } catch {
                if case .success = result {
                    scope.overrule(.stateUnavailable, detail: "\(error); the attempt's end could not be counted, so nothing is delivered")
                    result = .failure(.stateUnavailable)
                } else {
                    logger.error("cannot count the end of an attempt; its slots lapse on their own", metadata: ["request_id": "\(attempt.requestId)", "error": "\(error)"])
                }
            }
        }
        // An outage of the shared state says nothing about the user: it answers at once, within its deadline.
        if case .failure(let failure) = result, failure != .stateUnavailable {
            try? await Task.sleep(until: started + failureFloor)
        }
        return result
    }

    /// Who may use the gateway is decided before PAM runs: a name that no access rule names (root, service
    /// accounts) spends a guess like any other and fails alike, so the gateway is no password oracle for the
    /// host's accounts. The lockout admits the attempt first, atomically. Then the base service
    /// (`pam.service`, `pam.secrets`), and, when `stepUpFor` names a rule of this user with a step-up
    /// service, that service with the secrets beyond the base ones: one guess for both.
    /// The user with their access rules (never empty), looked up once for the whole login.
    /// On success the attempt is still admitted: the caller counts its end with the ticket.
    private func authenticate(_ attempt: LoginAttempt, stepUpFor role: StepUpChoice, _ scope: inout AuditScope) async
        -> Result<(AuthenticatedUser, AttemptTicket), LoginFailure> {
        let ticket: AttemptTicket
        switch await admit(attempt, &scope) {
        case .failure(let failure): return .failure(failure)
        case .success(let admitted): ticket = admitted
        }
        let rules = policy.rules(for: attempt.user)
        guard !rules.isEmpty else {
            return .failure(await refuse(ticket, .authenticationFailed, "no access rule names this user or their groups; PAM not run", &scope))
        }
        if let failure = await checkSecrets(attempt, service: configuration.pam.service, kinds: configuration.pam.secrets, ticket: ticket, &scope) {
            return .failure(failure)
        }
        var used = configuration.pam.secrets
        if let rule = role.rule(among: rules) {
            if let failure = await stepUp(attempt, rule: rule, ticket: ticket, &scope) { return .failure(failure) }
            used += rule.stepUpSecrets(base: configuration.pam.secrets)
        }
        if used.contains(.otp), let failure = await refuseReusedCode(attempt, ticket: ticket, &scope) { return .failure(failure) }
        return .success((AuthenticatedUser(name: attempt.user, rules: rules), ticket))
    }

    /// Which rule's step-up a login must pass along with the base authentication.
    enum StepUpChoice {
        /// None yet: listing roles, or a web login that will choose.
        case none
        /// The role asked for, or else the user's first (what a grant without a role gets).
        case grantRequested(String?)

        func rule(among rules: [AccessRule]) -> AccessRule? {
            guard case .grantRequested(let requested) = self else { return nil }
            let rule = requested.map { role in rules.first { $0.role == role } } ?? rules.first
            return rule?.pamService == nil ? nil : rule
        }
    }

    /// The name is checked and the lockout takes the attempt's slots, atomically.
    private func admit(_ attempt: LoginAttempt, _ scope: inout AuditScope) async -> Result<AttemptTicket, LoginFailure> {
        guard Self.isAcceptableUserName(attempt.user) else {
            scope.record(.invalidRequest, detail: "user name refused (control characters or over 256 bytes)")
            return .failure(.authenticationFailed)
        }
        let device = attempt.deviceToken.flatMap { deviceTokens.verify($0, user: attempt.user) }
        let admission: Admission
        do {
            admission = try await state.admit(user: attempt.user, address: attempt.client, device: device)
        } catch {
            return .failure(scope.fail(.stateUnavailable, detail: "\(error); PAM not run"))
        }
        switch admission {
        case .locked:
            return .failure(scope.fail(.lockedOut))
        case .busy:
            scope.record(.throttled, detail: "guesses for this name or address still running")
            return .failure(.lockedOut)
        case .admitted(let ticket):
            return .success(ticket)
        }
    }

    /// A step-up rule's service with the secrets beyond the base ones. Missing secrets count as a failed
    /// guess, told apart from a wrong one only in the audit record.
    private func stepUp(_ attempt: LoginAttempt, rule: AccessRule, ticket: AttemptTicket, _ scope: inout AuditScope) async -> LoginFailure? {
        guard let service = rule.pamService else { return nil }
        return await checkSecrets(attempt, service: service, kinds: rule.stepUpSecrets(base: configuration.pam.secrets), ticket: ticket, &scope,
                                  what: "step-up for \(rule.displayName) (\(service))")
    }

    /// One PAM transaction of the attempt: nil when PAM said yes; otherwise the attempt is counted (or, when
    /// no PAM ran, its slots go back) and its outcome recorded.
    private func checkSecrets(_ attempt: LoginAttempt, service: String, kinds: [SecretKind], ticket: AttemptTicket, _ scope: inout AuditScope,
                              what: String? = nil) async -> LoginFailure? {
        let given = kinds.compactMap { attempt.secrets[$0] }
        guard given.count == kinds.count else {
            let missing = kinds.filter { attempt.secrets[$0] == nil }.map(\.rawValue).joined(separator: ", ")
            return await refuse(ticket, .authenticationFailed, "\(what.map { "\($0): " } ?? "")\(missing) not given; PAM not run", &scope)
        }
        let request = PAMRequest(service: service, user: attempt.user, remoteHost: attempt.client, tty: attempt.frontEnd == .socket ? "ssh" : "http")
        let started = ContinuousClock.now
        let outcome = await authenticator.authenticate(request, secrets: given)
        if let unavailable = Self.unavailable(outcome) {
            // Not a guess: no PAM ran (or it was cut off), so the slot goes back without counting. If the
            // state cannot take it back now, the slot lapses on its own.
            try? await state.withdraw(ticket)
            return scope.fail(unavailable, detail: outcome.detail)
        }
        Timer(label: "consolegate_pam_helper_duration_seconds").record(duration: ContinuousClock.now - started)
        guard outcome.succeeded else {
            return await refuse(ticket, Self.auditOutcome(outcome), "\(what.map { "\($0): " } ?? "")\(outcome.detail)", &scope)
        }
        return nil
    }

    /// PAM said yes. A one-time code it accepted must not have been used before, here or on another replica
    /// whose OTP module keeps its own file; a reused code counts as a failed guess.
    private func refuseReusedCode(_ attempt: LoginAttempt, ticket: AttemptTicket, _ scope: inout AuditScope) async -> LoginFailure? {
        let claimed: Bool
        do {
            claimed = try await claimOneTimeCode(of: attempt)
        } catch {
            try? await state.withdraw(ticket)
            return scope.fail(.stateUnavailable, detail: "\(error); the one-time code could not be checked for reuse")
        }
        guard claimed else {
            return await refuse(ticket, .codeReused, "PAM accepted a one-time code already used within pam.otp_validity", &scope)
        }
        return nil
    }

    /// Counts a failed guess and records why.
    private func refuse(_ ticket: AttemptTicket, _ outcome: AuditRecord.Outcome, _ detail: String, _ scope: inout AuditScope) async -> LoginFailure {
        if let failure = await finish(ticket, succeeded: false, &scope) { return failure }
        scope.record(outcome, detail: detail)
        return .authenticationFailed
    }

    /// Counts the attempt's end; nil once it is counted, or the failure to answer when the state could not
    /// count it (the slots then lapse on their own, still holding the budget: no guess goes uncounted).
    private func finish(_ ticket: AttemptTicket, succeeded: Bool, _ scope: inout AuditScope) async -> LoginFailure? {
        do {
            let newLocks = try await state.finish(ticket, succeeded: succeeded)
            if newLocks > 0 { Counter(label: "consolegate_lockouts_total").increment(by: newLocks) }
            return nil
        } catch {
            scope.record(.stateUnavailable, detail: "\(error); the attempt's end could not be counted")
            return .stateUnavailable
        }
    }

    /// True when the attempt carries no one-time code, or its code is used for the first time. The code is
    /// kept as a keyed digest of user and code, so the stored value does not give the code away.
    private func claimOneTimeCode(of attempt: LoginAttempt) async throws -> Bool {
        guard let code = attempt.secrets[.otp] else { return true }
        let digest = code.withUnsafeBytes { deviceTokens.oneTimeCodeDigest(user: attempt.user, code: $0) }
        return try await state.claimOneTimeCode(digest: digest, validity: configuration.pam.otpValidity)
    }

    private func authorize(_ attempt: LoginAttempt, rules: [AccessRule], _ scope: inout AuditScope) -> Result<AccessRule, LoginFailure> {
        switch AccessPolicy.decide(rules: rules, requestedRole: attempt.role) {
        case .granted(let rule):
            return .success(rule)
        case .noRole:
            return .failure(scope.fail(.noRole))
        case .roleNotAllowed(let allowed):
            return .failure(scope.fail(.roleNotAllowed(requested: attempt.role ?? "", allowed: allowed), role: attempt.role))
        }
    }

    /// Mints within `aws.login_timeout`, for a client that is still there before and after: a client that
    /// hung up gets nothing minted once that is known, and a grant minted for it is audited as undelivered.
    /// Before AWS is asked, a record of intent is on disk: AWS never holds a session the gateway has no
    /// record of, even if the outcome record then cannot be written.
    private func grant(_ attempt: LoginAttempt, rule: AccessRule, _ scope: inout AuditScope) async -> Result<Grant, LoginFailure> {
        guard attempt.isClientConnected() else {
            return .failure(scope.fail(.clientGone, role: rule.role, detail: "the client hung up before minting; nothing minted"))
        }
        do {
            try await write(attempt, AuditScope.Entry(outcome: .minting, role: rule.role, detail: "asking AWS; the outcome follows"))
        } catch {
            return .failure(scope.fail(.auditUnavailable, role: rule.role, detail: "the audit log cannot be written; AWS not asked"))
        }
        let request = MintRequest(user: attempt.user, roleArn: rule.role, destination: attempt.destination ?? rule.destination,
                                  region: attempt.region ?? rule.region, sessionDuration: rule.sessionDuration, logoutFirst: attempt.logoutFirst)
        let grant: Grant
        do {
            grant = try await Self.within(configuration.aws.loginTimeout) { [minter] in
                attempt.wantsCredentials ? .credentials(try await minter.credentials(for: request)) : .url(try await minter.mintURL(for: request))
            }
        } catch let error as MintingError {
            return .failure(scope.fail(Self.classify(error), role: rule.role, detail: error.description))
        } catch is LoginDeadlinePassed {
            let detail = "aws.login_timeout (\(DurationText.format(configuration.aws.loginTimeout))) passed before AWS answered"
            return .failure(scope.fail(.upstreamUnavailable(detail), role: rule.role, detail: detail))
        } catch {
            return .failure(scope.fail(Task.isCancelled ? .clientGone : .upstreamUnavailable("\(error)"), role: rule.role, detail: "\(error)"))
        }
        let (sessionName, accessKeyId, expires): (String, String, Date?) = switch grant {
        case .url(let minted): (minted.sessionName, minted.accessKeyId, minted.expiresAt)
        case .credentials(let session): (session.sessionName, session.credentials.accessKeyId, session.credentials.expiration)
        }
        let minted = AuditScope.Minted(sessionName: sessionName, accessKeyId: accessKeyId, expires: expires.map(AuditTime.format))
        guard attempt.isClientConnected() else {
            return .failure(scope.fail(.clientGone, role: rule.role, minted: minted, detail: "the client hung up while AWS was working; minted but not delivered"))
        }
        scope.record(.success, role: rule.role, minted: minted)
        return .success(grant)
    }

    struct LoginDeadlinePassed: Error {}

    /// Runs `body` with a deadline; past it `body` is cancelled (the HTTP calls with it) and this throws.
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw LoginDeadlinePassed()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    // MARK: - Operators

    public enum UnlockResult: Sendable, Equatable {
        case unlocked(LockoutKey)
        case nothingToUnlock(LockoutKey)
        case notPermitted
        case stateUnavailable
    }

    /// Who is asking on the local socket, and whether they may act as an operator: root, or a member of
    /// `admin_group`.
    public func socketOperator(uid: UInt32) -> (name: String, permitted: Bool) {
        let name = policy.directory.userName(uid: uid) ?? "uid:\(uid)"
        let permitted = uid == 0 || configuration.adminGroup.map { group in policy.directory.groups(of: name)?.contains(group) ?? false } ?? false
        return (name, permitted)
    }

    /// Records an operator action (or a refused try at one) from the local socket.
    public func auditOperator(uid: UInt32, name: String, requestId: String, outcome: AuditRecord.Outcome, detail: String) async throws {
        let attempt = LoginAttempt(user: name, secrets: [:], frontEnd: .socket, client: "uid:\(uid)", requestId: requestId)
        try await write(attempt, AuditScope.Entry(outcome: outcome, detail: detail))
    }

    /// `consolegate unlock USER|ADDRESS` from the local socket: root or a member of `admin_group` only.
    public func unlock(_ target: String, operatorUID uid: UInt32, requestId: String) async -> UnlockResult {
        let (name, isAdmin) = socketOperator(uid: uid)
        let key: LockoutKey = ClientAddress.isIPAddress(target) ? .address(target) : .user(target)
        func audit(_ outcome: AuditRecord.Outcome, _ detail: String) async {
            try? await auditOperator(uid: uid, name: name, requestId: requestId, outcome: outcome, detail: detail)
        }
        guard isAdmin, Self.isAcceptableUserName(target) else {
            await audit(.unlockRefused, "unlock \(key) refused: not root or in admin_group")
            return .notPermitted
        }
        let unlocked: Bool
        do {
            unlocked = try await state.unlock(key)
        } catch {
            await audit(.stateUnavailable, "unlock \(key): \(error)")
            return .stateUnavailable
        }
        await audit(.unlocked, unlocked ? "unlocked \(key)" : "\(key) was not locked")
        return unlocked ? .unlocked(key) : .nothingToUnlock(key)
    }

    /// Every counter at 0 from the start, as Prometheus expects, rather than appearing with its first event.
    public static func registerMetrics() {
        Counter(label: "consolegate_lockouts_total").increment(by: 0)
        for frontEnd in [FrontEnd.api, .web, .socket] {
            for outcome in AuditRecord.Outcome.allCases {
                Counter(label: "consolegate_logins_total", dimensions: [("front_end", frontEnd.rawValue), ("outcome", outcome.rawValue)]).increment(by: 0)
            }
        }
    }

    /// PAM could not run: the queue was full, or the monitor is gone (503 either way, not a failed guess).
    static func unavailable(_ outcome: PAMOutcome) -> LoginFailure? {
        switch outcome.verdict {
        case .busy: .busy
        case .unavailable: .pamUnavailable
        default: nil
        }
    }

    /// The person hears "authentication failed" either way; the audit trail keeps the difference.
    static func auditOutcome(_ outcome: PAMOutcome) -> AuditRecord.Outcome {
        outcome.verdict == .accountRefused ? .accountRefused : .authenticationFailed
    }

    static func classify(_ error: MintingError) -> LoginFailure {
        switch error {
        case .awsRefused, .federationRefused: .awsRefused(error.description)
        case .invalidRequest(let message): .invalidRequest(message)
        case .upstreamUnavailable, .malformedResponse, .noBrokerCredentials, .brokerCredentials: .upstreamUnavailable(error.description)
        }
    }

    /// Runs one attempt and writes its one outcome record: the one the steps recorded, or, if they recorded
    /// none (the task was cancelled, or a step forgot), one that says so. A grant leaves only once its record
    /// is durable; if it cannot be written, the answer is `auditUnavailable` (fail closed).
    private func audited<T>(_ attempt: LoginAttempt, _ body: (inout AuditScope) async -> Result<T, LoginFailure>) async -> Result<T, LoginFailure> {
        var scope = AuditScope()
        var result = await body(&scope)
        let entry: AuditScope.Entry
        if let recorded = scope.entry {
            entry = recorded
        } else if Task.isCancelled {
            entry = AuditScope.Entry(outcome: .clientGone, detail: "cancelled before an outcome")
            result = .failure(.clientGone)
        } else {
            entry = AuditScope.Entry(outcome: .upstreamUnavailable, detail: "no outcome was recorded")
            result = .failure(.upstreamUnavailable("no outcome was recorded"))
        }
        do {
            try await write(attempt, entry)
        } catch {
            guard case .success = result else { return result }
            logger.error("audit log unavailable; no URL issued", metadata: ["request_id": "\(attempt.requestId)", "error": "\(error)"])
            return .failure(.auditUnavailable)
        }
        return result
    }

    private func write(_ attempt: LoginAttempt, _ entry: AuditScope.Entry) async throws {
        let record = AuditRecord(
            time: AuditTime.format(Date()),
            requestId: attempt.requestId, frontEnd: attempt.frontEnd.rawValue, user: attempt.user, client: attempt.client,
            outcome: entry.outcome, role: entry.role, sessionName: entry.minted?.sessionName, accessKeyId: entry.minted?.accessKeyId,
            expires: entry.minted?.expires, detail: entry.detail
        )
        Counter(label: "consolegate_logins_total", dimensions: [("front_end", attempt.frontEnd.rawValue), ("outcome", entry.outcome.rawValue)]).increment()
        logger.info("login", metadata: [
            "request_id": "\(attempt.requestId)", "front_end": "\(attempt.frontEnd.rawValue)", "user": "\(attempt.user)",
            "client": "\(attempt.client)", "outcome": "\(entry.outcome.rawValue)",
        ])
        do {
            try await audit.record(record)
        } catch {
            logger.error("cannot write the audit log", metadata: ["error": "\(error)"])
            throw error
        }
    }
}

/// The outcome an attempt's steps decide on, written once by `LoginService.audited` when the attempt ends.
struct AuditScope {
    /// What AWS issued: which session, which key, until when.
    struct Minted {
        var sessionName: String
        var accessKeyId: String
        var expires: String?
    }

    struct Entry {
        var outcome: AuditRecord.Outcome
        var role: String? = nil
        var minted: Minted? = nil
        var detail: String? = nil
    }

    private(set) var entry: Entry?

    /// A failure found after the steps recorded their outcome, which then cannot stand: what they minted
    /// stays in the record, undelivered.
    mutating func overrule(_ outcome: AuditRecord.Outcome, detail: String) {
        entry = Entry(outcome: outcome, role: entry?.role, minted: entry?.minted, detail: detail)
    }

    /// A failure's own audit outcome (`LoginFailure.row`), recorded as the attempt's one outcome; returns the
    /// failure to answer with.
    mutating func fail(_ failure: LoginFailure, role: String? = nil, minted: Minted? = nil, detail: String? = nil) -> LoginFailure {
        record(failure.row.audit, role: role, minted: minted, detail: detail)
        return failure
    }

    /// The one outcome of the attempt; each path through the steps records exactly one. A step records its
    /// own when it knows more than the failure's answer tells (throttled, account_refused, code_reused).
    mutating func record(_ outcome: AuditRecord.Outcome, role: String? = nil, minted: Minted? = nil, detail: String? = nil) {
        assert(entry == nil, "an attempt records one outcome")
        entry = Entry(outcome: outcome, role: role, minted: minted, detail: detail)
    }
}
