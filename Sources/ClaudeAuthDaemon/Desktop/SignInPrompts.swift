import ClaudeAuthAPI
import Logging
import ServiceLifecycle
import Synchronization
import SystemdSupport

#if canImport(Glibc)
import Glibc
#endif

/// The desktop's sign-in prompts (DESIGN §8): when an `oauth` profile comes to need a login, one notification
/// with a "Sign in" action, which starts the PKCE login and opens the browser at its authorize URL.
///
/// A profile is prompted once per need: a dismissed prompt is not shown again until the profile has logged in
/// or out and needs a login anew. `[desktop] sign_in_prompts = false` turns prompts off.
final class SignInPrompts: Service, Sendable {
    /// The notification server's action key for signing in; `default` is also what clicking the body does.
    static let signInAction = "default"

    let bus: NotificationBus
    let busEvents: AsyncStream<NotificationBus.Event>
    let loginEvents: AsyncStream<OAuthSessions.LoginEvent>
    /// Whether the configuration in force allows prompts.
    let enabled: @Sendable () -> Bool
    /// Starts a browser login for a profile; returns the URL to open.
    let startLogin: @Sendable (String) async throws(ServiceError) -> String
    /// The program and arguments that open a URL (appended) when the desktop portal cannot: `xdg-open`, started
    /// through the user manager when the daemon runs in its sandbox.
    let opener: [String]
    /// The environment the opener gets: the desktop's variables only, never the daemon's secrets.
    let openerEnvironment: [String: String]
    let logger: Logger

    /// Profiles prompted for their current need, with the notification's id once the server has given it.
    private let prompted = Mutex<[String: UInt32?]>([:])

    init(
        bus: NotificationBus, busEvents: AsyncStream<NotificationBus.Event>, loginEvents: AsyncStream<OAuthSessions.LoginEvent>,
        enabled: @escaping @Sendable () -> Bool, startLogin: @escaping @Sendable (String) async throws(ServiceError) -> String,
        opener: [String], openerEnvironment: [String: String], logger: Logger
    ) {
        self.bus = bus
        self.busEvents = busEvents
        self.loginEvents = loginEvents
        self.enabled = enabled
        self.startLogin = startLogin
        self.opener = opener
        self.openerEnvironment = openerEnvironment
        self.logger = logger
    }

    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await event in self.loginEvents.cancelOnGracefulShutdown() { self.handle(event) }
            }
            group.addTask {
                for await event in self.busEvents.cancelOnGracefulShutdown() { await self.handle(event) }
            }
        }
    }

    private func handle(_ event: OAuthSessions.LoginEvent) {
        switch event {
        case .needed(let profile, let reason):
            guard enabled() else { return }
            let isNew = prompted.withLock { prompted in
                guard prompted[profile] == nil else { return false }
                prompted[profile] = .some(nil)
                return true
            }
            guard isNew else { return }
            let notification = NotificationBus.Notification(
                appName: "claude-auth",
                summary: "Sign in to \(profile)",
                body: "claude-auth profile \u{201C}\(profile)\u{201D} needs a new login: \(reason).",
                actions: [(Self.signInAction, "Sign in")])
            bus.notify(notification) { [self] result in
                switch result {
                case .success(let id):
                    logger.info("asked the desktop to sign in", metadata: ["profile": "\(profile)", "event": "sign_in_prompt", "notification": "\(id)"])
                    let stale = prompted.withLock { prompted in
                        guard case .some(.none) = prompted[profile] else { return true }
                        prompted[profile] = id
                        return false
                    }
                    // The profile settled while the server was answering.
                    if stale { bus.close(id: id) }
                case .failure(let error):
                    logger.warning("cannot show the sign-in prompt", metadata: ["profile": "\(profile)", "error": "\(error)"])
                }
            }
        case .settled(let profile):
            let shown = prompted.withLock { $0.removeValue(forKey: profile) }
            if case .some(.some(let id)) = shown { bus.close(id: id) }
        }
    }

    private func handle(_ event: NotificationBus.Event) async {
        switch event {
        case .actionInvoked(let id, let action):
            guard action == Self.signInAction, let profile = profile(shown: id) else { return }
            await signIn(profile)
        case .closed(let id, _):
            // Dismissed or acted on: the profile stays prompted for this need.
            guard let profile = profile(shown: id) else { return }
            prompted.withLock { $0[profile] = .some(nil) }
        }
    }

    private func profile(shown id: UInt32) -> String? {
        prompted.withLock { prompted in prompted.first { $0.value == id }?.key }
    }

    private func signIn(_ profile: String) async {
        let url: String
        do {
            url = try await startLogin(profile)
        } catch {
            logger.warning("the sign-in prompt could not start a login", metadata: ["profile": "\(profile)", "error": "\(error.message)"])
            return
        }
        logger.info("sign-in prompt chosen: opening the browser", metadata: ["profile": "\(profile)", "event": "sign_in_started"])
        bus.openURI(url) { [opener, openerEnvironment, logger] result in
            guard case .failure(let error) = result else { return }
            logger.debug("no desktop portal: running \(opener[0])", metadata: ["error": "\(error)"])
            if !Self.spawn(opener + [url], environment: openerEnvironment) {
                logger.warning("cannot open the browser", metadata: ["profile": "\(profile)", "command": "\(opener[0])"])
            }
        }
    }

    /// The variables a desktop program needs to find the display, the bus and the user's browser.
    static func desktopEnvironment(of environment: [String: String]) -> [String: String] {
        let names: Set = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "BROWSER", "DBUS_SESSION_BUS_ADDRESS"]
        return environment.filter { names.contains($0.key) || $0.key.hasPrefix("LC_") || $0.key.hasPrefix("XDG_") }
    }

    /// Starts `argv` (its program found on PATH) without waiting for it; a thread reaps it when it ends.
    private static func spawn(_ argv: [String], environment: [String: String]) -> Bool {
        var pid = pid_t()
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        guard posix_spawnp(&pid, argv[0], nil, nil, arguments, variables) == 0 else { return false }
        DetachedThread.start { [pid] in
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        return true
    }
}
