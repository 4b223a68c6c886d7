package steps

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/transcript"
)

// make produces what step declares: its keys (found if an interrupted run
// of this ceremony made them, else generated), then its certificates
// (found on disk, else issued and written), each put in the run's
// artifacts for the steps that follow.
func (st *State) make(ctx context.Context, step *Step) (*Made, error) {
	m := newMade()
	for _, k := range step.Keys {
		key, adopted, err := st.key(ctx, k)
		if err != nil {
			return nil, err
		}
		m.keys[k.Label], m.adopted[k.Label] = key, adopted
		st.keys[k.Label] = key
	}
	for _, c := range step.Certs {
		if err := st.issue(ctx, c, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// restore finds again what a finished step made, creating nothing: its
// keys on the token and its files on disk. A finished step whose artifacts
// are gone cannot be resumed by guessing.
func (st *State) restore(ctx context.Context, step *Step) error {
	for _, k := range step.Keys {
		key, err := st.findKey(ctx, k)
		if errors.Is(err, hsm.ErrKeyNotFound) {
			return fmt.Errorf("%w key %q is not on token %q", errRestore, k.Label, st.sess.Token().Label)
		}
		if err != nil {
			return err
		}
		st.keys[k.Label] = key
	}
	for _, c := range step.Certs {
		cert, _, err := st.existingCert(c)
		if err != nil {
			return err
		}
		if cert == nil {
			return fmt.Errorf("%w %s is missing from %s", errRestore, c.File, st.cfg.OutputDir())
		}
		if old, err := st.existing(c.CSR.File); err != nil || (c.CSR.File != "" && old == nil) {
			return fmt.Errorf("%w %s is missing from %s (%v)", errRestore, c.CSR.File, st.cfg.OutputDir(), err)
		}
		st.certs[c.File] = cert
	}
	return nil
}

// errRestore is returned when the journal says a step finished but what it
// made is gone.
var errRestore = errors.New("the journal records this step as finished, but")

// key finds the declared key pair or generates it. Before generating it
// journals an intent, so that if the process dies between C_GenerateKeyPair
// and the step's entry, the next run adopts the key instead of tripping over
// its label, and the token never holds two.
func (st *State) key(ctx context.Context, k Key) (*hsm.Key, bool, error) {
	key, err := st.findKey(ctx, k)
	switch {
	case err == nil && st.generated[k.Label]:
		return key, false, nil // made by this run before the journal existed: the transcript key
	case err == nil:
		st.progress("found key %q (id %s) made by this ceremony before it was interrupted", k.Label, key.IDHex())
		return key, true, nil
	case !errors.Is(err, hsm.ErrKeyNotFound):
		return nil, false, err
	}
	if err := st.prepareGenerate(ctx, k); err != nil {
		return nil, false, err
	}
	st.point("before-generate-" + k.Label)
	err = st.during(ctx, fmt.Sprintf("generating %s key %q inside token %q", k.Type, k.Label, st.sess.Token().Label), func() error {
		key, err = st.sess.GenerateKey(ctx, hsm.KeySpec{Label: k.Label, Type: k.Type})
		return err
	})
	if err != nil {
		return nil, false, err
	}
	st.generated[k.Label] = true
	st.point("after-generate-" + k.Label)
	st.progress("key %q generated (id %s); the token reports it sensitive, never extractable, generated on the token", k.Label, key.IDHex())
	return key, false, nil
}

// findKey finds a key this ceremony made: under a label it journaled an
// intent for, of the declared type, still safe, and able to sign. A key
// under any other label is a clash.
func (st *State) findKey(ctx context.Context, k Key) (*hsm.Key, error) {
	key, err := st.sess.FindKey(ctx, hsm.KeySelector{Label: k.Label})
	if err != nil {
		return nil, err
	}
	switch {
	case !st.hist.intents[k.Label]:
		return nil, fmt.Errorf("%w: token %q already holds a key labelled %q that this ceremony did not make; choose another label", hsm.ErrLabelInUse, st.sess.Token().Label, k.Label)
	case key.Type != k.Type:
		return nil, fmt.Errorf("key %q on the token is %s, the config asks for %s", k.Label, key.Type, k.Type)
	case st.hist.keys[k.Label] != "" && st.hist.keys[k.Label] != spkiSHA256(key):
		return nil, fmt.Errorf("key %q on token %q is not the key the journal recorded (public key SHA-256 %s, recorded %s): it was replaced; put the original token back, or start a new ceremony in a new output directory",
			k.Label, st.sess.Token().Label, spkiSHA256(key), st.hist.keys[k.Label])
	}
	if err := key.Attrs.Safe(); err != nil {
		return nil, fmt.Errorf("key %q: %w", k.Label, err)
	}
	if err := hsm.SelfTest(ctx, key); err != nil {
		return nil, fmt.Errorf("key %q: %w", k.Label, err)
	}
	return key, nil
}

// prepareGenerate journals the intent to generate k, or, when an earlier
// run had journaled it and died inside C_GenerateKeyPair, removes a public
// half it may have left alone.
func (st *State) prepareGenerate(ctx context.Context, k Key) error {
	if st.hist.intents[k.Label] {
		n, err := st.sess.RemoveOrphanPublicKeys(ctx, k.Label)
		if err != nil {
			return err
		}
		if n > 0 {
			st.progress("removed %d public key object(s) labelled %q left without a private key by the interruption", n, k.Label)
		}
		return nil
	}
	if st.journal == nil {
		if err := st.writeIntentFile(k); err != nil {
			return err
		}
		st.hist.intents[k.Label] = true
		return nil
	}
	intent := intentRecord{Generate: generateIntent{Label: k.Label, Type: string(k.Type)}}
	if _, err := st.journal.Append(ctx, transcript.Entry{
		Kind:    transcript.KindIntent,
		Step:    &transcript.StepRef{ID: string(st.step.ID), Title: st.step.Title},
		Started: st.now().UTC(),
		Inputs:  intent.inputs(),
	}); err != nil {
		return err
	}
	st.hist.intents[k.Label] = true
	return nil
}

// issue produces one declared certificate: found in its file if an earlier
// run wrote it, else issued by its profile with the token's keys (after its
// CSR, when it takes one), written, and stored on the token if declared.
func (st *State) issue(ctx context.Context, c Cert, m *Made) error {
	key, signer := st.keys[c.Key], st.keys[c.IssuerKey]
	if key == nil || signer == nil {
		return fmt.Errorf("%s: the keys %q and %q have not been made", c.File, c.Key, c.IssuerKey)
	}
	var issuerCert *x509.Certificate
	if c.Issuer != "" {
		if issuerCert = st.certs[c.Issuer]; issuerCert == nil {
			return fmt.Errorf("%s: its issuer %s has not been issued", c.File, c.Issuer)
		}
	}
	cert, certPEM, err := st.existingCert(c)
	if err != nil {
		return err
	}
	in := Issuance{Signer: signer.WithContext(ctx), IssuerCert: issuerCert}
	// A CSR kept in a file is part of the record even when the certificate
	// was already issued; one kept in memory is made only to issue.
	if c.CSR.CN != "" && (cert == nil || c.CSR.File != "") {
		if in.CSR, err = st.csr(ctx, c, m); err != nil {
			return err
		}
	}
	if cert == nil {
		if cert, certPEM, err = st.newCert(ctx, c, in); err != nil {
			return err
		}
	}
	if c.Issuer != "" {
		if err := pki.VerifyCAPinning(cert, issuerCert); err != nil {
			return fmt.Errorf("%s: %w", c.File, err)
		}
	}
	m.certs[c.File], m.pem[c.File] = cert, certPEM
	m.order = append(m.order, c.File)
	st.certs[c.File] = cert
	if c.Store {
		// The token is not to hold a certificate whose file could vanish.
		if err := st.syncWritten(); err != nil {
			return err
		}
		if err := st.sess.StoreCertificate(ctx, key, cert); err != nil {
			return err
		}
		st.point("after-store-" + key.Label)
	}
	return nil
}

// newCert issues the certificate with the token's keys and writes it.
func (st *State) newCert(ctx context.Context, c Cert, in Issuance) (*x509.Certificate, []byte, error) {
	in.Request = pki.Request{Now: st.now(), Rand: st.sess.Rand(ctx), Training: st.cfg.Training}
	st.point("before-issue-" + c.File)
	cert, err := c.Issue(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	certPEM := pki.CertPEM(cert)
	if err := st.write(c.File, certPEM); err != nil {
		return nil, nil, err
	}
	st.point("after-write-" + c.File)
	return cert, certPEM, nil
}

// existingCert reads the certificate an interrupted run wrote, checking that
// it certifies the declared key; nil when there is none.
func (st *State) existingCert(c Cert) (*x509.Certificate, []byte, error) {
	old, err := st.existing(c.File)
	if old == nil || err != nil {
		return nil, nil, err
	}
	cert, err := pki.ParseCertPEM(old)
	if err != nil {
		return nil, nil, fmt.Errorf("%s from the interrupted run: %w", c.File, err)
	}
	if key := st.keys[c.Key]; key == nil || !keyspec.SamePublic(cert.PublicKey, key.Public()) {
		return nil, nil, fmt.Errorf("%s from the interrupted run certifies another key than %q", c.File, c.Key)
	}
	return cert, old, nil
}

// csr returns the declared CSR: from its file if an earlier run wrote it,
// else made with the key and written (when it has a file).
func (st *State) csr(ctx context.Context, c Cert, m *Made) (*x509.CertificateRequest, error) {
	key := st.keys[c.Key]
	old, err := st.existing(c.CSR.File)
	if err != nil {
		return nil, err
	}
	if old != nil {
		csr, err := pki.ParseCSRPEM(old)
		if err != nil {
			return nil, fmt.Errorf("%s from the interrupted run: %w", c.CSR.File, err)
		}
		if csr.Subject.CommonName != c.CSR.CN || !keyspec.SamePublic(csr.PublicKey, key.Public()) {
			return nil, fmt.Errorf("%s from the interrupted run is not CN=%s over key %q", c.CSR.File, c.CSR.CN, key.Label)
		}
		m.keepCSR(c, csr, old)
		return csr, nil
	}
	der, err := pki.NewCSR(key.WithContext(ctx), c.CSR.CN)
	if err != nil {
		return nil, err
	}
	csr, err := pki.ParseCSR(der)
	if err != nil {
		return nil, err
	}
	csrPEM := pki.CSRPEM(der)
	if c.CSR.File != "" {
		if err := st.write(c.CSR.File, csrPEM); err != nil {
			return nil, err
		}
		st.point("after-write-" + c.CSR.File)
	}
	m.keepCSR(c, csr, csrPEM)
	return csr, nil
}

func (m *Made) keepCSR(c Cert, csr *x509.CertificateRequest, csrPEM []byte) {
	m.csrs[c.File] = csr
	if c.CSR.File != "" {
		m.pem[c.CSR.File] = csrPEM
		m.order = append(m.order, c.CSR.File)
	}
}
