package hsm

import (
	"context"
	"fmt"
	"strings"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/miekg/pkcs11"
)

// TokenInfo describes one token as C_GetTokenInfo reports it. SlotID is only
// valid for this process: SoftHSM2 and others renumber slots on restart, so a
// token is always chosen by label (and serial where labels clash).
type TokenInfo struct {
	SlotID       uint
	Label        string
	Manufacturer string
	Model        string
	Serial       string
	Firmware     string
	Flags        uint
	// Err is set when the slot could not be read (C_GetTokenInfo failed):
	// one unreadable slot must not keep an operator from a healthy token.
	Err error
}

// Initialized reports whether the token has been initialised (C_InitToken).
func (t TokenInfo) Initialized() bool {
	return t.Err == nil && t.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0
}

// FlagNames spells out the flags an operator cares about.
func (t TokenInfo) FlagNames() []string {
	names := []struct {
		flag uint
		name string
	}{
		{pkcs11.CKF_TOKEN_INITIALIZED, "initialized"},
		{pkcs11.CKF_LOGIN_REQUIRED, "login-required"},
		{pkcs11.CKF_USER_PIN_INITIALIZED, "user-pin-set"},
		{pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH, "pin-pad"},
		{pkcs11.CKF_RNG, "rng"},
		{pkcs11.CKF_WRITE_PROTECTED, "write-protected"},
		{pkcs11.CKF_USER_PIN_COUNT_LOW, "user-pin-count-low"},
		{pkcs11.CKF_USER_PIN_FINAL_TRY, "user-pin-final-try"},
		{pkcs11.CKF_USER_PIN_LOCKED, "user-pin-locked"},
		{pkcs11.CKF_USER_PIN_TO_BE_CHANGED, "user-pin-to-be-changed"},
	}
	var out []string
	for _, n := range names {
		if t.Flags&n.flag != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (t TokenInfo) String() string {
	return fmt.Sprintf("%q (serial %s, %s %s, slot %d)", t.Label, t.Serial, t.Manufacturer, t.Model, t.SlotID)
}

// Tokens lists every slot that holds a token, initialised or not.
func (m *Module) Tokens(ctx context.Context) ([]TokenInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slots, err := m.p11.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("module %s: C_GetSlotList: %w", m.lib.path, err)
	}
	out := make([]TokenInfo, 0, len(slots))
	for _, slot := range slots {
		ti, err := m.p11.GetTokenInfo(slot)
		if err != nil {
			out = append(out, TokenInfo{SlotID: slot, Err: fmt.Errorf("slot %d: C_GetTokenInfo: %w", slot, err)})
			continue
		}
		out = append(out, TokenInfo{
			SlotID:       slot,
			Label:        trim(ti.Label),
			Manufacturer: trim(ti.ManufacturerID),
			Model:        trim(ti.Model),
			Serial:       trim(ti.SerialNumber),
			Firmware:     fmt.Sprintf("%d.%d", ti.FirmwareVersion.Major, ti.FirmwareVersion.Minor),
			Flags:        ti.Flags,
		})
	}
	return out, nil
}

// TokenSelector picks a token. Label is required; Serial disambiguates two
// tokens that share a label.
type TokenSelector struct {
	Label  string
	Serial string
}

func (s TokenSelector) matches(t TokenInfo) bool {
	return t.Initialized() && t.Label == s.Label && (s.Serial == "" || t.Serial == s.Serial)
}

// FindToken returns the one initialised token the selector names. No match and
// several matches are both errors that list the tokens present.
func (m *Module) FindToken(ctx context.Context, sel TokenSelector) (TokenInfo, error) {
	if sel.Label == "" {
		return TokenInfo{}, fmt.Errorf("no token label given: name the token with its label (hsm.token in the config, --token on the command line)")
	}
	all, err := m.Tokens(ctx)
	if err != nil {
		return TokenInfo{}, err
	}
	var hits []TokenInfo
	for _, t := range all {
		if sel.matches(t) {
			hits = append(hits, t)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		if sel.Serial != "" {
			return TokenInfo{}, fmt.Errorf("%w: no token labelled %q with serial %q in %s; tokens present: %s; check hsm.serial against them", ErrTokenNotFound, sel.Label, sel.Serial, m.lib.path, describe(all))
		}
		return TokenInfo{}, fmt.Errorf("%w: no token labelled %q in %s; tokens present: %s", ErrTokenNotFound, sel.Label, m.lib.path, describe(all))
	default:
		return TokenInfo{}, fmt.Errorf("%w: %d tokens are labelled %q: %s; select one by serial", ErrTokenAmbiguous, len(hits), sel.Label, describe(hits))
	}
}

func describe(ts []TokenInfo) string {
	var parts []string
	for _, t := range ts {
		switch {
		case t.Err != nil:
			parts = append(parts, "unreadable "+t.Err.Error())
		case t.Initialized():
			parts = append(parts, t.String())
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// InitToken initialises the first uninitialised token with label, SO PIN and
// user PIN (C_InitToken, C_InitPIN). It exists for rehearsals on scratch
// SoftHSM2 tokens, which always offer one free slot; never point it at a
// production HSM.
func (m *Module) InitToken(ctx context.Context, label string, soPIN, userPIN []byte) (TokenInfo, error) {
	m.lib.mu.Lock()
	defer m.lib.mu.Unlock()
	all, err := m.Tokens(ctx)
	if err != nil {
		return TokenInfo{}, err
	}
	for _, t := range all {
		if t.Initialized() && t.Label == label {
			return TokenInfo{}, fmt.Errorf("init token %q: %w: a token with that label exists", label, ErrLabelInUse)
		}
	}
	var free *TokenInfo
	for i := range all {
		if all[i].Err == nil && !all[i].Initialized() {
			free = &all[i]
			break
		}
	}
	if free == nil {
		return TokenInfo{}, fmt.Errorf("init token %q: no uninitialised token in %s", label, m.lib.path)
	}
	c := m.p11
	if err := c.InitToken(free.SlotID, string(soPIN), label); err != nil {
		return TokenInfo{}, fmt.Errorf("init token %q: C_InitToken: %w", label, err)
	}
	sh, err := c.OpenSession(free.SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("init token %q: C_OpenSession: %w", label, err)
	}
	defer c.CloseSession(sh)
	if err := c.Login(sh, pkcs11.CKU_SO, string(soPIN)); err != nil {
		return TokenInfo{}, fmt.Errorf("init token %q: SO login: %w", label, err)
	}
	defer c.Logout(sh)
	if err := c.InitPIN(sh, string(userPIN)); err != nil {
		return TokenInfo{}, fmt.Errorf("init token %q: C_InitPIN: %w", label, err)
	}
	// SoftHSM2 moves the new token to a new slot ID; find it again by label.
	return m.FindToken(ctx, TokenSelector{Label: label})
}

func trim(s string) string { return strings.TrimRight(strings.TrimSpace(s), "\x00") }

// CheckReady reports, in one error per problem, what would stop a ceremony
// on this token before anything is made: a write-protected token, a user PIN
// that is not set, locked or must be changed first, and missing mechanisms
// (key generation in the needed size, signing) for each key type.
func (s *Session) CheckReady(ctx context.Context, types ...keyspec.Type) []error {
	if err := ctx.Err(); err != nil {
		return []error{err}
	}
	t := s.token
	var problems []error
	add := func(format string, a ...any) {
		problems = append(problems, fmt.Errorf("token %q: "+format, append([]any{t.Label}, a...)...))
	}
	if t.Flags&pkcs11.CKF_WRITE_PROTECTED != 0 {
		add("it is write-protected; keys cannot be stored on it")
	}
	if t.Flags&pkcs11.CKF_USER_PIN_INITIALIZED == 0 {
		add("no user PIN is set; the security officer must initialise it (C_InitPIN)")
	}
	if t.Flags&pkcs11.CKF_USER_PIN_TO_BE_CHANGED != 0 {
		add("the user PIN must be changed before use")
	}
	seen := map[keyspec.Type]bool{}
	for _, kt := range types {
		if !seen[kt] {
			seen[kt] = true
			problems = append(problems, s.supports(kt)...)
		}
	}
	return problems
}

// supports says, one error per problem, why the token cannot make and sign
// with a key of type kt: a mechanism it does not list, or a key size outside
// what C_GetMechanismInfo reports (tpm2-pkcs11 makes RSA keys of 1024 to
// 3072 bits only). Each error names the token and the way out.
func (s *Session) supports(kt keyspec.Type) []error {
	label := s.token.Label
	gen, sign := uint(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN), uint(pkcs11.CKM_SHA256_RSA_PKCS)
	if kt.IsEC() {
		gen, sign = pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKM_ECDSA
	}
	var problems []error
	for _, m := range []uint{gen, sign} {
		ok, err := s.offers(m)
		if err != nil {
			return append(problems, fmt.Errorf("token %q: %w", label, err))
		}
		if !ok && m == pkcs11.CKM_SHA256_RSA_PKCS {
			// Without hash-and-sign, the raw mechanism signs a DigestInfo.
			m = pkcs11.CKM_RSA_PKCS
			if ok, err = s.offers(m); err != nil {
				return append(problems, fmt.Errorf("token %q: %w", label, err))
			}
		}
		if !ok {
			problems = append(problems, fmt.Errorf("token %q lacks %s, needed for %s keys: choose another key type or another token (%w)", label, mechName(m), kt, ErrMechanism))
			continue
		}
		if err := s.checkSize(kt, m); err != nil {
			return append(problems, err) // one size problem per type says it all
		}
	}
	return problems
}

// checkSize compares kt's size with the range C_GetMechanismInfo gives for m.
// RSA sizes are bits (PKCS#11 2.40 §2.1); EC sizes are bits on most tokens
// and bytes on a few, so an EC key passes if either reading fits.
func (s *Session) checkSize(kt keyspec.Type, m uint) error {
	s.mu.Lock()
	info, err := s.c().GetMechanismInfo(s.token.SlotID, []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)})
	s.mu.Unlock()
	if err != nil {
		if failing(err) {
			return fmt.Errorf("token %q: C_GetMechanismInfo(%s): %w", s.token.Label, mechName(m), s.lost(err))
		}
		return nil // the list says it is there; some tokens do not describe it
	}
	bits := uint(kt.Bits())
	fits := func(b uint) bool {
		return (info.MaxKeySize == 0 || b <= info.MaxKeySize) && (info.MinKeySize == 0 || b >= info.MinKeySize)
	}
	if fits(bits) || (kt.IsEC() && fits(bits/8)) {
		return nil
	}
	if !kt.IsEC() {
		var fit []string
		for _, t := range keyspec.All() {
			if !t.IsEC() && fits(uint(t.Bits())) {
				fit = append(fit, string(t))
			}
		}
		return fmt.Errorf("token %q makes RSA keys of %d to %d bits only (%s), not %s: choose %s, or another token (%w)",
			s.token.Label, info.MinKeySize, info.MaxKeySize, mechName(m), kt, orNone(fit), ErrMechanism)
	}
	return fmt.Errorf("token %q allows keys of %d to %d for %s, not %s (%d bits): choose another key type or another token (%w)",
		s.token.Label, info.MinKeySize, info.MaxKeySize, mechName(m), kt, bits, ErrMechanism)
}

func orNone(types []string) string {
	if len(types) == 0 {
		return "an EC key type"
	}
	return strings.Join(types, " or ")
}

// mechName spells the mechanisms this package asks about.
func mechName(m uint) string {
	if n, ok := map[uint]string{
		pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN: "CKM_RSA_PKCS_KEY_PAIR_GEN",
		pkcs11.CKM_RSA_PKCS:              "CKM_RSA_PKCS",
		pkcs11.CKM_SHA256_RSA_PKCS:       "CKM_SHA256_RSA_PKCS",
		pkcs11.CKM_RSA_PKCS_PSS:          "CKM_RSA_PKCS_PSS",
		pkcs11.CKM_EC_KEY_PAIR_GEN:       "CKM_EC_KEY_PAIR_GEN",
		pkcs11.CKM_ECDSA:                 "CKM_ECDSA",
	}[m]; ok {
		return n
	}
	return fmt.Sprintf("mechanism 0x%x", m)
}
