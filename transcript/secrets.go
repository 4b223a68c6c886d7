package transcript

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ceremony-dev/ceremony/secret"
)

// checkInputs refuses Inputs that look like they carry a secret.
//
// The transcript is published to auditors and kept for years; a PIN or
// passphrase in it cannot be taken back, and even a hash of one is
// brute-forced instantly. Callers are meant to record only where a secret
// comes from ("env:NAME", "file:PATH", "prompt"), so any value under a key
// naming a secret (pin, passphrase, password, secret; any case, anywhere in
// the key, at any depth) must be such a spelling, empty, a bool or null.
// Matching substrings is deliberately coarse: a false alarm is an error the
// developer fixes by renaming a key, a miss is a leaked PIN. Inputs are
// checked in their JSON form, so struct fields are seen by their JSON names.
// Errors name the key, never the value.
func checkInputs(in map[string]any) error {
	if len(in) == 0 {
		return nil
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("inputs: %w", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("inputs: %w", err)
	}
	return walkSecrets("inputs", v, false)
}

func walkSecrets(path string, v any, secret bool) error {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := walkSecrets(path+"."+k, v[k], secret || secretKey(k)); err != nil {
				return err
			}
		}
	case []any:
		for i, c := range v {
			if err := walkSecrets(fmt.Sprintf("%s[%d]", path, i), c, secret); err != nil {
				return err
			}
		}
	case string:
		if secret && !sourceSpelling(v) {
			return fmt.Errorf("%s looks like a secret: record where it comes from (env:NAME, file:PATH or prompt), never its value", path)
		}
	case float64:
		if secret {
			return fmt.Errorf("%s looks like a secret and holds a number: record where it comes from (env:NAME, file:PATH or prompt)", path)
		}
	}
	return nil
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"pin", "passphrase", "password", "secret"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// sourceSpelling reports whether s is a secret source (env:NAME, file:PATH,
// prompt, or empty for prompt), not a secret.
func sourceSpelling(s string) bool {
	_, err := secret.Parse(s)
	return err == nil
}
