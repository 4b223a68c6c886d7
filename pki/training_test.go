package pki

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/theupdateframework/notary/trustpinning"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"
)

// TestTrainingMark: with Request.Training every profile adds
// O=TRAINING - NOT FOR PRODUCTION and keeps its CN, zlint stays clean (the
// issuance lints before and after signing), and notary still accepts the
// chain: the repository certificate's CN is the GUN, CA pinning holds.
func TestTrainingMark(t *testing.T) {
	ctx := context.Background()
	caKey, rootKey, tKey := testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP384), testenv.SoftKey(t, keyspec.ECDSAP256)
	r := Request{Now: testNow, Rand: rand.Reader, Training: true}
	subject, err := ParseSubject("CN=Docker Notary CA,C=DE")
	if err != nil {
		t.Fatal(err)
	}
	caReq := r
	caReq.Subject = subject
	ca, err := IssueCA(ctx, caKey, caReq)
	if err != nil {
		t.Fatal(err)
	}
	root, err := IssueRoot(ctx, rootKey, csrFor(t, rootKey, RootCommonName), r)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := IssueRepo(ctx, ca, caKey, csrFor(t, rootKey, testGUN), testGUN, r)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := IssueTranscript(ctx, ca, caKey, csrFor(t, tKey, TranscriptCommonName), r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cert *x509.Certificate
		cn   string
	}{{ca, "Docker Notary CA"}, {root, RootCommonName}, {repo, testGUN}, {tc, TranscriptCommonName}} {
		if !slices.Equal(c.cert.Subject.Organization, []string{TrainingOrganization}) || c.cert.Subject.CommonName != c.cn {
			t.Errorf("subject %s, want CN=%s with O=%s", c.cert.Subject, c.cn, TrainingOrganization)
		}
		if err := utils.ValidateCertificate(c.cert, true); err != nil {
			t.Errorf("%s: notary's ValidateCertificate: %v", c.cert.Subject, err)
		}
	}
	if ca.Subject.Country[0] != "DE" {
		t.Errorf("the CA lost its configured attributes: %s", ca.Subject)
	}
	if !trustpinning.MatchCNToGun(repo.Subject.CommonName, data.GUN(testGUN)) {
		t.Error("the training repository certificate's CN does not match the GUN")
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, CertPEM(ca), 0o600); err != nil {
		t.Fatal(err)
	}
	check, err := trustpinning.NewTrustPinChecker(trustpinning.TrustPinConfig{CA: map[string]string{testGUN: caFile}, DisableTOFU: true}, data.GUN(testGUN), true)
	if err != nil {
		t.Fatal(err)
	}
	if !check(repo, nil) {
		t.Error("notary's CA pinning rejects the training repository certificate")
	}

	// Without Training nothing changes: the root's subject is the CSR's.
	plain, err := IssueRoot(ctx, rootKey, csrFor(t, rootKey, RootCommonName), req(0))
	if err != nil || plain.Subject.String() != "CN=root" {
		t.Errorf("root without training: %v, %v", plain.Subject, err)
	}
	// A CA subject that names another organization is refused, not changed.
	other, _ := ParseSubject("CN=CA,O=Acme")
	caReq.Subject = other
	if _, err := IssueCA(ctx, caKey, caReq); err == nil || !strings.Contains(err.Error(), TrainingOrganization) {
		t.Errorf("training CA with O=Acme: %v", err)
	}
}
