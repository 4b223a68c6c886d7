package steps

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ceremony-dev/ceremony/transcript"
)

// history is what an existing journal says about the ceremony: read once,
// typed, before the run goes on.
type history struct {
	// intents are the key labels the ceremony set out to generate; a key
	// under such a label is ours to adopt, any other is a clash.
	intents map[string]bool
	// done holds the steps that finished.
	done map[ID]bool
	// attempts counts each step's finished and failed tries.
	attempts map[ID]int
	// configDigest is the config in force: the header's, or the last
	// resume's that recorded a changed config.
	configDigest string
	// finished holds the journal entries of finished steps, by ID.
	finished map[ID]transcript.Entry
	order    []ID // finished steps in journal order
	sealed   *transcript.Entry
	// resuming is true when a journal exists; signerKeyID is the key its
	// lines are signed with, from the header.
	resuming    bool
	training    bool // the header's: a rehearsal stays one
	signerKeyID string
	signerLabel string
	// keys are the public keys (SPKI SHA-256) finished steps recorded, by
	// label: a key found later under the label must be the same key.
	keys map[string]string
}

func newHistory() *history {
	return &history{intents: map[string]bool{}, done: map[ID]bool{}, attempts: map[ID]int{}, finished: map[ID]transcript.Entry{},
		keys: map[string]string{}}
}

// intentRecord is an intent entry's inputs: the key about to be generated.
type intentRecord struct {
	Generate generateIntent `json:"generate"`
}

type generateIntent struct {
	Label string `json:"label"`
	Type  string `json:"type"`
}

func (r intentRecord) inputs() map[string]any {
	return map[string]any{"generate": map[string]any{"label": r.Generate.Label, "type": r.Generate.Type}}
}

// headerRecord is the part of the header's inputs a resume reads.
type headerRecord struct {
	ConfigDigest string `json:"configDigest"`
	Training     bool   `json:"training"`
	Signer       struct {
		KeyID string `json:"keyId"`
		Label string `json:"label"`
	} `json:"signer"`
}

// resumeRecord is the part of a resume entry's results a resume reads.
type resumeRecord struct {
	ConfigDigest string `json:"configDigest"`
}

// loadHistory reads a journal's entries into a history.
func loadHistory(entries []transcript.Entry) (*history, error) {
	if len(entries) == 0 || entries[0].Kind != transcript.KindHeader {
		return nil, fmt.Errorf("it has no ceremony header; it is not a journal this tool can resume")
	}
	h := newHistory()
	var head headerRecord
	if err := decode(entries[0].Inputs, &head); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h.configDigest, h.resuming, h.training = head.ConfigDigest, true, head.Training
	// The header names the transcript key, made before it: the key's intent.
	h.signerKeyID, h.signerLabel = head.Signer.KeyID, head.Signer.Label
	if head.Signer.Label != "" {
		h.intents[head.Signer.Label] = true
	}
	for i, e := range entries[1:] {
		if err := h.add(e); err != nil {
			return nil, fmt.Errorf("entry %d (%s): %w", i+1, e.Kind, err)
		}
	}
	return h, nil
}

func (h *history) add(e transcript.Entry) error {
	switch e.Kind {
	case transcript.KindIntent:
		var in intentRecord
		if err := decode(e.Inputs, &in); err != nil {
			return err
		}
		h.intents[in.Generate.Label] = true
	case transcript.KindStep, transcript.KindFailure:
		if e.Step == nil {
			return fmt.Errorf("no step named")
		}
	}
	switch e.Kind {
	case transcript.KindStep:
		id := ID(e.Step.ID)
		if !h.done[id] {
			h.order = append(h.order, id)
		}
		h.done[id], h.finished[id] = true, e
		h.attempts[id]++
		h.addKeys(e.Results)
	case transcript.KindFailure:
		h.attempts[ID(e.Step.ID)]++
	case transcript.KindResume:
		var r resumeRecord
		if len(e.Results) > 0 {
			if err := json.Unmarshal(e.Results, &r); err != nil {
				return err
			}
		}
		if r.ConfigDigest != "" {
			h.configDigest = r.ConfigDigest
		}
	case transcript.KindSeal:
		h.sealed = &e
	}
	return nil
}

// keyRecord is the part of a step's key facts (keyFacts) a resume reads.
type keyRecord struct {
	Label string `json:"label"`
	SPKI  string `json:"spkiSha256"`
}

// addKeys notes the keys a finished step's results record.
func (h *history) addKeys(results json.RawMessage) {
	var facts map[string]json.RawMessage
	if json.Unmarshal(results, &facts) != nil {
		return
	}
	for _, f := range facts {
		var k keyRecord
		if json.Unmarshal(f, &k) == nil && k.Label != "" && k.SPKI != "" {
			h.keys[k.Label] = k.SPKI
		}
	}
}

// allDone reports whether every step of ids has finished.
func (h *history) allDone(ids []ID) bool {
	for _, id := range ids {
		if !h.done[id] {
			return false
		}
	}
	return true
}

// sealedAt says when a finished ceremony was sealed.
func (h *history) sealedAt() string { return h.sealed.Started.Format(time.RFC3339) }

// decode reads a journal map into a typed record.
func decode(m map[string]any, into any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}
