package ui

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/steps"
)

func testPlan(t *testing.T) *steps.Plan {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "me.pub"), []byte("x"), 0o644)
	cfg, err := config.Parse([]byte("hsm: {token: t, pin: env:P}\nca: {label: myca, key: rsa-3072}\nrepositories: [{gun: docker.io/a/x}]\n"+
		"notary: {url: 'https://n', trust_dir: t, targets_passphrase: env:T, snapshot_passphrase: env:S}\n"+
		"delegations: [{gun: docker.io/a/x, role: targets/me, cert: me.pub, paths: [releases/]}]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	return steps.NewPlan(cfg)
}

func TestWritePlan(t *testing.T) {
	p := testPlan(t)
	tests := []struct {
		format     string
		want, lack []string
	}{
		{"text", []string{"0. Preflight (preflight)", "1. Create the CA (ca, irreversible)", `makes key: CA "myca" (rsa-3072) in the token`,
			"writes: transcript.pem over key \"transcript\", issued by ca.pem", "writes: root.csr, root.crt over key \"root\", self-signed",
			"replaces: openssl ca", "publishes: docker.io/a/x", "--paths releases/ -p"},
			[]string{"(repo:docker.io/a/x, irreversible)", "`"}},
		{"md", []string{"# Ceremony plan (root)", "## 1. Create the CA (irreversible)", "`ca`: Generate the CA key pair",
			"- replaces: `ucl generate -t RSA -n myca`", "- publishes: `docker.io/a/x`", "- [ ] done, checked by the witnesses"},
			[]string{"## 4. Repository certificate for docker.io/a/x (irreversible)"}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := WritePlan(&b, p, tc.format); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("%s plan lacks %q:\n%s", tc.format, w, b.String())
				}
			}
			for _, l := range tc.lack {
				if strings.Contains(b.String(), l) {
					t.Errorf("%s plan holds %q:\n%s", tc.format, l, b.String())
				}
			}
		})
	}
}

// TestWritePlanJSON: tools read every step with its declarations.
func TestWritePlanJSON(t *testing.T) {
	p := testPlan(t)
	var b bytes.Buffer
	if err := WritePlan(&b, p, "json"); err != nil {
		t.Fatal(err)
	}
	var doc planDoc
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Kind != steps.KindRoot || len(doc.Steps) != len(p.Steps) {
		t.Fatalf("kind %q, %d steps, want %d", doc.Kind, len(doc.Steps), len(p.Steps))
	}
	root := doc.Steps[3]
	if root.ID != "root" || !root.Irreversible || len(root.Keys) != 1 || root.Keys[0].Label != "root" ||
		strings.Join(root.Files, " ") != "root.csr root.crt" {
		t.Errorf("root step %+v", root)
	}
	last := doc.Steps[len(doc.Steps)-1]
	if last.Publishes != "docker.io/a/x" || len(last.Needs) != 2 || last.Inputs["role"] != "targets/me" {
		t.Errorf("delegation step %+v", last)
	}
}

func TestWritePlanUnknownFormat(t *testing.T) {
	err := WritePlan(&bytes.Buffer{}, testPlan(t), "pdf")
	if err == nil || !strings.Contains(err.Error(), "text, json, md") {
		t.Fatalf("WritePlan(pdf): %v", err)
	}
}
