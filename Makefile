# ceremony — see README.md. Two commands on a fresh machine: `make demo`, `make test`.
GO        ?= go
BIN       := bin/ceremony
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Debian packages the acceptance path runs against; installed when missing.
# A pair is command:package, or /path/of/a/file:package for a library.
DEB_TOOLS := softhsm2-util:softhsm2 pkcs11-tool:opensc openssl:openssl tmux:tmux notary-server:notary python3:python3 \
	/usr/bin/docker:docker.io docker-registry:docker-registry notary-signer:notary pg_ctlcluster:postgresql \
	swtpm:swtpm swtpm_setup:swtpm-tools tpm2_getrandom:tpm2-tools tpm2-abrmd:tpm2-abrmd dbus-daemon:dbus \
	/usr/lib/x86_64-linux-gnu/libtss2-tcti-swtpm.so.0:libtss2-tcti-swtpm0 \
	/usr/lib/x86_64-linux-gnu/libtss2-tcti-tabrmd.so.0:libtss2-tcti-tabrmd0 \
	/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so:libtpm2-pkcs11-1

.PHONY: all deps build test bench faults demo lint clean screenshots

all: build

deps:
	@missing=""; for pair in $(DEB_TOOLS); do \
		cmd=$${pair%%:*}; pkg=$${pair##*:}; \
		case $$cmd in /*) [ -e $$cmd ] ;; *) command -v $$cmd >/dev/null 2>&1 ;; esac || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		if [ -n "$$SUDO" ] && ! command -v sudo >/dev/null; then \
			echo "make deps: missing Debian packages:$$missing; run as root or install them (apt-get install$$missing)"; exit 1; \
		fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ceremony

test: deps lint
	$(GO) test -race -count=1 -timeout 8m ./...
	@# Fuzz budgets are counts of executions, not durations: Go 1.26's fuzz
	@# coordinator can report a duration's end as "context deadline exceeded"
	@# (go.dev/issue/75804, fixed in Go 1.27). A count has no deadline to race.
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 30000x -fuzzminimizetime 1x ./transcript
	@# Short runs over the committed seeds (testdata/fuzz) and a little beyond:
	@# the parsers of what an operator types or hands over.
	for t in config:FuzzParse:10000 trust/names:FuzzCheckGUN:30000 trust/names:FuzzCheckRole:30000 \
		trust/names:FuzzCheckServerURL:30000 hsm:FuzzParseURI:30000 trust:FuzzParsePrivateKeyPEM:10000; do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; n=$${rest#*:}; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $${n}x -fuzzminimizetime 1x ./$$pkg || exit 1; \
	done

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

# The fault tests in full (make test runs a sample of each): every PKCS#11
# call of a ceremony failed with each of four return values, the Notary
# server cut at every chunk of each publish, notary-server, notary-signer
# and PostgreSQL (behind token auth) killed at every chunk of each publish,
# the output disk full at every page, SIGKILL at every hook point. About 25
# minutes on two cores.
faults: deps
	$(GO) test -count=1 -timeout 60m -run '^(TestPKCS11Faults|TestNotaryServerDies|TestProductionServerDies|TestDiskFull)$$' ./steps -args -faults.full
	$(GO) test -count=1 -timeout 30m -run '^TestKillAtEveryPoint$$' ./cmd/ceremony -args -faults.full

# On a terminal the demo runs in the wizard; piped or in CI, headless.
demo: deps build
	./$(BIN) demo $$([ -t 0 ] && [ -t 1 ] || echo --non-interactive)

# The wizard's screens from the real program: cmd/ceremony's TestScreenshots
# drives it in tmux and keeps each scene as `capture-pane -e` gives it; freeze
# renders them. (freeze 0.2.2 ignores SGR 39, "default foreground", so it is
# spelled as a full reset for it.)
FREEZE ?= $(GO) run github.com/charmbracelet/freeze@v0.2.2
SCREENS := bin/screens
screenshots: deps
	rm -rf $(SCREENS) && mkdir -p $(SCREENS) docs/screenshots
	CEREMONY_SCREENSHOTS=$(CURDIR)/$(SCREENS) $(GO) test -count=1 -run '^TestScreenshots$$' ./cmd/ceremony
	for f in $(SCREENS)/*.ansi; do \
		sed 's/\x1b\[39m/\x1b[0m/g' $$f | $(FREEZE) --window --padding 20 --font.size 14 \
			-o docs/screenshots/wizard-$$(basename $$f .ansi).png >/dev/null || exit 1; \
	done
	chmod 644 docs/screenshots/wizard-*.png
	@# A terminal has few colours: a palette makes each PNG a tenth the size.
	@if command -v pngquant >/dev/null; then pngquant --force --ext .png 64 docs/screenshots/wizard-*.png; fi
	@ls -l docs/screenshots/wizard-*.png

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
