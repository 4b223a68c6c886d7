package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ceremony-dev/ceremony/config"
)

// formDraft is the config as the forms edit it: every value as the operator
// types it (days as text, GUNs as lines), bound to the fields by pointer.
// config() turns it into a config.Config, whose rules check it.
type formDraft struct {
	dir string // where the operator is: relative paths are relative to it

	module, token, serial, pin string

	caLabel, caKey, rootLabel, rootKey, trLabel, trKey string

	subject, caDays, rootDays, trDays string

	guns, repoDays string

	notary                                bool
	url, tlsCA, trustDir                  string
	targetsPassphrase, snapshotPassphrase string
	auth                                  string      // notary.auth, a secret source; "" for none
	targetsKey                            *config.Key // kept as the start config has it

	delegate    bool
	delegations []*formDelegation

	operator  string
	witness   bool
	witnesses []*formWitness

	output, file string
	training     bool // kept as the start config has it
}

type formDelegation struct {
	gun, role, cert, paths string
	docker                 bool // also in targets/releases, as docker trust signer add
	more                   bool // the operator adds another delegate after this one
}

type formWitness struct {
	name, role, key string
	more            bool
}

// newFormDraft starts from start (a loaded config or config.Template()),
// rebased to dir so that its paths mean the same files from there.
func newFormDraft(start *config.Config, dir string) *formDraft {
	c := *start
	c.Notary = nil
	if start.Notary != nil {
		n := *start.Notary
		c.Notary = &n
	}
	c.Delegations = append([]config.Delegation(nil), start.Delegations...)
	c.Witnesses = append([]config.Witness(nil), start.Witnesses...)
	if c.Dir == "" {
		c.Dir = dir
	}
	c.Rebase(dir)

	d := &formDraft{dir: dir,
		module: c.HSM.Module, token: c.HSM.Token, serial: c.HSM.Serial, pin: orDefault(c.HSM.PIN, "prompt"),
		caLabel: c.CA.Label, caKey: string(c.CA.Key), rootLabel: c.Root.Label, rootKey: string(c.Root.Key),
		trLabel: c.Transcript.Label, trKey: string(c.Transcript.Key),
		subject: c.CA.Subject, caDays: itoa(c.CA.Days), rootDays: itoa(c.Root.Days), trDays: itoa(c.Transcript.Days),
		operator: c.Operator, output: c.Output, training: c.Training,
		targetsPassphrase: "prompt", snapshotPassphrase: "prompt",
	}
	d.guns, d.repoDays = gunLines(c.Repositories)
	if n := c.Notary; n != nil {
		d.notary = true
		d.url, d.tlsCA, d.trustDir, d.auth = n.URL, n.TLSCA, n.TrustDir, n.Auth
		d.targetsPassphrase = orDefault(n.TargetsPassphrase, "prompt")
		d.snapshotPassphrase = orDefault(n.SnapshotPassphrase, "prompt")
		if n.TargetsKey != nil {
			k := *n.TargetsKey
			d.targetsKey = &k
		}
	}
	for _, g := range c.Delegations {
		paths := "all"
		if !g.Paths.All {
			paths = strings.Join(g.Paths.List, " ")
		}
		d.delegations = append(d.delegations, &formDelegation{gun: g.GUN, role: g.Role, cert: g.Cert, paths: paths, docker: g.Docker, more: true})
	}
	if n := len(d.delegations); n > 0 {
		d.delegate = true
		d.delegations[n-1].more = false
	}
	for _, w := range c.Witnesses {
		key := w.Key
		if key == "" {
			key = w.KeyID
		}
		d.witnesses = append(d.witnesses, &formWitness{name: w.Name, role: w.Role, key: key, more: true})
	}
	if n := len(d.witnesses); n > 0 {
		d.witness = true
		d.witnesses[n-1].more = false
	}
	d.file = freeName(dir, "ceremony.yaml")
	return d
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// freeName is name in dir, or name-2, name-3 … when it is taken: the forms
// never overwrite a file.
func freeName(dir, name string) string {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 1; ; i++ {
		n := name
		if i > 1 {
			n = fmt.Sprintf("%s-%d%s", base, i, ext)
		}
		if _, err := os.Lstat(filepath.Join(dir, n)); errors.Is(err, os.ErrNotExist) || i > 999 {
			return n
		}
	}
}

// gunLines writes repositories one per line; the days most of them share go
// in the days field, and a repository with other days says so on its line.
func gunLines(repos []config.Repository) (lines, days string) {
	count := map[int]int{}
	common := config.DefaultRepoDays
	for _, r := range repos {
		count[r.Days]++
		if count[r.Days] > count[common] {
			common = r.Days
		}
	}
	var b strings.Builder
	for _, r := range repos {
		b.WriteString(r.GUN)
		if r.Days != common && r.Days != 0 {
			fmt.Fprintf(&b, " %d", r.Days)
		}
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n"), strconv.Itoa(common)
}

// repositories reads the GUN lines: "GUN" or "GUN DAYS", one per line (or
// separated by commas, for a one-line answer), blank lines ignored.
func (d *formDraft) repositories() ([]config.Repository, []error) {
	days, dayErr := parseDays("repositories[].days", d.repoDays)
	var repos []config.Repository
	var errs []error
	for _, item := range strings.FieldsFunc(d.guns, func(r rune) bool { return r == '\n' || r == ',' }) {
		f := strings.Fields(item)
		if len(f) == 0 {
			continue
		}
		r := config.Repository{GUN: f[0], Days: days}
		field := fmt.Sprintf("repositories[%d]", len(repos))
		switch {
		case len(f) == 2:
			n, err := parseDays(field+".days", f[1])
			if err != nil {
				errs = append(errs, err)
				n = 1 // reported once, as not a number
			}
			r.Days = n
		case len(f) > 2:
			// A space inside a GUN: let the GUN rule say so.
			r.GUN = strings.TrimSpace(item)
		case dayErr != nil:
			r.Days = 1 // the days field reports its own problem
		}
		repos = append(repos, r)
	}
	return repos, errs
}

// parseDays reads a number of days; a word that is not a number is
// reported like the config's own range error, naming the field.
func parseDays(field, s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil {
		if s == "" {
			return 0, &config.FieldError{Field: field, Err: errors.New("missing: a number of days")}
		}
		return 0, &config.FieldError{Field: field, Err: fmt.Errorf("%q is not a number of days", s)}
	}
	return n, nil
}

// config is the draft as a config.Config in d.dir. Values that do not
// parse (days) are left at zero: their own fields report them.
func (d *formDraft) config() *config.Config {
	c := &config.Config{Dir: d.dir, Operator: strings.TrimSpace(d.operator), Output: d.output, Training: d.training}
	c.HSM = config.HSM{Module: d.module, Token: d.token, Serial: d.serial, PIN: d.pin}
	num := func(s string) int { n, _ := strconv.Atoi(strings.TrimSpace(s)); return n }
	c.CA = config.Key{Label: d.caLabel, Key: config.KeyType(d.caKey), Subject: d.subject, Days: num(d.caDays)}
	c.Root = config.Key{Label: d.rootLabel, Key: config.KeyType(d.rootKey), Days: num(d.rootDays)}
	c.Transcript = config.Key{Label: d.trLabel, Key: config.KeyType(d.trKey), Days: num(d.trDays)}
	c.Repositories, _ = d.repositories()
	if d.notary {
		c.Notary = &config.Notary{URL: d.url, TLSCA: d.tlsCA, TrustDir: d.trustDir,
			TargetsPassphrase: d.targetsPassphrase, SnapshotPassphrase: d.snapshotPassphrase, Auth: d.auth}
		if d.targetsKey != nil {
			k := *d.targetsKey
			c.Notary.TargetsKey = &k
			c.Notary.TargetsPassphrase = ""
		}
		if d.delegate {
			for _, g := range d.delegations {
				c.Delegations = append(c.Delegations, config.Delegation{GUN: g.gun, Role: strings.TrimSpace(g.role),
					Cert: strings.TrimSpace(g.cert), Paths: parsePaths(g.paths), Docker: g.docker})
			}
		}
	}
	if d.witness {
		for _, w := range d.witnesses {
			cw := config.Witness{Name: strings.TrimSpace(w.name), Role: strings.TrimSpace(w.role)}
			if k := strings.TrimSpace(w.key); strings.HasPrefix(k, "sha256:") {
				cw.KeyID = k
			} else {
				cw.Key = k
			}
			c.Witnesses = append(c.Witnesses, cw)
		}
	}
	return c
}

// parsePaths reads "all" or path prefixes separated by spaces or commas.
func parsePaths(s string) config.Paths {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(f) == 1 && f[0] == "all" {
		return config.Paths{All: true}
	}
	return config.Paths{List: f}
}

// problemsOf keeps the errors about the named fields (exactly, or, with
// sub, a field under them: "repositories" takes "repositories[1].gun").
func problemsOf(errs []error, sub bool, fields ...string) error {
	var out []error
	for _, err := range errs {
		var fe *config.FieldError
		if !errors.As(err, &fe) {
			out = append(out, err)
			continue
		}
		for _, f := range fields {
			if fe.Field == f || sub && (strings.HasPrefix(fe.Field, f+".") || strings.HasPrefix(fe.Field, f+"[")) {
				out = append(out, err)
				break
			}
		}
	}
	return errors.Join(out...)
}

// looksLikeSource reports whether s is, or is on its way to be, a secret
// source's spelling; anything else may be a secret typed by mistake, and
// the field masks it.
func looksLikeSource(s string) bool {
	for _, w := range []string{"prompt", "env:", "file:"} {
		if strings.HasPrefix(w, s) || strings.HasPrefix(s, w) && w != "prompt" {
			return true
		}
	}
	return false
}

// checkFile is the forms' rule for the config file they write: a new file
// in a directory that exists.
func checkFile(dir, name string) error {
	field := func(format string, a ...any) error {
		return fmt.Errorf("config file: "+format, a...)
	}
	if strings.TrimSpace(name) == "" {
		return field("missing: name the file to write, like ceremony.yaml")
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if _, err := os.Lstat(p); err == nil {
		return field("%s exists; the forms never overwrite a file: choose another name", name)
	}
	if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
		return field("directory %s does not exist", filepath.Dir(p))
	}
	return nil
}

// filePath is the config file's absolute path.
func (d *formDraft) filePath() string {
	if filepath.IsAbs(d.file) {
		return filepath.Clean(d.file)
	}
	return filepath.Join(d.dir, d.file)
}
