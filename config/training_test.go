package config

import (
	"strings"
	"testing"
)

// TestTraining: `training: true` is read, and a CA subject that names an
// organization other than the training mark is refused before the ceremony.
func TestTraining(t *testing.T) {
	dir := contractDir(t)
	c, err := Parse([]byte(contract+"training: true\n"), dir)
	if err != nil || !c.Training {
		t.Fatalf("training: %v, %+v", err, c)
	}
	if c, err := Parse([]byte(contract), dir); err != nil || c.Training {
		t.Fatalf("default: %v, training %v", err, c.Training)
	}
	bad := strings.Replace(contract, `subject: "CN=Docker Notary CA"`, `subject: "CN=Docker Notary CA,O=Acme"`, 1) + "training: true\n"
	if _, err := Parse([]byte(bad), dir); err == nil || !strings.Contains(err.Error(), "ca.subject: a training ceremony's O is") {
		t.Fatalf("training with O=Acme: %v", err)
	}
	ok := strings.Replace(contract, `subject: "CN=Docker Notary CA"`, `subject: "CN=Docker Notary CA,O=TRAINING - NOT FOR PRODUCTION"`, 1) + "training: true\n"
	if _, err := Parse([]byte(ok), dir); err != nil {
		t.Fatalf("training with the mark already in the subject: %v", err)
	}
}
