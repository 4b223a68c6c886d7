package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestPGPWords(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want string
	}{
		// The example the list's documentation reads aloud.
		{"documented example", "E58294F2E9A227486E8B061B31CC528FD7FA3F19",
			"topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa " +
				"afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless"},
		{"first and last of each list", "00000000FFFF", "aardvark adroitness aardvark adroitness Zulu Yucatan"},
		// A swapped pair changes which list each byte is read from.
		{"swapped pair", "0102", "absurd aftermath"},
		{"swapped back", "0201", "accrue adviser"},
		{"one byte", "A5", "reindeer"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		b, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(PGPWords(b), " "); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestPGPWordLists pins the lists: 256 distinct words each, none shared, and
// the SHA-256 another implementation publishes over "even words \n-joined,
// \n, odd words \n-joined", so a typo in a word cannot pass. (The lists are
// nearly alphabetical, not quite: "applicant" precedes "Apollo".)
func TestPGPWordLists(t *testing.T) {
	seen := map[string]bool{}
	for name, list := range map[string][256]string{"even": pgpEven, "odd": pgpOdd} {
		for i, w := range list {
			if w == "" || seen[strings.ToLower(w)] {
				t.Errorf("%s word %02X %q is empty or repeated", name, i, w)
			}
			seen[strings.ToLower(w)] = true
		}
	}
	if len(seen) != 512 {
		t.Errorf("%d distinct words, want 512", len(seen))
	}
	joined := strings.Join(pgpEven[:], "\n") + "\n" + strings.Join(pgpOdd[:], "\n")
	const want = "e9b7b0052233a74aa56724ed3f79c272036aed68d8f4c0856e833c8043b9ac62"
	if got := sha256.Sum256([]byte(joined)); hex.EncodeToString(got[:]) != want {
		t.Errorf("word lists hash to %x, want %s", got, want)
	}
}
