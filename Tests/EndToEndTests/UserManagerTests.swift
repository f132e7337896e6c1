import ClaudeAuthAPI
import Foundation
import Testing

/// The shipped units from `systemd/`, hardened as they are, under a real `systemd --user` in a container.
@Suite(
    "the units under a real systemd user manager",
    .serialized,
    .enabled(if: UserManagerContainer.unavailableReason == nil, "\(UserManagerContainer.unavailableReason ?? "")"))
struct UserManagerTests {
    private static let key = "sk-ant-api03-container-key-0123456789"
    private static let storedKey = "sk-ant-api03-stored-key-9876543210"

    /// Installs the staged tree, writes a configuration with a key file and a stored-key profile, and does
    /// what `make install` does under a user manager: daemon-reload, enable --now the socket.
    private func install(_ container: UserManagerContainer, profiles extra: String = "") throws {
        try container.installStagedTree()
        try container.mustAsUser(
            """
            mkdir -p -m 0700 ~/.config/claude-auth && umask 077 && cat > ~/.config/claude-auth/key && \
            printf '%s\\n' '[profiles.default]' 'kind = "api-key"' 'key_file = "~/.config/claude-auth/key"' \
              '[profiles.stored]' 'kind = "api-key"' > ~/.config/claude-auth/config.toml && \
            printf '%s' '\(extra)' >> ~/.config/claude-auth/config.toml
            """, stdin: Self.key)
        try container.mustAsUser("systemctl --user daemon-reload && systemctl --user enable --now claude-authd.socket")
    }

    @Test("socket activation, READY=1 and StatusText, journal fields, reload, a clean stop, reactivation with the keys")
    func lifecycle() throws {
        let container = try UserManagerContainer()
        try install(container)

        // Enabled and listening; the service waits for its first client.
        #expect(try container.property("ActiveState", of: "claude-authd.socket") == "active")
        #expect(try container.property("UnitFileState", of: "claude-authd.socket") == "enabled")
        #expect(try container.property("ActiveState", of: "claude-authd.service") == "inactive")
        #expect(try container.mustAsUser("test -S $XDG_RUNTIME_DIR/claude-auth/socket && stat -c %a $XDG_RUNTIME_DIR/claude-auth/socket") == "600\n")

        // The first request starts the service, which is running once it said READY=1 with a status line.
        #expect(try container.mustAsUser("claude-auth header") .hasPrefix("x-api-key: \(Self.key)\n"))
        // systemd takes READY=1 and journald its lines asynchronously: each is waited for, within a bound.
        #expect(try eventually { try container.property("ActiveState", of: "claude-authd.service") == "active" })
        #expect(try container.property("SubState", of: "claude-authd.service") == "running")
        #expect(try container.property("StatusText", of: "claude-authd.service") == "serving 2 profiles, default default")
        var journal: [[String: Any]] = []
        #expect(try eventually {
            journal = try container.journal()
            return journal.contains { ($0["MESSAGE"] as? String)?.hasPrefix("Started claude-authd.service") == true }
        })
        let ready = try #require(journal.first { $0["EVENT"] as? String == "ready" })
        let started = try #require(journal.first { ($0["MESSAGE"] as? String)?.hasPrefix("Started claude-authd.service") == true })
        // systemd logs "Started" when READY=1 arrives: after the daemon's own "serving" line.
        #expect(Int(ready["__REALTIME_TIMESTAMP"] as! String)! <= Int(started["__REALTIME_TIMESTAMP"] as! String)!)

        // The hardened service writes its state directory: a stored key, logged by fingerprint only.
        try container.mustAsUser("claude-auth set-key --profile stored", stdin: Self.storedKey)
        #expect(try container.mustAsUser("stat -c %a ~/.local/state/claude-auth") == "700\n")
        #expect(try eventually { try container.journal().contains { $0["EVENT"] as? String == "key_stored" } })
        let stored = try #require(try container.journal().first { $0["EVENT"] as? String == "key_stored" })
        #expect(stored["PROFILE"] as? String == "stored")
        #expect((stored["FINGERPRINT"] as? String)?.isEmpty == false)
        #expect(try container.journalText().contains("stored-key") == false)

        // reload re-reads the configuration: a third profile appears in the status line and serves.
        try container.mustAsUser(
            """
            printf '%s\\n' '[profiles.third]' 'kind = "api-key"' 'key_file = "~/.config/claude-auth/key"' >> ~/.config/claude-auth/config.toml && \
            systemctl --user reload claude-authd.service
            """)
        #expect(try eventually { try container.property("StatusText", of: "claude-authd.service") == "serving 3 profiles, default default" })
        #expect(try container.mustAsUser("claude-auth header --profile third") .hasPrefix("x-api-key: \(Self.key)\n"))
        #expect(try eventually { try container.journal().contains { $0["EVENT"] as? String == "reload" } })

        // stop: SIGTERM, a clean exit 0; the socket stays and the next request starts it again.
        let firstPID = try container.property("MainPID", of: "claude-authd.service")
        try container.mustAsUser("systemctl --user stop claude-authd.service")
        #expect(try container.property("ActiveState", of: "claude-authd.service") == "inactive")
        #expect(try container.property("Result", of: "claude-authd.service") == "success")
        #expect(try container.property("ExecMainCode", of: "claude-authd.service") == "1")  // CLD_EXITED
        #expect(try container.property("ExecMainStatus", of: "claude-authd.service") == "0")
        #expect(try eventually { try container.journal().contains { $0["EVENT"] as? String == "stopping" } })
        #expect(try container.property("ActiveState", of: "claude-authd.socket") == "active")

        #expect(try container.mustAsUser("claude-auth header --profile stored") .hasPrefix("x-api-key: \(Self.storedKey)\n"))
        #expect(try eventually { try container.property("ActiveState", of: "claude-authd.service") == "active" })
        #expect(try container.property("MainPID", of: "claude-authd.service") != firstPID)
    }

    @Test("the Debian package: apt-get install, the socket enabled by the user, the same checks as make install; apt-get remove leaves nothing")
    func debianPackage() throws {
        let container = try UserManagerContainer()
        @discardableResult func mustAsRoot(_ script: String) throws -> String {
            let result = try container.asRoot("export PATH=/usr/sbin:/usr/bin:/sbin:/bin; " + script, timeout: 120)
            guard result.status == 0 else { throw HarnessError(description: "`\(script)` exited \(result.status): \(result.stderr)\(result.stdout)") }
            return result.stdout
        }
        let deb = try mustAsRoot("ls /stage/packages/claude-auth_*.deb").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(deb.hasSuffix("_amd64.deb") || deb.hasSuffix(".deb"))
        // Copied out of the read-only bind first: apt reads a local package as its own unprivileged user.
        try mustAsRoot("cp \(deb) /tmp/ && apt-get install -y -q /tmp/\(deb.split(separator: "/").last ?? "") </dev/null")
        let files = try mustAsRoot("dpkg -L claude-auth").split(separator: "\n").map(String.init)
        for path in [
            "/usr/bin/claude-authd", "/usr/bin/claude-auth", "/usr/lib/systemd/user/claude-authd.service", "/usr/lib/systemd/user/claude-authd.socket",
            "/usr/share/man/man1/claude-auth.1.gz", "/usr/share/bash-completion/completions/claude-auth",
            "/usr/share/zsh/vendor-completions/_claude-auth", "/usr/share/fish/vendor_completions.d/claude-auth.fish",
            "/usr/share/doc/claude-auth/copyright", "/usr/share/doc/claude-auth/changelog.gz",
        ] {
            #expect(files.contains(path), "\(path) is not in the package")
        }

        try container.mustAsUser(
            """
            mkdir -p -m 0700 ~/.config/claude-auth && umask 077 && cat > ~/.config/claude-auth/key && \
            printf '%s\\n' '[profiles.default]' 'kind = "api-key"' 'key_file = "~/.config/claude-auth/key"' > ~/.config/claude-auth/config.toml
            """, stdin: Self.key)
        try container.mustAsUser("systemctl --user daemon-reload && systemctl --user enable --now claude-authd.socket")
        #expect(try container.property("FragmentPath", of: "claude-authd.service") == "/usr/lib/systemd/user/claude-authd.service")
        #expect(try container.property("ExecStart", of: "claude-authd.service").contains("path=/usr/bin/claude-authd "))
        #expect(try container.mustAsUser("command -v claude-auth") == "/usr/bin/claude-auth\n")
        #expect(try container.mustAsUser("claude-auth header").hasPrefix("x-api-key: \(Self.key)\n"))
        #expect(try eventually { try container.property("SubState", of: "claude-authd.service") == "running" })
        #expect(try container.property("StatusText", of: "claude-authd.service") == "serving 1 profile, default default")

        try container.mustAsUser("systemctl --user disable --now claude-authd.socket claude-authd.service")
        try mustAsRoot("apt-get remove -y -q claude-auth </dev/null")
        let status = try mustAsRoot("dpkg-query -W -f='${db:Status-Status}' claude-auth 2>/dev/null || echo not-installed")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status == "not-installed", "\(status)")
        let left = try mustAsRoot("for f in \(files.joined(separator: " ")); do [ -f \"$f\" ] && echo \"$f\"; done; true")
        #expect(left.isEmpty, "left behind: \(left)")
        try container.mustAsUser("systemctl --user daemon-reload")
        // It exits 1 when no unit matches.
        #expect(try container.asUser("systemctl --user list-unit-files 'claude-authd*' --no-legend").stdout.isEmpty)
    }

    @Test("a daemon that stops answering is restarted by the watchdog, and serves its keys again")
    func watchdog() throws {
        let container = try UserManagerContainer()
        try install(container)
        // The shipped interval is 30 s; a drop-in shortens it to 10 s, still more than a loaded machine stalls.
        try container.mustAsUser(
            """
            mkdir -p ~/.config/systemd/user/claude-authd.service.d && \
            printf '[Service]\\nWatchdogSec=10s\\n' > ~/.config/systemd/user/claude-authd.service.d/watchdog.conf && \
            systemctl --user daemon-reload
            """)
        try container.mustAsUser("claude-auth set-key --profile stored", stdin: Self.storedKey)
        let pid = try container.property("MainPID", of: "claude-authd.service")
        #expect(try container.property("WatchdogUSec", of: "claude-authd.service") == "10s")

        // Pinging: systemd records pings more than an interval after the start, from the same process.
        let start = try #require(Int(try container.property("ExecMainStartTimestampMonotonic", of: "claude-authd.service")))
        let pinged = try waitUntil(60, every: 200_000) {
            let last = Int(try container.property("WatchdogTimestampMonotonic", of: "claude-authd.service")) ?? 0
            return last - start > 11_000_000
        }
        #expect(pinged)
        #expect(try container.property("MainPID", of: "claude-authd.service") == pid)

        try container.mustAsUser("kill -STOP \(pid)")
        let restarted = try waitUntil(90, every: 200_000) {
            let current = try container.property("MainPID", of: "claude-authd.service")
            let state = try container.property("ActiveState", of: "claude-authd.service")
            return current != pid && current != "0" && state == "active"
        }
        #expect(restarted)
        #expect(try container.property("NRestarts", of: "claude-authd.service") == "1")
        #expect(try eventually { try container.journalText().contains("Watchdog timeout") })
        #expect(try container.mustAsUser("claude-auth header --profile stored") .hasPrefix("x-api-key: \(Self.storedKey)\n"))
    }

    @Test("the proxy's socket unit: the first TCP connection starts the hardened service, whose owner check lets alice in and keeps root out")
    func proxySocket() throws {
        let container = try UserManagerContainer()
        // An upstream where nothing listens: the proxy's 502 shows the request went all the way through.
        try install(container, profiles: "[profiles.gateway]\nkind = \"api-key\"\nkey_file = \"~/.config/claude-auth/key\"\nupstream = \"http://127.0.0.1:9\"\n")
        try container.mustAsUser("systemctl --user enable --now claude-authd-proxy.socket")
        #expect(try container.property("ActiveState", of: "claude-authd-proxy.socket") == "active")
        #expect(try container.property("ActiveState", of: "claude-authd.service") == "inactive")
        let answer = try container.mustAsUser(
            "curl -sS -w '\\n%{http_code}' -H 'x-api-key: claude-auth:gateway' -d '{}' http://127.0.0.1:8787/v1/messages")
        #expect(answer.hasSuffix("\n502"), "\(answer)")
        #expect(answer.contains("cannot reach the upstream http://127.0.0.1:9"))
        #expect(try container.property("ActiveState", of: "claude-authd.service") == "active")
        #expect(try container.mustAsUser("claude-auth exec --profile gateway -- sh -c 'echo $ANTHROPIC_BASE_URL'") == "http://127.0.0.1:8787\n")
        let root = try container.asRoot("curl -sS -H 'x-api-key: claude-auth:gateway' -d '{}' http://127.0.0.1:8787/v1/messages")
        #expect(root.status != 0 && root.stdout.isEmpty)
        #expect(try eventually { try container.journal().contains { $0["EVENT"] as? String == "proxy_refused" } })
        #expect(try container.journal().contains { $0["EVENT"] as? String == "proxy" && $0["STATUS"] as? String == "502" })
    }

    @Test("the hardened service reaches the token endpoint, the login listener and the user bus")
    func oauthInTheSandbox() throws {
        let port = try freePort()
        let server = try GlewlwydServer(redirectPorts: [port])
        let container = try UserManagerContainer(privateNetwork: false)
        try install(container, profiles: server.profile("work", redirectPort: port))
        #expect(try container.mustAsUser("claude-auth header").hasPrefix("x-api-key: \(Self.key)\n"))

        // No tokens at start: the daemon asks the desktop over the user bus, which answers that no
        // notification server is running in this container (there is no desktop).
        let asked = try waitUntil(10, every: 100_000) {
            try container.journalText().contains("cannot show the sign-in prompt")
        }
        #expect(asked)
        let log = try container.journalText()
        #expect(log.contains("org.freedesktop.DBus.Error.ServiceUnknown"), "\(log)")

        // A PKCE login through the socket API; the browser (on the host) lands on the daemon's listener.
        let answer = try container.mustAsUser(
            #"curl -sS --unix-socket "$XDG_RUNTIME_DIR/claude-auth/socket" -X POST -d '{"profile":"work"}' http://localhost/v1/login"#)
        let ticket = try JSONDecoder.api().decode(LoginTicketResponse.self, from: Data(answer.utf8))
        let landing = try server.signIn(ticket.authorizeURL)
        #expect(try runCommand(which("curl")!, ["-sS", "-4", "-f", "-o", "/dev/null", landing], environment: [:]).status == 0)
        let token = try container.mustAsUser("claude-auth token --profile work").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try server.accepts(token))

        // A refresh from inside the sandbox, written to the state directory.
        try container.mustAsUser("claude-auth refresh --profile work")
        let refreshed = try container.mustAsUser("claude-auth token --profile work").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(refreshed != token)
        #expect(try server.accepts(refreshed))
        #expect(try container.mustAsUser("stat -c %a ~/.local/state/claude-auth/credentials/*") == "600\n")
    }
}

/// Waits (30 s at most) for something systemd or journald does asynchronously after the step before.
private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
    try waitUntil(30, every: 200_000, condition)
}
