import CTestSupport
import ClaudeAuthAPI
import Foundation
import Testing

/// `claude-auth login` and `logout` as a user runs them, against glewlwyd.
@Suite("claude-auth login and logout")
struct ClientLoginTests {
    let sandbox: Sandbox
    let server: GlewlwydServer

    init() throws {
        sandbox = try Sandbox()
        let redirectPort = try freePort()
        server = try GlewlwydServer(redirectPorts: [redirectPort])
        try sandbox.writeConfig(server.profile("work", redirectPort: redirectPort))
    }

    @Test("on a desktop: the URL goes to xdg-open, the login finishes, logout forgets it")
    func browser() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        // A stand-in for xdg-open: the scripted user signs in, and the browser follows the redirect.
        try FileManager.default.createDirectory(atPath: sandbox.root + "/bin", withIntermediateDirectories: true)
        _ = try sandbox.writeFile(
            "bin/xdg-open", "#!/bin/sh\nlanding=$(\"\(GlewlwydServer.scripts)/browser\" \"$1\") && exec curl -s -o /dev/null \"$landing\"\n",
            mode: 0o755)
        let path = sandbox.root + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let login = try sandbox.client(["login", "--profile", "work"], environment: ["PATH": path, "DISPLAY": ":99"])
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.stdout.hasPrefix(server.authorizeURL + "?"))
        #expect(login.stderr.contains("Signed in"))
        #expect(try sandbox.client(["header", "--profile", "work"]).stdout.hasPrefix("Authorization: Bearer "))

        let logout = try sandbox.client(["logout", "--profile", "work"])
        #expect(logout.status == 0)
        #expect(logout.stderr.contains("Logged out of profile \"work\""))
        #expect(try sandbox.client(["header", "--profile", "work"]).status == 77)
        daemon.stop()
    }

    @Test("--manual: the URL is printed, and the redirect URL pasted on stdin finishes the login")
    func manual() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        #expect(test_pipe_cloexec(&input) == 0 && test_pipe_cloexec(&output) == 0)
        let errorPath = sandbox.root + "/login.err"
        let errorFD = try openOutput(errorPath)
        let child = try ChildProcess(
            Binaries.client, ["login", "--manual", "--profile", "work"], environment: sandbox.environment(),
            stdin: input[0], stdout: output[1], stderr: errorFD)
        close(input[0])
        close(output[1])
        close(errorFD)
        defer {
            close(input[1])
            close(output[0])
        }
        let url = try #require(readLine(from: output[0], timeout: 20))
        let landing = try server.signIn(url)
        let typed = Array((landing + "\n").utf8)
        #expect(typed.withUnsafeBytes { write(input[1], $0.baseAddress, $0.count) } == typed.count)
        #expect(child.wait(timeout: 20) == 0)
        #expect(try String(contentsOfFile: errorPath, encoding: .utf8).contains("Signed in"))
        #expect(try sandbox.client(["token", "--profile", "work"]).status == 0)
        daemon.stop()
    }
}
