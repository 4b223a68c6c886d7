package steps

import (
	"errors"
	"fmt"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

// Check holds a plan to what the runner relies on, before anything runs:
// every step once; each key label, output file and certificate declared
// once; a certificate's keys and issuer, and a step's needs, made earlier
// in the plan (or, for keys, in the same step); the issuer key the key of
// the issuing certificate; every label one a token takes. A newcomer's
// mistake in a new step is caught here, not after the first key is made.
func (p *Plan) Check() error {
	c := planCheck{ids: map[ID]bool{}, labels: map[string]ID{}, files: map[string]ID{}, certKey: map[string]string{}}
	for _, s := range p.Steps {
		c.step(s)
	}
	return errors.Join(c.problems...)
}

type planCheck struct {
	ids      map[ID]bool
	labels   map[string]ID     // key label → the step that makes it
	files    map[string]ID     // output file → the step that writes it
	certKey  map[string]string // certificate file → the label of the key it certifies
	problems []error
}

func (c *planCheck) add(s Step, format string, a ...any) {
	c.problems = append(c.problems, fmt.Errorf("plan: step %s: %s", s.ID, fmt.Sprintf(format, a...)))
}

func (c *planCheck) step(s Step) {
	if c.ids[s.ID] {
		c.add(s, "is in the plan twice")
	}
	for _, n := range s.Needs {
		if !c.ids[n] {
			c.add(s, "needs step %s, which does not come before it", n)
		}
	}
	c.ids[s.ID] = true
	for _, k := range s.Keys {
		c.key(s, k)
	}
	for _, cert := range s.Certs {
		c.cert(s, cert)
	}
}

func (c *planCheck) key(s Step, k Key) {
	if err := keyspec.CheckLabel(k.Label); err != nil {
		c.add(s, "key: %v", err)
	}
	if err := k.Type.Check(); err != nil {
		c.add(s, "key %q: %v", k.Label, err)
	}
	if other, ok := c.labels[k.Label]; ok {
		c.add(s, "key %q is made by step %s too; every key needs its own label", k.Label, other)
	}
	c.labels[k.Label] = s.ID
}

func (c *planCheck) cert(s Step, cert Cert) {
	for _, label := range []string{cert.Key, cert.IssuerKey} {
		if _, ok := c.labels[label]; !ok {
			c.add(s, "%s: key %q is not made by this step or an earlier one", cert.File, label)
		}
	}
	if cert.Issuer != "" {
		if key, ok := c.certKey[cert.Issuer]; !ok {
			c.add(s, "%s: its issuer %s is not issued by an earlier step", cert.File, cert.Issuer)
		} else if key != cert.IssuerKey {
			c.add(s, "%s: issuer key %q is not the key of its issuer %s (%q)", cert.File, cert.IssuerKey, cert.Issuer, key)
		}
	} else if cert.IssuerKey != cert.Key {
		c.add(s, "%s: self-signed, so its issuer key must be its own key %q", cert.File, cert.Key)
	}
	if cert.Issue == nil {
		c.add(s, "%s: no profile to issue it", cert.File)
	}
	c.file(s, cert.File)
	if cert.CSR.File != "" {
		c.file(s, cert.CSR.File)
	}
	c.certKey[cert.File] = cert.Key
}

func (c *planCheck) file(s Step, name string) {
	if other, ok := c.files[name]; ok {
		c.add(s, "%s is written by step %s too", name, other)
	}
	c.files[name] = s.ID
}
