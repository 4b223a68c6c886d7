package steps

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/newfile"
	"github.com/ceremony-dev/ceremony/transcript"
)

// The transcript key signs every line from the header on, so it is made
// before the journal exists: after preflight passes, before the header. Its
// intent cannot go in a journal that does not exist yet, so it goes in a
// small file beside it (IntentFile), removed once the header, which names
// the key, is durable. A run killed in between finds the file and adopts
// the key instead of calling its label a clash.

// IntentFile records, before the journal exists, that the transcript key is
// about to be generated.
const IntentFile = "transcript.intent"

// transcriptKey is the plan's key that signs the transcript.
func (p *Plan) transcriptKey() (Key, bool) {
	for _, k := range p.Keys() {
		if k.SignsTranscript {
			return k, true
		}
	}
	return Key{}, false
}

// readIntentFile adds the transcript key's pre-journal intent, if an
// interrupted start left one, to a new ceremony's history.
func (st *State) readIntentFile() error {
	b, err := os.ReadFile(st.outPath(IntentFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var in intentRecord
	if err := json.Unmarshal(b, &in); err != nil || in.Generate.Label == "" {
		return fmt.Errorf("%s is not an intent this tool wrote; remove it if no ceremony is under way here", st.outPath(IntentFile))
	}
	// Only the transcript key is made before the journal: the file may
	// exempt that key's label from the clash check, and no other.
	k, _ := st.plan.transcriptKey()
	if in.Generate.Label != k.Label || in.Generate.Type != string(k.Type) {
		return fmt.Errorf("%s: an interrupted start was making transcript key %q (%s), and the config names %q (%s): set transcript back to {label: %s, key: %s} to continue it, or remove that key from the token and the file to start over",
			st.outPath(IntentFile), in.Generate.Label, in.Generate.Type, k.Label, k.Type, in.Generate.Label, in.Generate.Type)
	}
	st.hist.intents[in.Generate.Label] = true
	return nil
}

// writeIntentFile is prepareGenerate's journal-less form.
func (st *State) writeIntentFile(k Key) error {
	if err := os.MkdirAll(st.cfg.OutputDir(), 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	b, err := json.Marshal(intentRecord{Generate: generateIntent{Label: k.Label, Type: string(k.Type)}})
	if err != nil {
		return err
	}
	if err := newfile.Write(st.outPath(IntentFile), b, 0o644, nil); err != nil {
		return fmt.Errorf("record the intent to generate %q: %w", k.Label, err)
	}
	return nil
}

// signer finds (or, for a new ceremony, makes) the transcript key and returns
// the journal's signer over it.
func (st *State) signer(ctx context.Context) (*transcript.KeySigner, error) {
	k, ok := st.plan.transcriptKey()
	if !ok {
		return nil, errors.New("the plan has no transcript key")
	}
	var key *hsm.Key
	var err error
	if !st.hist.resuming {
		// The transcript key is the ceremony's first key: its step's gate
		// comes now, before it is made, not after.
		if err := st.gate(ctx, st.plan.stepMaking(k.Label)); err != nil {
			return nil, err
		}
		key, _, err = st.key(ctx, k)
	} else {
		key, err = st.findKey(ctx, k)
	}
	if err != nil {
		return nil, fmt.Errorf("transcript key %q: %w", k.Label, err)
	}
	if want := st.hist.signerKeyID; want != "" {
		if id, _ := keyspec.KeyID(key.Public()); id != want {
			return nil, fmt.Errorf("transcript key %q on the token is %s, but the journal is signed by %s; it cannot be continued with another key", k.Label, id, want)
		}
	}
	st.keys[k.Label] = key
	return transcript.NewSigner(key, key.WithContext)
}

// signerRecord is the header's record of the transcript signer: what a
// verifier needs to check every line, and what the token said of the key.
func signerRecord(key *hsm.Key) (map[string]any, error) {
	id, err := keyspec.KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	pub, err := publicPEM(key.Public())
	if err != nil {
		return nil, err
	}
	return map[string]any{"keyId": id, "publicKey": pub, "label": key.Label, "ckaId": key.IDHex(),
		"type": string(key.Type), "attributes": key.Attrs}, nil
}

func publicPEM(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// clockRecord is what the header says of the host's clock: the kernel's
// clock source and whether the kernel believes it synchronised (adjtimex),
// so an auditor can weigh the recorded times.
func clockRecord(now time.Time) map[string]any {
	rec := map[string]any{"time": now.UTC().Format(time.RFC3339Nano)}
	if b, err := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource"); err == nil {
		rec["source"] = string(trimNL(b))
	}
	if synced, ok := clockSynchronised(); ok {
		rec["synchronised"] = synced
	}
	return rec
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
