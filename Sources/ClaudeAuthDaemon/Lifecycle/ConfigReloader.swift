import Logging
import ServiceLifecycle
import SystemdSupport
import UnixSignals

/// Reloads the configuration on SIGHUP (`systemctl --user reload`), telling the manager while it does.
struct ConfigReloader: Service {
    let credentials: CredentialService
    let notifier: ServiceNotifier

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            notifier.reloading()
            try? credentials.reload()
            notifier.reloaded(status: credentials.summary())
        }
    }
}
