package ui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/huh/v2"

	"github.com/ceremony-dev/ceremony/config"
)

// formPage is one page of the config forms: one huh group.
type formPage struct {
	id, title, intro string
	// fields are the config keys the page edits: a problem found when the
	// whole config is checked sends the operator back to its page.
	fields []string
	build  func(fm formFieldMaker) []*formField
}

// owns reports how closely the page edits the config key field: the
// length of its matching key (0: not at all), so that "delegations[0].gun"
// goes to the delegate's page rather than the delegations question.
func (p formPage) owns(field string) int {
	best := 0
	for _, f := range p.fields {
		if field == f || strings.HasPrefix(field, f+".") || strings.HasPrefix(field, f+"[") {
			best = max(best, len(f))
		}
	}
	return best
}

// pages lists the pages the draft calls for now: the Notary pages only
// with a server, a page per delegate and per witness.
func (m *Forms) pages() []formPage {
	d := m.d
	ps := []formPage{m.modulePage(), m.tokenPage(), m.keysPage(), m.validityPage(), m.reposPage(), m.notaryPage()}
	if d.notary {
		ps = append(ps, m.serverPage(), m.passphrasesPage(), m.delegationsPage())
		if d.delegate {
			for i := range d.delegations {
				ps = append(ps, m.delegatePage(i))
			}
		}
	}
	ps = append(ps, m.peoplePage())
	if d.witness {
		for i := range d.witnesses {
			ps = append(ps, m.witnessPage(i))
		}
	}
	return append(ps, m.outputPage())
}

func (m *Forms) modulePage() formPage {
	d := m.d
	return formPage{id: "module", title: "Token module", fields: []string{"hsm.module"},
		intro: "The token vendor's PKCS#11 library. The next page lists the tokens it shows.",
		build: func(fm formFieldMaker) []*formField {
			return []*formField{fm.input("Module", "hsm.module · SoftHSM2: "+config.DefaultModule, &d.module, nil)}
		}}
}

func (m *Forms) tokenPage() formPage {
	d := m.d
	return formPage{id: "token", title: "Token and PIN", fields: []string{"hsm.token", "hsm.serial", "hsm.pin"},
		intro: "The token the keys are made in, named by its label (slot numbers change). " +
			"The PIN is never typed here: say where it comes from.",
		build: func(fm formFieldMaker) []*formField {
			pin := fm.source("PIN source", "hsm.pin · prompt (asked, masked, when needed), env:NAME or file:PATH; never the PIN itself",
				&d.pin, func() error { return config.CheckSecretSource("hsm.pin", d.pin) })
			return []*formField{m.tokenField(fm), pin}
		}}
}

// tokenField is a select over the tokens the module shows, or, when it
// shows none (or cannot be read here), a field for the label.
func (m *Forms) tokenField(fm formFieldMaker) *formField {
	d := m.d
	check := func() error { return config.CheckToken(d.token) }
	if len(m.tokens) == 0 {
		desc := "hsm.token · the token's label"
		if m.tokensErr != nil {
			desc = "hsm.token · the module shows no token here (" + m.tokensErr.Error() + "): type the label"
		} else if m.tokensListed {
			desc = "hsm.token · the module shows no initialised token: type the label"
		}
		return fm.input("Token label", desc, &d.token, check)
	}
	opts := make([]huh.Option[int], 0, len(m.tokens)+1)
	m.tokenPick = -1
	for i, t := range m.tokens {
		opts = append(opts, huh.NewOption(tokenLine(t), i))
		if t.Label == d.token && (d.serial == "" || d.serial == t.Serial) && m.tokenPick < 0 {
			m.tokenPick = i
		}
	}
	if m.tokenPick < 0 && d.token != "" {
		// The config's token, not on this module now: kept, and said so.
		opts = append(opts, huh.NewOption(d.token+"  (from the config; the module does not show it now)", len(m.tokens)))
		m.tokenPick = len(m.tokens)
	}
	if m.tokenPick < 0 {
		m.tokenPick = 0
	}
	m.pickToken(m.tokenPick)
	desc := "hsm.token · the tokens " + shortPath(d.module) + " shows"
	s := huh.NewSelect[int]().Title("Token").Description(desc).
		Options(opts...).Value(&m.tokenPick).Height(min(len(opts), 4) + 2)
	s.Validate(func(i int) error { m.pickToken(i); return check() })
	return fm.wrap(s, nil, false, func() error { m.pickToken(m.tokenPick); return check() }, desc)
}

// pickToken sets the draft's token from the select: the label, and the
// serial only when another token shares the label.
func (m *Forms) pickToken(i int) {
	if i < 0 || i >= len(m.tokens) {
		return
	}
	t := m.tokens[i]
	m.d.token, m.d.serial = t.Label, ""
	for j, o := range m.tokens {
		if j != i && o.Label == t.Label {
			m.d.serial = t.Serial
		}
	}
}

func tokenLine(t TokenChoice) string {
	var about []string
	if s := strings.TrimSpace(t.Manufacturer + " " + t.Model); s != "" {
		about = append(about, s)
	}
	if t.Serial != "" {
		about = append(about, "serial "+t.Serial)
	}
	if len(about) == 0 {
		return t.Label
	}
	// No slot number: slots change, the label and serial name the token.
	return t.Label + "  (" + strings.Join(about, ", ") + ")"
}

func shortPath(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

func (m *Forms) keysPage() formPage {
	d := m.d
	return formPage{id: "keys", title: "Keys", fields: []string{"ca.label", "ca.key", "root.label", "root.key", "transcript.label", "transcript.key", "notary.targets_key"},
		intro: "Every key is generated inside the token, sensitive and never extractable, and needs a label of its own. " +
			"The transcript key signs every line of the ceremony's record.",
		build: func(fm formFieldMaker) []*formField {
			var labels, values []string
			for _, t := range config.KeyTypes() {
				labels = append(labels, string(t)+" ("+t.Describe()+")")
				values = append(values, string(t))
			}
			keyErrs := func(field string) func() error {
				return func() error { return problemsOf(config.CheckKeys(d.config().Keys()), false, field) }
			}
			var out []*formField
			for _, k := range []struct {
				name, field string
				label, typ  *string
			}{{"CA", "ca", &d.caLabel, &d.caKey}, {"Root", "root", &d.rootLabel, &d.rootKey}, {"Transcript", "transcript", &d.trLabel, &d.trKey}} {
				l := fm.input(k.name+" key label ", "", k.label, keyErrs(k.field+".label"))
				if in, ok := l.inner().(*huh.Input); ok && !fm.plain {
					in.Inline(true)
				}
				out = append(out, l, fm.choice(k.name+" key type", "", k.typ, labels, values, true, keyErrs(k.field+".key")))
			}
			return out
		}}
}

func (m *Forms) validityPage() formPage {
	d := m.d
	days := func(field string, ptr *string, max int) func() error {
		return func() error {
			n, err := parseDays(field, *ptr)
			if err != nil {
				return err
			}
			return config.CheckDays(field, n, max)
		}
	}
	subject := func() error {
		if err := config.CheckSubject("ca.subject", d.subject); err != nil || !d.training {
			return err
		}
		return config.CheckTrainingSubject("ca.subject", d.subject)
	}
	return formPage{id: "validity", title: "Certificates", fields: []string{"ca.subject", "ca.days", "root.days", "transcript.days", "root.subject", "transcript.subject"},
		intro: "The CA certifies the root key, every repository key and the transcript signer. " +
			"A certificate never outlives the CA.",
		build: func(fm formFieldMaker) []*formField {
			return []*formField{
				fm.input("CA subject", "ca.subject · RFC 4514: CN=…,O=…,C=…", &d.subject, subject),
				fm.input("CA validity, days", fmt.Sprintf("ca.days · 1 to %d", config.MaxCADays), &d.caDays, days("ca.days", &d.caDays, config.MaxCADays)),
				fm.input("Root validity, days", fmt.Sprintf("root.days · 1 to %d", config.MaxRootDays), &d.rootDays, days("root.days", &d.rootDays, config.MaxRootDays)),
				fm.input("Transcript signer validity, days", fmt.Sprintf("transcript.days · 1 to %d", config.MaxTranscriptDays), &d.trDays, days("transcript.days", &d.trDays, config.MaxTranscriptDays)),
			}
		}}
}

func (m *Forms) reposPage() formPage {
	d := m.d
	return formPage{id: "repositories", title: "Repositories", fields: []string{"repositories"},
		intro: "The repositories (GUNs) the ceremony certifies, as docker names them: fully qualified, lowercase, no tag.",
		build: func(fm formFieldMaker) []*formField {
			desc := "repositories[].gun · one per line (enter: new line, tab: next); a number after a GUN sets its own days"
			if fm.plain {
				desc = "repositories[].gun · separated by commas; a number after a GUN sets its own days"
			}
			guns := fm.text("GUNs", desc, &d.guns, func() error {
				repos, errs := d.repositories()
				errs = append(errs, config.CheckRepositories(repos)...)
				return problemsOf(errs, true, "repositories")
			})
			if t, ok := guns.inner().(*huh.Text); ok {
				t.Placeholder("docker.io/alice/nginx")
			}
			days := fm.input("Days, for each repository", fmt.Sprintf("repositories[].days · 1 to %d", config.MaxRepoDays), &d.repoDays, func() error {
				n, err := parseDays("repositories[].days", d.repoDays)
				if err != nil {
					return err
				}
				return config.CheckDays("repositories[].days", n, config.MaxRepoDays)
			})
			return []*formField{guns, days}
		}}
}

func (m *Forms) notaryPage() formPage {
	d := m.d
	return formPage{id: "notary", title: "Notary server", fields: []string{"notary"},
		intro: "With a server, the ceremony runs notary init with the root key, hands the snapshot key to the server " +
			"and publishes delegations. Without one, it issues the certificates only.",
		build: func(fm formFieldMaker) []*formField {
			return []*formField{fm.confirm("Publish to a Notary server?", "notary", "Yes, publish", "No, certificates only", &d.notary)}
		}}
}

func (m *Forms) serverPage() formPage {
	d := m.d
	return formPage{id: "server", title: "Notary server", fields: []string{"notary.url", "notary.tls_ca", "notary.trust_dir", "notary.auth"},
		intro: "The server's TLS is always verified: against the system's roots, or the CA file given here.",
		build: func(fm formFieldMaker) []*formField {
			return []*formField{
				fm.input("Server URL", "notary.url · https://HOST[:PORT]", &d.url, func() error { return config.CheckServerURL(d.url) }),
				fm.optional("TLS CA file", "notary.tls_ca · PEM of the CA that signed the server's certificate; empty: system roots", &d.tlsCA,
					func() error { return d.config().CheckTLSCA(d.tlsCA) }),
				fm.input("Trust directory", "notary.trust_dir · notary's trust directory (the CLI's layout)", &d.trustDir,
					func() error { return config.CheckTrustDir(d.trustDir) }),
				fm.optionalSource("Credentials source", "notary.auth · behind token authentication: env:NAME or file:PATH holding what NOTARY_AUTH holds; empty: none", &d.auth,
					func() error { return config.CheckSecretSource("notary.auth", d.auth) }),
			}
		}}
}

func (m *Forms) passphrasesPage() formPage {
	d := m.d
	return formPage{id: "passphrases", title: "Notary passphrases", fields: []string{"notary.targets_passphrase", "notary.snapshot_passphrase"},
		intro: "notary keeps its targets and snapshot keys in the trust directory under passphrases. " +
			"Say where each comes from; never type one here.",
		build: func(fm formFieldMaker) []*formField {
			var out []*formField
			if d.targetsKey == nil {
				out = append(out, fm.source("Targets key passphrase source", "notary.targets_passphrase · prompt, env:NAME or file:PATH",
					&d.targetsPassphrase, func() error { return config.CheckSecretSource("notary.targets_passphrase", d.targetsPassphrase) }))
			}
			return append(out, fm.source("Snapshot key passphrase source", "notary.snapshot_passphrase · prompt, env:NAME or file:PATH",
				&d.snapshotPassphrase, func() error { return config.CheckSecretSource("notary.snapshot_passphrase", d.snapshotPassphrase) }))
		}}
}

func (m *Forms) delegationsPage() formPage {
	d := m.d
	return formPage{id: "delegations", title: "Delegations", fields: []string{"delegations"},
		intro: "A delegate (a release manager, a CI system) signs tags with a key of their own, as a role " +
			"targets/NAME of a repository. Each needs their certificate or public key file.",
		build: func(fm formFieldMaker) []*formField {
			return []*formField{fm.confirm("Delegate a role?", "delegations", "Yes", "No", &d.delegate)}
		}}
}

func (m *Forms) delegatePage(i int) formPage {
	d := m.d
	g := d.delegations[i]
	field := fmt.Sprintf("delegations[%d]", i)
	return formPage{id: "delegate/" + strconv.Itoa(i), title: fmt.Sprintf("Delegate %d", i+1), fields: []string{field},
		intro: "What the delegate may sign, and the key they sign with. Docker sees only tags in targets/releases.",
		build: func(fm formFieldMaker) []*formField {
			errs := func(fields ...string) func() error {
				return func() error { return problemsOf(d.config().CheckDelegations(), false, fields...) }
			}
			repos, _ := d.repositories()
			var guns []string
			for _, r := range repos {
				guns = append(guns, r.GUN)
			}
			if g.gun == "" && len(guns) > 0 {
				g.gun = guns[0]
			}
			var gun *formField
			if len(guns) > 0 {
				gun = fm.choice("Repository", "", &g.gun, guns, guns, false, errs(field+".gun"))
			} else {
				gun = fm.input("Repository", field+".gun", &g.gun, errs(field+".gun"))
			}
			return []*formField{gun,
				fm.input("Role", "targets/NAME, NAME of a-z, 0-9, - and _", &g.role, errs(field+".role", field)),
				fm.input("Certificate file", "the delegate's certificate or public key (PEM)", &g.cert, errs(field+".cert")),
				fm.input("Paths", "all, or path prefixes separated by spaces", &g.paths, errs(field+".paths")),
				fm.confirm("Also in targets/releases, for docker?", "", "Yes", "No", &g.docker).inline(),
				fm.confirm("Another delegate after this one?", "", "Yes", "No", &g.more).inline(),
			}
		}}
}

func (m *Forms) peoplePage() formPage {
	d := m.d
	return formPage{id: "people", title: "People", fields: []string{"operator", "witnesses"},
		intro: "Who runs the ceremony, and who watches it. Only declared witnesses' signatures count for " +
			"verify --require-witnesses.",
		build: func(fm formFieldMaker) []*formField {
			return []*formField{
				fm.optional("Operator", "operator · who is at the keyboard, for the record", &d.operator, nil),
				fm.confirm("Declare witnesses?", "witnesses", "Yes", "No", &d.witness),
			}
		}}
}

func (m *Forms) witnessPage(i int) formPage {
	d := m.d
	w := d.witnesses[i]
	field := fmt.Sprintf("witnesses[%d]", i)
	return formPage{id: "witness/" + strconv.Itoa(i), title: fmt.Sprintf("Witness %d", i+1), fields: []string{field},
		intro: "A witness signs the finished transcript with this key (ceremony witness sign).",
		build: func(fm formFieldMaker) []*formField {
			errs := func(f string) func() error {
				return func() error { return problemsOf(d.config().CheckWitnesses(), false, f) }
			}
			return []*formField{
				fm.input("Name", "as it goes on the record", &w.name, errs(field+".name")),
				fm.optional("Role", "auditor, security officer, …", &w.role, nil),
				fm.input("Key", "their PEM public key or certificate file, or its key ID sha256:…", &w.key, errs(field)),
				fm.confirm("Another witness after this one?", "", "Yes", "No", &w.more).inline(),
			}
		}}
}

func (m *Forms) outputPage() formPage {
	d := m.d
	return formPage{id: "output", title: "Output", fields: []string{"output", "file"},
		intro: "Where the ceremony writes its certificates and transcript, and the new file this config goes to " +
			"(both relative to " + d.dir + ").",
		build: func(fm formFieldMaker) []*formField {
			return []*formField{
				fm.input("Output directory", "output · must not exist yet, or be empty", &d.output, func() error { return config.CheckOutput(d.output) }),
				fm.input("Config file", "a new file: nothing is overwritten", &d.file, func() error { return checkFile(d.dir, d.file) }),
			}
		}}
}

// leave applies what the page decided: a delegate or witness added after
// the one on the page, or the ones after it dropped.
func (m *Forms) leave(p formPage) {
	d := m.d
	kind, n, _ := strings.Cut(p.id, "/")
	i, _ := strconv.Atoi(n)
	switch kind {
	case "token":
		if len(m.tokens) > 0 {
			m.pickToken(m.tokenPick)
		}
	case "notary":
		if d.notary && d.trustDir == "" {
			d.trustDir = config.DefaultTrustDir
		}
	case "delegations":
		if d.delegate && len(d.delegations) == 0 {
			d.delegations = []*formDelegation{{paths: "all"}}
		}
	case "delegate":
		if d.delegations[i].more && i == len(d.delegations)-1 {
			d.delegations = append(d.delegations, &formDelegation{paths: "all"})
		} else if !d.delegations[i].more {
			d.delegations = d.delegations[:i+1]
		}
	case "people":
		if d.witness && len(d.witnesses) == 0 {
			d.witnesses = []*formWitness{{}}
		}
	case "witness":
		if d.witnesses[i].more && i == len(d.witnesses)-1 {
			d.witnesses = append(d.witnesses, &formWitness{})
		} else if !d.witnesses[i].more {
			d.witnesses = d.witnesses[:i+1]
		}
	}
}
