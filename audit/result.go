// Package audit checks a ceremony's transcript offline, with the CA
// certificate as the only trust anchor, and tells what the ceremony did:
// `ceremony verify`, `ceremony report` and the wizard's replay all read its
// Result. It holds plain data only, so the UI can render it without touching
// a token, a server or a key.
package audit

import "time"

// Result is what verification found: every check in the order it ran, the
// first failure, and the ceremony as the transcript tells it.
type Result struct {
	Transcript string   `json:"transcript"`
	OK         bool     `json:"ok"`
	Failure    *Failure `json:"failure,omitempty"`
	Checks     []Check  `json:"checks"`
	Ceremony   Ceremony `json:"ceremony"`
	// Witnesses are the valid witness signatures found after the seal.
	Witnesses []Witness `json:"witnesses"`
	// Unanchored: the transcript was read without a CA (Read): its lines
	// hold among themselves (signatures by the header's key, the chain, the
	// seal), but nothing ties that key to a CA anyone trusts. OK is false.
	Unanchored bool `json:"unanchored,omitempty"`
	// Unfinished: the ceremony stopped before its seal. The transcript
	// check fails, but every complete line held (signed, chained) and the
	// Ceremony is what they record, for an auditor looking into why it
	// stopped. OK is false.
	Unfinished bool `json:"unfinished,omitempty"`
}

// Failure is the first check that did not hold. Line counts from 1; 0 when
// the check is not about one line (the CA given, a file on disk).
type Failure struct {
	Check   string `json:"check"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// Check is one verification, passed or not, in words an auditor reads.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Ceremony is what the transcript says happened, where and by whom.
type Ceremony struct {
	Tool         string            `json:"tool"`
	Version      string            `json:"version"`
	Kind         string            `json:"kind"`
	ConfigDigest string            `json:"configDigest"`
	Operator     string            `json:"operator,omitempty"`
	Started      time.Time         `json:"started"`
	Sealed       time.Time         `json:"sealed,omitzero"`
	Token        Token             `json:"token"`
	Module       Module            `json:"module"`
	Clock        Clock             `json:"clock"`
	Signer       Signer            `json:"signer"`
	Plan         []PlannedStep     `json:"plan"`
	Events       []Event           `json:"events"`
	Keys         []Key             `json:"keys"`
	Certificates []Certificate     `json:"certificates"`
	Repositories []Repository      `json:"repositories"`
	Declared     []DeclaredWitness `json:"declaredWitnesses"`
	// Training: the header marks a rehearsal (config `training: true`,
	// `ceremony demo`); its certificates carry O=TRAINING - NOT FOR PRODUCTION.
	Training bool `json:"training,omitempty"`
}

// Token is the PKCS#11 token the keys live in.
type Token struct {
	Label, Manufacturer, Model, Serial, Firmware string
	Flags                                        []string
}

// Module is the PKCS#11 library the ceremony loaded.
type Module struct {
	Path, SHA256, Library string
}

// Clock is the host's clock as the header recorded it.
type Clock struct {
	Source       string
	Synchronised *bool // nil when the host could not tell
}

// Signer is the transcript key.
type Signer struct {
	KeyID, Label, CKAID, Type string
	// Certificate is the SHA-256 of the CA-issued transcript certificate.
	Certificate string
}

// PlannedStep is one step of the plan the witnesses reviewed.
type PlannedStep struct {
	ID, Title string
	Seed      []string
}

// Event is one transcript entry, in order: a step finished or failed, an
// intent, a resume, a deviation, the seal.
type Event struct {
	Line     int
	Kind     string // header, step, failure, intent, resume, deviation, seal
	StepID   string
	Title    string
	Attempt  int
	Started  time.Time
	Finished time.Time
	Summary  string // a step's summary, a deviation's text
	Error    string // a failure's one line
	// By is who reported a deviation ("" for the operator); the entry's
	// operator for other kinds.
	By string `json:",omitempty"`
	// Inputs are what a step entry (step, failure, intent) recorded it ran
	// with; nil for the header, whose inputs the Ceremony tells.
	Inputs map[string]any `json:",omitempty"`
	// Files are the artifacts the entry recorded, by name and SHA-256.
	Files []File `json:",omitempty"`
	// Verification is what verification established of this line.
	Verification LineCheck
}

// File is an artifact a transcript entry recorded.
type File struct {
	Name, SHA256 string
}

// LineCheck is what verification established of one transcript line.
type LineCheck struct {
	Status LineStatus
	Detail string // in words: which checks hold for the line, or what failed
	// Checks are the checks about what the line recorded that hold
	// (certificates, root.json, artifacts, ...), beyond its signature.
	Checks []string `json:",omitempty"`
}

// LineStatus is the verdict on one line.
type LineStatus string

const (
	// LineVerified: signed by the transcript key the CA certified, chained
	// to the line before, and every check about what the line recorded
	// (its certificates, root.json, files on disk when asked) holds.
	LineVerified LineStatus = "verified"
	// LineFailed: the first failure is about this line.
	LineFailed LineStatus = "failed"
	// LineSigned: the signature and the chain hold, but nothing anchors the
	// transcript key in the CA: no CA was given, or its checks failed.
	LineSigned LineStatus = "signed"
	// LineIncomplete: signed and anchored, but a check about what the line
	// recorded did not pass (verification stopped first, or failed
	// elsewhere in the same check).
	LineIncomplete LineStatus = "incomplete"
)

// Key is a key pair the ceremony made in the token, as the token reported it.
type Key struct {
	StepID, Label, Type, CKAID, SPKISHA256 string
	Attributes                             map[string]bool
	Adopted                                bool // found after an interruption rather than generated in that run
}

// Certificate is a certificate the ceremony issued, inlined in the transcript.
type Certificate struct {
	File, Subject, Issuer, Serial string
	NotBefore, NotAfter           time.Time
	SHA256                        string // of the DER: what `openssl x509 -fingerprint -sha256` shows
	Fingerprint                   string // SHA256 in groups of four hex digits, for reading aloud
	ChainsToCA                    bool   // false for the self-signed root.crt, which does not chain
	StepID                        string `json:",omitempty"` // the step that recorded it
	Line                          int    `json:",omitempty"` // the line that recorded it
}

// Repository is a GUN the ceremony published.
type Repository struct {
	GUN         string
	RootVersion int
	RootKeyID   string
	// RootJSONValid: notary's own client check (trustpinning.ValidateRoot
	// with the CA pinned) accepted the recorded root.json offline.
	RootJSONValid bool
}

// DeclaredWitness is a witness the config declared before the ceremony.
type DeclaredWitness struct {
	Name, Role, KeyID string
}

// Witness is a valid witness signature after the seal.
type Witness struct {
	Name, Role, KeyID, Statement string
	Time                         time.Time
	Line                         int
	Declared                     bool // the key is one the header declared
}
