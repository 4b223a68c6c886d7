package audit

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/trust"
)

// ca requires the transcript's CA certificate to be the one given.
func (a *auditor) ca() (string, error) {
	ca := a.rec.latest(steps.CAFile)
	if ca == nil || ca.cert == nil {
		return "", failAt(0, "the transcript records no CA certificate (%s)", steps.CAFile)
	}
	if !bytes.Equal(ca.cert.Raw, a.opts.CA.Raw) {
		return "", failAt(ca.line, "verifying against another CA: the transcript's %s is %s (SHA-256 %s), the CA given is %s (SHA-256 %s)",
			steps.CAFile, ca.cert.Subject, steps.Fingerprint(ca.cert.Raw), a.opts.CA.Subject, steps.Fingerprint(a.opts.CA.Raw))
	}
	if err := ca.cert.CheckSignatureFrom(ca.cert); err != nil || !ca.cert.IsCA {
		return "", failAt(ca.line, "%s is not a self-signed CA certificate", steps.CAFile)
	}
	return fmt.Sprintf("%s is the CA given: %s, SHA-256 %s", steps.CAFile, ca.cert.Subject, steps.Fingerprint(ca.cert.Raw)), nil
}

// signer requires the transcript key's certificate to be issued by the CA
// and to certify the key that signed every line.
func (a *auditor) signer() (string, error) {
	tc := a.rec.latest(steps.TranscriptCertFile)
	if tc == nil || tc.cert == nil {
		return "", failAt(0, "the transcript records no %s: nothing certifies the key that signed it", steps.TranscriptCertFile)
	}
	if err := pki.VerifyCAPinning(tc.cert, a.opts.CA); err != nil {
		return "", failAt(tc.line, "%s (issuer %s) was not issued by the CA given: %v", steps.TranscriptCertFile, tc.cert.Issuer, chainError(err))
	}
	if !keyspec.SamePublic(tc.cert.PublicKey, a.rec.v.SignerKey) {
		id, _ := keyspec.KeyID(tc.cert.PublicKey)
		return "", failAt(tc.line, "%s certifies key %s, but the transcript is signed by %s", steps.TranscriptCertFile, id, a.rec.v.SignerKeyID)
	}
	return fmt.Sprintf("%s, issued by the CA, certifies %s, the key that signed every line", steps.TranscriptCertFile, a.rec.v.SignerKeyID), nil
}

// chainError drops the wrapper pki puts around x509's reason.
func chainError(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// certificates checks every recorded certificate against its facts and its
// issuer, every CSR's signature and key, and that each recorded key is the
// key of a certificate its step recorded.
func (a *auditor) certificates() (string, error) {
	root := a.rec.latest(steps.RootCertFile)
	certs, csrs := 0, 0
	for _, art := range a.rec.artifacts {
		if art.cert == nil {
			continue
		}
		certs++
		if err := a.certificate(art, root); err != nil {
			return "", err
		}
	}
	for _, art := range a.rec.artifacts {
		if art.csr == nil {
			continue
		}
		csrs++
		if err := a.request(art); err != nil {
			return "", err
		}
	}
	if err := a.keysCertified(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d certificates and %d CSRs match their recorded facts; every CA-issued one chains to the CA", certs, csrs), nil
}

func (a *auditor) certificate(art *artifact, root *artifact) error {
	c := art.cert
	var f certFact
	ok, err := art.fact("certificate", art.Name, &f)
	switch {
	case err != nil:
		return err
	case !ok:
		return failAt(art.line, "%s is recorded without its certificate facts", art.Name)
	case f.SHA256 != sha256Hex(c.Raw):
		return failAt(art.line, "%s: the recorded sha256 %s is not that of the certificate (%s)", art.Name, f.SHA256, sha256Hex(c.Raw))
	}
	if selfSigned(art.Name) {
		if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
			return failAt(art.line, "%s is not self-signed: %v", art.Name, err)
		}
		return nil
	}
	if err := pki.VerifyCAPinning(c, a.opts.CA); err != nil {
		return failAt(art.line, "%s (issuer %s) does not chain to the CA: %v", art.Name, c.Issuer, chainError(err))
	}
	if strings.HasPrefix(art.Name, steps.ReposDir+"/") {
		return repoCert(art, root)
	}
	return nil
}

// selfSigned names the certificates the ceremony signs with their own key.
func selfSigned(name string) bool { return name == steps.CAFile || name == steps.RootCertFile }

// repoCert requires a repository certificate to name its GUN and certify
// the root key, as notary init needs.
func repoCert(art *artifact, root *artifact) error {
	gun, _ := art.entry.Inputs["gun"].(string)
	c := art.cert
	switch {
	case gun == "" || art.Name != steps.RepoCertFile(gun):
		return failAt(art.line, "%s is recorded by step %s, which certifies repository %q", art.Name, stepID(art.entry), gun)
	case c.Subject.CommonName != gun:
		return failAt(art.line, "%s has CN %q, its repository is %s", art.Name, c.Subject.CommonName, gun)
	case root == nil || root.cert == nil:
		return failAt(art.line, "%s cannot be checked against the root key: the transcript records no %s", art.Name, steps.RootCertFile)
	case !keyspec.SamePublic(c.PublicKey, root.cert.PublicKey):
		return failAt(art.line, "%s certifies key %s, not the root key of %s (%s)", art.Name, spkiHex(c), steps.RootCertFile, spkiHex(root.cert))
	}
	return nil
}

// request checks a CSR: its signature (parsing checked it), its recorded
// digest, and that it is over the key of the certificate issued from it.
func (a *auditor) request(art *artifact) error {
	stem := strings.TrimSuffix(art.Name, path.Ext(art.Name))
	var issued *artifact
	for _, other := range a.rec.artifacts {
		if other.entry == art.entry && other.cert != nil && strings.TrimSuffix(other.Name, path.Ext(other.Name)) == stem {
			issued = other
		}
	}
	if issued == nil {
		return failAt(art.line, "%s: its step recorded no certificate issued from it", art.Name)
	}
	var sum string
	if ok, err := issued.fact("csrSha256", issued.Name, &sum); err != nil {
		return err
	} else if ok && sum != sha256Hex(art.csr.Raw) {
		return failAt(art.line, "%s: the recorded sha256 %s is not that of the CSR (%s)", art.Name, sum, sha256Hex(art.csr.Raw))
	}
	if !keyspec.SamePublic(art.csr.PublicKey, issued.cert.PublicKey) {
		return failAt(art.line, "%s is over key %s, but %s certifies %s", art.Name, sha256Hex(art.csr.RawSubjectPublicKeyInfo), issued.Name, spkiHex(issued.cert))
	}
	return nil
}

// keysCertified requires each key a step recorded to be the key of a
// certificate the same step recorded, when it recorded any.
func (a *auditor) keysCertified() error {
	for i := range a.rec.v.Entries {
		e := &a.rec.v.Entries[i]
		var spkis []string
		for _, art := range a.rec.artifacts {
			if art.entry == e && art.cert != nil {
				spkis = append(spkis, spkiHex(art.cert))
			}
		}
		if len(spkis) == 0 {
			continue
		}
		facts, err := factsOf(e)
		if err != nil {
			return err
		}
		keys, err := keyFacts(facts)
		if err != nil {
			return failAt(e.Seq+1, "step %s: %v", stepID(e), err)
		}
		for _, name := range slices.Sorted(maps.Keys(keys)) {
			k := keys[name]
			if !slices.Contains(spkis, k.SPKISHA256) {
				return failAt(e.Seq+1, "step %s: the %s %q recorded with SPKI sha256 %s is not the key of any certificate the step recorded", stepID(e), name, k.Label, k.SPKISHA256)
			}
		}
	}
	return nil
}

// rootJSON replays notary's client check on every root.json the ceremony
// recorded, with the CA pinned for its GUN.
func (a *auditor) rootJSON() (string, error) {
	n := 0
	for _, art := range a.rec.artifacts {
		gun, ok := rootJSONGUN(art.Name)
		if !ok {
			continue
		}
		if err := trust.ValidateRootJSON(gun, art.Content, a.opts.CA); err != nil {
			return "", failAt(art.line, "%s: %v", art.Name, err)
		}
		a.res.Ceremony.markValid(gun)
		n++
	}
	if n == 0 {
		return "no root.json recorded (the ceremony published nothing)", nil
	}
	return fmt.Sprintf("notary's own check (CA pinned, TOFU off) accepts all %d recorded root.json", n), nil
}

// rootJSONGUN is the GUN of an artifact named notary/<gun>/root.json.
func rootJSONGUN(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "notary/")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "/root.json")
}

// artifacts compares every file the transcript recorded in the output
// directory with the last content recorded under its name.
func (a *auditor) artifacts() (string, error) {
	dir := a.opts.ArtifactsDir
	if dir == "" {
		return "not asked for (--artifacts DIR compares the files on disk)", nil
	}
	seen := map[string]bool{}
	for i := len(a.rec.artifacts) - 1; i >= 0; i-- {
		art := a.rec.artifacts[i]
		if seen[art.Name] || strings.HasPrefix(art.Name, "notary/") {
			continue
		}
		seen[art.Name] = true
		if err := onDisk(dir, art); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d files in %s have the SHA-256 the transcript recorded", len(seen), dir), nil
}

func onDisk(dir string, art *artifact) error {
	if !filepath.IsLocal(art.Name) {
		return failAt(art.line, "artifact name %q is not a path inside the output directory", art.Name)
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(art.Name)))
	if errors.Is(err, os.ErrNotExist) {
		return failAt(0, "%s is missing from %s (the transcript records it at line %d)", art.Name, dir, art.line)
	}
	if err != nil {
		return failAt(0, "%s: %v", art.Name, err)
	}
	if got, want := sha256Hex(b), art.Digest["sha256"]; got != want {
		return failAt(0, "%s in %s has SHA-256 %s, the transcript recorded %s at line %d: the file was changed", art.Name, dir, got, want, art.line)
	}
	return nil
}

func spkiHex(c *x509.Certificate) string { return sha256Hex(c.RawSubjectPublicKeyInfo) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
