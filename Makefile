# claude-auth: build, install, test.
#   make install   build release binaries, install them, their man pages and bash/zsh/fish completions and
#                  the user units, enable the socket
#   make test      run the whole test suite
#   make deb       build claude-auth_VERSION_ARCH.deb (into DEB_DIR, default .) and check it with lintian
#   make bench     measure the client's start-up and the daemon's throughput
#   make fuzz      run every libFuzzer target for FUZZ_SECONDS (default 60) each; fails on a crash, leak or timeout
# PREFIX (default ~/.local) and DESTDIR work as packagers expect.

PREFIX ?= $(HOME)/.local
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/share/systemd/user
MANDIR ?= $(PREFIX)/share/man/man1
BASHDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHDIR ?= $(PREFIX)/share/zsh/site-functions
FISHDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DESTDIR ?=

SWIFT ?= swift
RELEASE_FLAGS = -c release
# The daemon links libsystemd dynamically and the Swift runtime statically. Nothing loads it as a library, so it
# exports no symbols: the 33,000 the Swift driver would export weigh 4 MB.
DAEMON_BUILD = $(SWIFT) build $(RELEASE_FLAGS) --static-swift-stdlib --product claude-authd -Xlinker --no-export-dynamic
# The argument parser's man page generator, run on the built binaries at install.
MANUAL_BUILD = $(SWIFT) build $(RELEASE_FLAGS) --static-swift-stdlib --product generate-manual
# The client is fully static, for start-up speed; it lives in its own scratch folder.
CLIENT_SCRATCH = .build-client
CLIENT_BUILD = $(SWIFT) build $(RELEASE_FLAGS) --scratch-path $(CLIENT_SCRATCH) --product claude-auth \
	-Xswiftc -static-executable \
	-Xlinker -l_FoundationCShims -Xlinker -l_FoundationCollections -Xlinker -lswiftSynchronization

.PHONY: all build install uninstall deb test bench fuzz clean

all: build

build:
	$(DAEMON_BUILD)
	$(CLIENT_BUILD)
	$(MANUAL_BUILD)

install: build
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(UNITDIR)"
	install -s -m 0755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/claude-authd" "$(DESTDIR)$(BINDIR)/claude-authd"
	install -s -m 0755 "$$($(SWIFT) build $(RELEASE_FLAGS) --scratch-path $(CLIENT_SCRATCH) --show-bin-path)/claude-auth" "$(DESTDIR)$(BINDIR)/claude-auth"
	sed 's|^ExecStart=.*|ExecStart=$(BINDIR)/claude-authd|' systemd/claude-authd.service > "$(DESTDIR)$(UNITDIR)/claude-authd.service"
	install -m 0644 systemd/claude-authd.socket "$(DESTDIR)$(UNITDIR)/claude-authd.socket"
	install -m 0644 systemd/claude-authd-proxy.socket "$(DESTDIR)$(UNITDIR)/claude-authd-proxy.socket"
	install -m 0644 systemd/claude-authd-remote.socket "$(DESTDIR)$(UNITDIR)/claude-authd-remote.socket"
	install -d "$(DESTDIR)$(MANDIR)" "$(DESTDIR)$(BASHDIR)" "$(DESTDIR)$(ZSHDIR)" "$(DESTDIR)$(FISHDIR)"
	for tool in claude-auth claude-authd; do \
		"$(DESTDIR)$(BINDIR)/$$tool" --generate-completion-script bash > "$(DESTDIR)$(BASHDIR)/$$tool" && \
		"$(DESTDIR)$(BINDIR)/$$tool" --generate-completion-script zsh > "$(DESTDIR)$(ZSHDIR)/_$$tool" && \
		"$(DESTDIR)$(BINDIR)/$$tool" --generate-completion-script fish > "$(DESTDIR)$(FISHDIR)/$$tool.fish" && \
		"$$($(SWIFT) build $(RELEASE_FLAGS) --static-swift-stdlib --show-bin-path)/generate-manual" "$(DESTDIR)$(BINDIR)/$$tool" \
			--authors claude-auth --output-directory "$(DESTDIR)$(MANDIR)" || exit 1; \
	done
	@if [ -n "$(DESTDIR)" ]; then \
		echo "Installed under $(DESTDIR); enable with: systemctl --user enable --now claude-authd.socket"; \
	elif systemctl --user show-environment >/dev/null 2>&1; then \
		systemctl --user daemon-reload && systemctl --user enable --now claude-authd.socket && \
		echo "claude-authd.socket is enabled: try \`claude-auth status\`"; \
	else \
		echo "No systemd user manager here: run the daemon by hand with \`$(BINDIR)/claude-authd &\` (it binds \$$XDG_RUNTIME_DIR/claude-auth/socket)."; \
	fi

uninstall:
	@if [ -z "$(DESTDIR)" ] && systemctl --user show-environment >/dev/null 2>&1; then \
		systemctl --user disable --now claude-authd-proxy.socket claude-authd-remote.socket claude-authd.socket claude-authd.service || true; \
	fi
	rm -f "$(DESTDIR)$(BINDIR)/claude-authd" "$(DESTDIR)$(BINDIR)/claude-auth"
	rm -f "$(DESTDIR)$(UNITDIR)/claude-authd.service" "$(DESTDIR)$(UNITDIR)/claude-authd.socket" "$(DESTDIR)$(UNITDIR)/claude-authd-proxy.socket" \
		"$(DESTDIR)$(UNITDIR)/claude-authd-remote.socket"
	for tool in claude-auth claude-authd; do \
		rm -f "$(DESTDIR)$(MANDIR)/$$tool.1" "$(DESTDIR)$(BASHDIR)/$$tool" "$(DESTDIR)$(ZSHDIR)/_$$tool" "$(DESTDIR)$(FISHDIR)/$$tool.fish"; \
	done
	@if [ -z "$(DESTDIR)" ] && systemctl --user show-environment >/dev/null 2>&1; then systemctl --user daemon-reload; fi

DEB_DIR ?= .

deb: build
	Packaging/build-deb "$(DEB_DIR)"

# The user-manager tests boot a container (root, systemd-nspawn and debootstrap needed) and install the
# project into alice's home there as `make install` would: it is staged here, release-built.
STAGE = $(CURDIR)/.build/container-stage

# The official Anthropic SDK from PyPI, in a virtual environment of the tests' own (CI must have it).
SDK_VENV = $(CURDIR)/.build/sdk-venv

test:
	$(SWIFT) build --build-tests
	@Tests/Servers/sdk/setup "$(SDK_VENV)" || { echo "cannot install the anthropic SDK from PyPI: the SDK tests are skipped"; [ -z "$$CI" ]; }
	@if [ "$$(id -u)" = 0 ] && command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null; then \
		rm -rf "$(STAGE)" && $(MAKE) --no-print-directory install DESTDIR="$(STAGE)" PREFIX=/home/alice/.local && \
		$(MAKE) --no-print-directory deb DEB_DIR="$(STAGE)/packages"; \
	fi
	CLAUDE_AUTH_BIN_DIR="$$($(SWIFT) build --show-bin-path)" CLAUDE_AUTH_STAGE_DIR="$(STAGE)" CLAUDE_AUTH_SDK_PYTHON="$(SDK_VENV)/bin/python3" $(SWIFT) test --skip-build

bench: build
	$(SWIFT) build $(RELEASE_FLAGS) --product claude-auth-load
	Benchmarks/run "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/claude-authd" \
		"$$($(SWIFT) build $(RELEASE_FLAGS) --scratch-path $(CLIENT_SCRATCH) --show-bin-path)/claude-auth" \
		"$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/claude-auth-load"

FUZZ_SECONDS ?= 60

fuzz:
	Fuzz/run $(FUZZ_SECONDS)

clean:
	rm -rf .build $(CLIENT_SCRATCH) .build-fuzz
