import ArgumentParser
import ClaudeAuthClient

/// `claude-auth kube-credential`: kubectl's exec credential plugin.
struct KubeCredentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-credential",
        abstract: "Print a profile's token as a Kubernetes ExecCredential.",
        discussion: "In a kubeconfig: users[].user.exec with command: claude-auth, args: [kube-credential, --profile, work]."
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let credential = try options.client().credential(profile: options.profile)
            writeOut(try KubeCredential.execCredential(credential, apiVersion: KubeCredential.apiVersion(environment: options.environment)))
        }
    }
}
