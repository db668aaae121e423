import GatewayConfig

/// The login page and the role chooser: plain HTML that works without JavaScript, with labels for every
/// field, errors announced (role="alert"), and no inline script or style (the CSP forbids them).
enum WebPages {
    static let genericFailure = "Sign-in failed. Check your user name and password, and try again."

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func document(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <link rel="stylesheet" href="/static/consolegate.css">
        </head>
        <body>
        <main class="card">
        <h1>AWS console sign-in</h1>
        \(body)
        </main>
        </body>
        </html>
        """
    }

    static func login(secrets: [SecretKind], csrf: String, error: String?, username: String, logoutFirst: Bool) -> String {
        var fields = """
        <p class="lead">Sign in with your usual login to open the AWS Management Console.</p>
        \(error.map { "<p id=\"error\" class=\"error\" role=\"alert\">\(escape($0))</p>" } ?? "")
        <form method="post" action="/login">
        <input type="hidden" name="csrf" value="\(escape(csrf))">
        <label for="username">User name</label>
        <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="\(escape(username))">

        """
        for kind in secrets {
            fields += secretField(kind, caption: caption(kind), required: true)
        }
        fields += """
        <div class="check">
        <input id="logout_first" name="logout_first" type="checkbox" value="true"\(logoutFirst ? " checked" : "")>
        <label for="logout_first">End my current console session first</label>
        </div>
        <button id="submit" type="submit">Sign in</button>
        </form>
        """
        return document(title: error == nil ? "AWS console sign-in" : "Sign-in failed — AWS console sign-in", body: fields)
    }

    /// One radio button per role, by its label; the secrets that step-up roles need follow, marked with the
    /// roles they are for (required when every role needs them).
    static func chooseRole(roles: [RoleOffer], pending: String, csrf: String, logoutFirst: Bool) -> String {
        let options = roles.enumerated().map { index, offer in
            let note = offer.stepUpSecrets.isEmpty ? "" : "<span class=\"step-up\">needs \(escape(describe(offer.stepUpSecrets)))</span>"
            return """
            <div class="role">
            <input id="role-\(index)" name="role" type="radio" value="\(escape(offer.role))"\(index == 0 ? " checked" : "")>
            <label for="role-\(index)"><strong>\(escape(offer.label))</strong>\(note)<span class="arn">\(escape(offer.role))</span></label>
            </div>
            """
        }.joined(separator: "\n")
        let stepUpFields = SecretKind.allCases.filter { kind in roles.contains { $0.stepUpSecrets.contains(kind) } }.map { kind in
            let needing = roles.filter { $0.stepUpSecrets.contains(kind) }
            return secretField(kind, caption: "\(caption(kind)) (for \(needing.map(\.label).joined(separator: ", ")))",
                               required: needing.count == roles.count)
        }.joined()
        return document(title: "Choose a role — AWS console sign-in", body: """
        <form method="post" action="/login/role">
        <input type="hidden" name="csrf" value="\(escape(csrf))">
        <input type="hidden" name="pending" value="\(escape(pending))">
        <input type="hidden" name="logout_first" value="\(logoutFirst ? "true" : "false")">
        <fieldset>
        <legend>Choose a role</legend>
        \(options)
        </fieldset>
        \(stepUpFields)<button id="submit" type="submit">Open the console</button>
        </form>
        """)
    }

    /// The choice made, and what its role needs too: the same pending token, the role, and those fields.
    static func stepUp(role: String, label: String, secrets: [SecretKind], pending: String, csrf: String, logoutFirst: Bool) -> String {
        document(title: "One more step — AWS console sign-in", body: """
        <p class="lead">\(escape(label)) needs \(escape(describe(secrets))) too.</p>
        <form method="post" action="/login/role">
        <input type="hidden" name="csrf" value="\(escape(csrf))">
        <input type="hidden" name="pending" value="\(escape(pending))">
        <input type="hidden" name="role" value="\(escape(role))">
        <input type="hidden" name="logout_first" value="\(logoutFirst ? "true" : "false")">
        \(secrets.map { secretField($0, caption: caption($0), required: true) }.joined())<button id="submit" type="submit">Open the console</button>
        </form>
        """)
    }

    /// "a one-time code", "your password and a one-time code".
    static func describe(_ secrets: [SecretKind]) -> String {
        secrets.map { $0 == .otp ? "a one-time code" : "your password" }.joined(separator: " and ")
    }

    static func caption(_ kind: SecretKind) -> String {
        kind == .otp ? "One-time code" : "Password"
    }

    static func secretField(_ kind: SecretKind, caption: String, required: Bool) -> String {
        let input = switch kind {
        case .password: #"type="password" autocomplete="current-password""#
        case .otp: #"type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]*""#
        }
        return """
        <label for="\(kind.rawValue)">\(escape(caption))</label>
        <input id="\(kind.rawValue)" name="\(kind.rawValue)" \(input)\(required ? " required" : "")>

        """
    }

    static func message(title: String, text: String) -> String {
        document(title: title, body: "<p id=\"error\" class=\"error\" role=\"alert\">\(escape(text))</p>\n<p><a href=\"/\">Back to sign-in</a></p>")
    }

    static let stylesheet = """
    :root { color-scheme: light dark; --accent: #0f62fe; --bg: #f4f5f7; --card: #ffffff; --text: #1b1f24; --muted: #5b6470; --border: #c9ced6; --error: #b3261e; }
    @media (prefers-color-scheme: dark) { :root { --bg: #15181c; --card: #1f2329; --text: #e8eaed; --muted: #a2a9b3; --border: #3b424b; --accent: #78a9ff; --error: #ff8a80; } }
    * { box-sizing: border-box; }
    body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center; background: var(--bg); color: var(--text);
           font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; padding: 1rem; }
    .card { width: 100%; max-width: 26rem; background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 2rem 1.75rem;
            box-shadow: 0 8px 24px rgba(0, 0, 0, 0.06); }
    h1 { font-size: 1.35rem; margin: 0 0 0.5rem; }
    .lead { color: var(--muted); margin: 0 0 1.25rem; }
    label { display: block; font-weight: 600; margin: 1rem 0 0.35rem; }
    input[type=text], input[type=password] { width: 100%; padding: 0.65rem 0.75rem; font: inherit; color: inherit; background: transparent;
            border: 1px solid var(--border); border-radius: 8px; }
    input:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
    .check { display: flex; gap: 0.5rem; align-items: center; margin-top: 1rem; }
    .check label { display: inline; font-weight: 400; margin: 0; }
    button { width: 100%; margin-top: 1.5rem; padding: 0.75rem; font: inherit; font-weight: 600; color: #fff; background: var(--accent); border: 0;
             border-radius: 8px; cursor: pointer; }
    .error { color: var(--error); border-left: 4px solid var(--error); padding: 0.5rem 0.75rem; margin: 0 0 1rem; background: transparent; }
    fieldset { border: 0; padding: 0; margin: 0; }
    legend { font-weight: 600; margin-bottom: 0.5rem; }
    .role { display: flex; gap: 0.6rem; align-items: flex-start; padding: 0.6rem 0; border-bottom: 1px solid var(--border); }
    .role label { margin: 0; font-weight: 400; }
    .arn { display: block; color: var(--muted); font-size: 0.85rem; word-break: break-all; }
    .step-up { display: block; color: var(--accent); font-size: 0.85rem; font-weight: 600; }
    """
}
